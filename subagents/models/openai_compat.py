"""`OpenAICompatibleModel`: any server speaking OpenAI Chat Completions, behind `Model`.

Ollama, vLLM, llama.cpp's server, LM Studio, LiteLLM and OpenAI itself serve
`POST {base_url}/chat/completions`. The client uses the official `openai` SDK
(`AsyncOpenAI`, `max_retries=0`: retries are ours) and keeps the contract of
`AnthropicModel`:

- requests and responses are the internal Messages-API shape; `openai_wire` converts.
  Tools go out as function calls; a request whose only tools are `final_output` /
  `abstain` asks for JSON-schema structured output (`response_format`); a server that
  refuses either (HTTP 400/422 naming tools or response_format) is remembered and the
  request is resent in the validated-JSON fallback (`structured_output` / `tool_calls`
  settings force a mode). `max_tokens` becomes `max_completion_tokens` for servers that
  ask for it;
- the model id comes from `request.model`, else `tiers[request.tier]`;
- cost per call from the `PriceTable`, exactly (Decimal). A model the table does not
  know is free when the endpoint is local (loopback or a private network address) and
  refused before any request otherwise: price it (0 is a valid price) to use it;
- usage: `prompt_tokens` (less `cached_tokens`, reported as cache reads) and
  `completion_tokens`; a server that reports no usage is charged our estimate;
- retries follow `subagents.models.retrying` (the Anthropic client's rules); a 429 with
  code `insufficient_quota` and a context-length refusal are not retried;
- pacing: `x-ratelimit-*-requests/-tokens` headers (reset as a duration, e.g. `6m0s`)
  feed the same `AdaptiveLimiter`;
- the request guard checks every outgoing HTTP request; a `ContextBudget` (optional)
  refuses a request that cannot fit before it is sent.

Limits: no streaming; the prompt cache is the server's own (nothing to mark);
images and audio are not sent.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

import openai

from subagents.errors import (
    ContextWindowExceededError,
    ModelCallError,
    NonRetryableModelError,
    SubagentsUserError,
    UnknownModelPriceError,
)
from subagents.models.context import ContextBudget, estimate_tokens
from subagents.models.guard import check_request_allowed, is_loopback
from subagents.models.messages import ModelRequest, ModelResponse, Tier, Usage
from subagents.models.openai_wire import Mode, from_chat_message, real_tools, to_chat_body
from subagents.models.pricing import ModelPrice, PriceTable
from subagents.models.ratelimit import AdaptiveLimiter
from subagents.models.retrying import (
    Backoff,
    ModelStats,
    blocked_cause,
    context_error,
    estimate_body_tokens,
    guard_hook,
    retry_after_seconds,
    status_retryable,
)

StructuredOutput = Literal["auto", "json_schema", "json"]
ToolCalls = Literal["auto", "native", "json"]
NON_RETRYABLE_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
FREE = ModelPrice(Decimal(0), Decimal(0), Decimal(0), Decimal(0))
_UNSUPPORTED_TOOLS = re.compile(
    r"does not support tools|tools? (?:is |are )?not supported|tool[_ ]choice|"
    r"enable-auto-tool-choice|tool-call-parser|requires --jinja|function calling",
    re.IGNORECASE,
)
_UNSUPPORTED_SCHEMA = re.compile(
    r"response_format|json_schema|structured output|guided_json|grammar", re.IGNORECASE
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def is_local_endpoint(url: str) -> bool:
    """Loopback or a private network address: a model served in the building."""
    if is_loopback(url):
        return True
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return host.endswith(".local") or host == "host.docker.internal"


def parse_duration(value: str | None) -> float | None:
    """Seconds of an OpenAI reset duration (`1s`, `6m0s`, `20ms`, `1h2m3.5s`)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def limiter_headers(headers: Mapping[str, str], now_wall: float) -> dict[str, str]:
    """`x-ratelimit-*` in the limiter's vocabulary (requests; tokens as input tokens)."""
    out: dict[str, str] = {}
    for theirs, ours in (("requests", "requests"), ("tokens", "input-tokens")):
        limit = headers.get(f"x-ratelimit-limit-{theirs}")
        remaining = headers.get(f"x-ratelimit-remaining-{theirs}")
        if limit is None or remaining is None:
            continue
        out[f"anthropic-ratelimit-{ours}-limit"] = limit
        out[f"anthropic-ratelimit-{ours}-remaining"] = remaining
        seconds = parse_duration(headers.get(f"x-ratelimit-reset-{theirs}"))
        if seconds is not None:
            when = datetime.fromtimestamp(now_wall, UTC) + timedelta(seconds=seconds)
            out[f"anthropic-ratelimit-{ours}-reset"] = when.isoformat().replace("+00:00", "Z")
    return out


@dataclass
class _Features:
    tools: bool | None = None  # None: not known yet
    json_schema: bool | None = None
    max_tokens_field: str = "max_tokens"


class OpenAICompatibleModel:
    """Chat Completions client for fan-out; see the module docstring for the contract."""

    def __init__(
        self,
        *,
        base_url: str,
        tiers: Mapping[Tier, str],
        api_key: str | None = None,
        prices: PriceTable | None = None,
        local: bool | None = None,
        limiter: AdaptiveLimiter | None = None,
        max_attempts: int = 8,
        timeout_s: float = 600.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        structured_output: StructuredOutput = "auto",
        tool_calls: ToolCalls = "auto",
        context: ContextBudget | None = None,
        client: openai.AsyncOpenAI | None = None,
        seed: int | None = None,
        name: str = "openai-compatible",
    ) -> None:
        missing = [t for t in ("lead", "worker", "fast") if not tiers.get(t)]
        if missing:
            raise SubagentsUserError(
                f"an OpenAI-compatible endpoint needs a model id for every tier; missing: "
                f"{missing}. Set [models] lead/worker/fast to models the server serves."
            )
        self.name = name
        self.base_url = base_url
        self.tiers: dict[Tier, str] = dict(tiers)
        self.prices = prices or PriceTable({})
        self.local = is_local_endpoint(base_url) if local is None else local
        self.limiter = limiter or AdaptiveLimiter()
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.structured_output: StructuredOutput = structured_output
        self.tool_calls: ToolCalls = tool_calls
        self.context = context
        self.stats = ModelStats()
        self._backoff = Backoff(backoff_base_s, backoff_max_s, seed)
        self._features: dict[str, _Features] = {}
        for tier_model in self.tiers.values():
            self.price(tier_model)  # fail now, not after paying for a call
        if client is None:
            limits_type: Any = type(openai.DEFAULT_CONNECTION_LIMITS)
            http = openai.DefaultAsyncHttpxClient(
                event_hooks={"request": [guard_hook]},
                limits=limits_type(
                    max_connections=self.limiter.max_concurrency + 8,
                    max_keepalive_connections=self.limiter.max_concurrency + 8,
                ),
            )
            # local servers take no key; the SDK wants a non-empty one
            client = openai.AsyncOpenAI(
                api_key=api_key or "no-key",
                base_url=base_url,
                max_retries=0,
                timeout=timeout_s,
                http_client=http,
            )
        self.client = client

    # -- identity, prices, modes ------------------------------------------------------------
    def model_id(self, request: ModelRequest) -> str:
        return request.model or self.tiers[request.tier]

    def price(self, model: str) -> ModelPrice:
        try:
            return self.prices.price(model)
        except UnknownModelPriceError:
            if self.local:
                return FREE
            raise UnknownModelPriceError(
                f"no price for model {model!r} at {self.base_url}, which is not a local "
                "endpoint: a hosted model must be priced before it is called. Add it under "
                f'[models.prices] ("{model}" = {{ input = ..., output = ... }}, USD per '
                "million tokens; 0 is a valid price)."
            ) from None

    def mode_for(self, request: ModelRequest) -> Mode:
        """How this request goes out, given what the server has shown it supports."""
        if not request.tools:
            return "text"
        f = self._features.setdefault(self.model_id(request), _Features())
        if real_tools(request):
            if self.tool_calls == "json" or f.tools is False:
                return "json"
            return "tools"
        if self.structured_output == "json":
            return "json"
        if self.structured_output == "json_schema" or f.json_schema is not False:
            return "json_schema"
        if self.tool_calls != "json" and f.tools is not False:
            return "tools"
        return "json"

    def _downgrade(self, model: str, mode: Mode, err: openai.APIStatusError) -> bool:
        """Remember a refused feature; True when the request should be resent at once."""
        if err.status_code not in (400, 404, 415, 422, 500, 501):
            return False
        text = f"{err.message} {json.dumps(err.body, default=str) if err.body else ''}"
        f = self._features.setdefault(model, _Features())
        if "max_completion_tokens" in text and f.max_tokens_field == "max_tokens":
            f.max_tokens_field = "max_completion_tokens"
            return True
        if mode == "tools" and self.tool_calls == "auto" and _UNSUPPORTED_TOOLS.search(text):
            f.tools = False
            return True
        if (
            mode == "json_schema"
            and self.structured_output == "auto"
            and _UNSUPPORTED_SCHEMA.search(text)
        ):
            f.json_schema = False
            return True
        return False

    # -- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> OpenAICompatibleModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.close()

    async def list_models(self) -> list[str]:
        """Model ids the server serves (`GET /models`), for `workbench doctor`."""
        check_request_allowed(self.base_url)
        page = await self.client.models.list()
        return [m.id for m in page.data]

    # -- the call -----------------------------------------------------------------------------
    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_request_allowed(self.base_url)
        model = self.model_id(request)
        self.price(model)  # a model we cannot cost is refused before spending
        if self.context is not None:
            self.context.check(request, what=f"a request to {self.name}")
        self.stats.calls += 1
        started: float | None = None
        attempt = 0
        while True:
            attempt += 1
            self.stats.attempts += 1
            mode = self.mode_for(request)
            f = self._features.setdefault(model, _Features())
            body = to_chat_body(request, model, mode, max_tokens_field=f.max_tokens_field)
            estimate_in = estimate_body_tokens(body, ("messages", "tools", "response_format"))
            ticket = await self.limiter.acquire(
                input_tokens=estimate_in,
                output_tokens=min(request.max_tokens, 1024),
                priority=attempt > 1,
            )
            sent, sent_wall = time.monotonic(), time.time()
            started = sent if started is None else started
            try:
                raw = await self.client.chat.completions.with_raw_response.create(**body)
                parsed = raw.parse()
                completion = await parsed if inspect.isawaitable(parsed) else parsed
            except openai.APIStatusError as err:
                headers = err.response.headers
                retry_after = retry_after_seconds(headers)
                self.limiter.release(
                    ticket,
                    # the server measured its reset durations when it admitted the request
                    headers=limiter_headers(headers, sent_wall),
                    rate_limited=err.status_code == 429,
                    overloaded=err.status_code >= 500,
                    retry_after=retry_after,
                )
                if self._downgrade(model, mode, err) and attempt < self.max_attempts:
                    self.stats.retries_by_reason[f"unsupported:{mode}"] += 1
                    continue
                self._raise_if_final(err, model, attempt)
                self.stats.retries_by_reason[str(err.status_code)] += 1
                await asyncio.sleep(self._backoff.delay(attempt, retry_after))
                continue
            except openai.APIConnectionError as err:
                self.limiter.release(ticket)
                blocked = blocked_cause(err)
                if blocked is not None:
                    raise blocked from None
                reason = "timeout" if isinstance(err, openai.APITimeoutError) else "connection"
                if attempt >= self.max_attempts:
                    self.stats.failed += 1
                    raise ModelCallError(
                        f"{model}: gave up after {attempt} attempts; last error: {reason} "
                        f"({self.base_url})",
                        attempts=attempt,
                    ) from err
                self.stats.retries_by_reason[reason] += 1
                await asyncio.sleep(self._backoff.delay(attempt, None))
                continue
            except BaseException:
                self.limiter.release(ticket)
                raise
            self.limiter.release(
                ticket,
                headers=limiter_headers(raw.headers, sent_wall),
                latency=time.monotonic() - sent,
            )
            response = self._convert(completion, raw.headers, request, model, mode, attempt)
            response.latency_s = time.monotonic() - started
            self.stats.succeeded += 1
            self.stats.usage = self.stats.usage + response.usage
            self.stats.cost_usd = self.stats.cost_usd + response.cost_usd
            self.stats.latencies.append(response.latency_s)
            return response

    def _raise_if_final(self, err: openai.APIStatusError, model: str, attempt: int) -> None:
        code = err.code if isinstance(err.code, str) else None
        too_long, window = context_error(err.status_code, str(err.message), code)
        kw: dict[str, Any] = {
            "status": err.status_code,
            "error_type": err.type if isinstance(err.type, str) else None,
            "error_code": code,
            "attempts": attempt,
        }
        if too_long:
            self.stats.failed += 1
            raise ContextWindowExceededError(
                f"{model}: the server refused the request as too long for the context "
                f"window: {err.message}",
                server_window=window,
                **kw,
            ) from err
        if code in NON_RETRYABLE_CODES or not status_retryable(
            err.status_code, err.response.headers
        ):
            self.stats.failed += 1
            raise NonRetryableModelError(
                f"{model}: HTTP {err.status_code} {code or ''}: {err.message}", **kw
            ) from err
        if attempt >= self.max_attempts:
            self.stats.failed += 1
            raise ModelCallError(
                f"{model}: gave up after {attempt} attempts; last HTTP {err.status_code}", **kw
            ) from err

    def _convert(
        self,
        completion: Any,
        headers: Mapping[str, str],
        request: ModelRequest,
        model: str,
        mode: Mode,
        attempts: int,
    ) -> ModelResponse:
        data = completion.model_dump() if hasattr(completion, "model_dump") else dict(completion)
        choices = data.get("choices") or [{}]
        choice = choices[0] or {}
        content, stop = from_chat_message(
            choice.get("message") or {},
            choice.get("finish_reason"),
            mode,
            seed=str(data.get("id") or ""),
        )
        u = data.get("usage") or {}
        if u.get("prompt_tokens") is None:  # a server that reports no usage: our estimate
            prompt = estimate_tokens(to_chat_body(request, model, mode)["messages"])
            completion_tokens = estimate_tokens([b.model_dump() for b in content])
            cached = 0
        else:
            prompt = int(u.get("prompt_tokens") or 0)
            completion_tokens = int(u.get("completion_tokens") or 0)
            details = u.get("prompt_tokens_details") or {}
            cached = int(details.get("cached_tokens") or 0)
        usage = Usage(
            input_tokens=max(0, prompt - cached),
            output_tokens=completion_tokens,
            cache_read_input_tokens=cached,
        )
        return ModelResponse(
            id=str(data.get("id") or f"chatcmpl-{time.monotonic_ns()}"),
            model=str(data.get("model") or model),
            content=content,
            stop_reason=stop,
            usage=usage,
            cost_usd=self.price(model).cost(usage),
            attempts=attempts,
            request_id=headers.get("x-request-id"),
        )
