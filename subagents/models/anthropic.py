"""`AnthropicModel`: the Messages API through `AsyncAnthropic`, built for fan-out.

Contract:
- one `complete(request)` per call; tool use, `cache_control` breakpoints on tools, system
  and the shared first user message (see `ModelRequest.to_api`), usage including cache
  read/write tokens, and the call's cost from a `PriceTable` (Decimal USD, exact);
- the model id comes from `request.model`, else from `tiers[request.tier]`;
- retries are ours, not the SDK's (`max_retries=0`): the SDK would retry a 429 that
  means "spend limit reached". We honour `retry-after`, back off with jitter on 529/5xx
  and connection errors, and never retry authentication, permission, bad requests or
  `*_spend_limit_reached`. `x-should-retry: false` from the server is obeyed;
- every attempt goes through an `AdaptiveLimiter` fed by the `anthropic-ratelimit-*`
  headers, so thousands of concurrent callers stay under the limits;
- the request guard (`subagents.models.guard`) checks every outgoing HTTP request.

Limits: no streaming (calls that need >10 minutes of output must use batches), no
extended thinking blocks (ignored in responses).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Mapping
from typing import Any

import anthropic

from subagents.errors import (
    ContextWindowExceededError,
    ModelCallError,
    NonRetryableModelError,
    SubagentsUserError,
)
from subagents.models.context import ContextBudget
from subagents.models.guard import check_request_allowed
from subagents.models.messages import (
    INVALID_JSON_KEY,
    ModelRequest,
    ModelResponse,
    TextBlock,
    Tier,
    ToolUseBlock,
    Usage,
)
from subagents.models.pricing import DEFAULT_TIERS, PriceTable
from subagents.models.ratelimit import AdaptiveLimiter
from subagents.models.retrying import (
    RETRYABLE_STATUS,
    Backoff,
    ModelStats,
    blocked_cause,
    context_error,
    estimate_body_tokens,
    guard_hook,
    retry_after_seconds,
    status_retryable,
)

__all__ = ["RETRYABLE_STATUS", "AnthropicModel", "ModelStats", "retry_after_seconds"]

NON_RETRYABLE_CODES = frozenset(
    {
        "enforced_spend_limit_reached",
        "contract_spend_limit_reached",
        "linked_organization_spend_limit_reached",
    }
)


def _is_retryable(err: anthropic.APIStatusError) -> bool:
    if _error_code(err) in NON_RETRYABLE_CODES:
        return False
    return status_retryable(err.status_code, err.response.headers)


def _error_code(err: anthropic.APIStatusError) -> str | None:
    """`error.details.error_code` (older SDKs have no `error_code` attribute)."""
    code = getattr(err, "error_code", None)
    if isinstance(code, str):
        return code
    body = err.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("details"), dict):
            value = error["details"].get("error_code")
            return value if isinstance(value, str) else None
    return None


class AnthropicModel:
    """The Messages API client for fan-out; see the module docstring for the contract."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        tiers: Mapping[Tier, str] | None = None,
        prices: PriceTable | None = None,
        limiter: AdaptiveLimiter | None = None,
        max_attempts: int = 8,
        timeout_s: float = 600.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        client: anthropic.AsyncAnthropic | None = None,
        seed: int | None = None,
        name: str = "anthropic",
        context: ContextBudget | None = None,
    ) -> None:
        self.name = name
        self.tiers: dict[Tier, str] = {**DEFAULT_TIERS, **(tiers or {})}
        self.prices = prices or PriceTable()
        self.limiter = limiter or AdaptiveLimiter()
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        # the context windows of this client's models: a request that cannot fit is refused
        # before it is sent (ContextWindowError); callers split their work with it
        self.context = context
        for tier_model in self.tiers.values():
            self.prices.price(tier_model)  # fail now, not after paying for a call
        self.stats = ModelStats()
        self._backoff = Backoff(backoff_base_s, backoff_max_s, seed)
        if client is None:
            # The SDK's own HTTP library (httpx, or httpx2 in SDK 2.x) builds the limits.
            limits_type: Any = type(anthropic.DEFAULT_CONNECTION_LIMITS)
            http = anthropic.DefaultAsyncHttpxClient(
                event_hooks={"request": [guard_hook]},
                limits=limits_type(
                    max_connections=self.limiter.max_concurrency + 8,
                    max_keepalive_connections=self.limiter.max_concurrency + 8,
                ),
            )
            try:
                client = anthropic.AsyncAnthropic(
                    api_key=api_key,
                    base_url=base_url,
                    max_retries=0,
                    timeout=timeout_s,
                    http_client=http,
                )
            except anthropic.AnthropicError as err:  # no credentials anywhere
                raise SubagentsUserError(
                    f"cannot create the Anthropic client: {err}. Set ANTHROPIC_API_KEY or pass "
                    "api_key=...; without a key, use the offline engine."
                ) from err
        self.client = client

    def model_id(self, request: ModelRequest) -> str:
        return request.model or self.tiers[request.tier]

    async def __aenter__(self) -> AnthropicModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.close()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_request_allowed(str(self.client.base_url))
        model = self.model_id(request)
        self.prices.price(model)  # a model we cannot cost is refused before spending
        if self.context is not None:
            self.context.check(request, what=f"a request to {self.name}")
        body = request.to_api(model)
        estimate_in = estimate_body_tokens(body, ("system", "messages", "tools"))
        self.stats.calls += 1
        started: float | None = None  # first send, so queueing for a slot is not latency
        attempt = 0
        while True:
            attempt += 1
            self.stats.attempts += 1
            ticket = await self.limiter.acquire(
                input_tokens=estimate_in,
                output_tokens=min(request.max_tokens, 1024),
                priority=attempt > 1,
            )
            sent = time.monotonic()
            started = sent if started is None else started
            try:
                raw = await self.client.messages.with_raw_response.create(**body)
                parsed = raw.parse()
                message = await parsed if inspect.isawaitable(parsed) else parsed
            except anthropic.APIStatusError as err:
                headers = err.response.headers
                retry_after = retry_after_seconds(headers)
                self.limiter.release(
                    ticket,
                    headers=headers,
                    rate_limited=err.status_code == 429,
                    overloaded=err.status_code >= 500,
                    retry_after=retry_after,
                )
                reason = str(err.status_code)
                too_long, window = context_error(err.status_code, err.message, _error_code(err))
                if too_long:
                    self.stats.failed += 1
                    raise ContextWindowExceededError(
                        f"{model}: the server refused the request as too long for the "
                        f"context window: {err.message}",
                        server_window=window,
                        status=err.status_code,
                        error_type=getattr(err, "type", None),
                        attempts=attempt,
                    ) from err
                if not _is_retryable(err):
                    self.stats.failed += 1
                    raise NonRetryableModelError(
                        f"{model}: HTTP {err.status_code} {_error_code(err) or ''}: {err.message}",
                        status=err.status_code,
                        error_type=getattr(err, "type", None),
                        error_code=_error_code(err),
                        attempts=attempt,
                    ) from err
                if attempt >= self.max_attempts:
                    self.stats.failed += 1
                    raise ModelCallError(
                        f"{model}: gave up after {attempt} attempts; last HTTP {err.status_code}",
                        status=err.status_code,
                        error_type=getattr(err, "type", None),
                        attempts=attempt,
                    ) from err
                self.stats.retries_by_reason[reason] += 1
                await asyncio.sleep(self._delay(attempt, retry_after))
                continue
            except anthropic.APIConnectionError as err:
                self.limiter.release(ticket)
                blocked = blocked_cause(err)
                if blocked is not None:
                    raise blocked from None
                reason = "timeout" if isinstance(err, anthropic.APITimeoutError) else "connection"
                if attempt >= self.max_attempts:
                    self.stats.failed += 1
                    raise ModelCallError(
                        f"{model}: gave up after {attempt} attempts; last error: {reason}",
                        attempts=attempt,
                    ) from err
                self.stats.retries_by_reason[reason] += 1
                await asyncio.sleep(self._delay(attempt, None))
                continue
            except BaseException:
                self.limiter.release(ticket)
                raise
            self.limiter.release(ticket, headers=raw.headers, latency=time.monotonic() - sent)
            response = self._convert(message, raw.headers, model, attempt, started)
            self.stats.succeeded += 1
            self.stats.usage = self.stats.usage + response.usage
            self.stats.cost_usd = self.stats.cost_usd + response.cost_usd
            self.stats.latencies.append(response.latency_s)
            return response

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        return self._backoff.delay(attempt, retry_after)

    def _convert(
        self, message: Any, headers: Mapping[str, str], model: str, attempts: int, started: float
    ) -> ModelResponse:
        content: list[Any] = []
        for block in message.content:
            if block.type == "text":
                content.append(TextBlock(text=block.text))
            elif block.type == "tool_use":
                raw_input = (
                    block.input
                    if isinstance(block.input, dict)
                    else {INVALID_JSON_KEY: block.input}
                )
                content.append(ToolUseBlock(id=block.id, name=block.name, input=raw_input))
        u = message.usage
        usage = Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
            cache_read_input_tokens=u.cache_read_input_tokens or 0,
        )
        return ModelResponse(
            id=message.id,
            model=message.model or model,
            content=content,
            stop_reason=message.stop_reason,
            usage=usage,
            cost_usd=self.prices.cost(model, usage),
            latency_s=time.monotonic() - started,
            attempts=attempts,
            request_id=headers.get("request-id"),
        )
