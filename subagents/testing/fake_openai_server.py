"""A fake OpenAI-compatible Chat Completions server on loopback, for tests and benchmarks.

It speaks the wire format the `openai` SDK parses (what Ollama, vLLM, llama.cpp's
server, LM Studio and LiteLLM serve), so the real `OpenAICompatibleModel` is driven at
it through `base_url`. It can:

- answer with tool calls, JSON-schema structured output (`response_format`), or text,
  and refuse tools or `response_format` like a server without them (HTTP 400), so the
  client's fallbacks are exercised (`supports_tools`, `supports_json_schema`);
- enforce requests / tokens per window with token buckets, answering 429 +
  `retry-after` and sending `x-ratelimit-*` headers (reset as a duration) every time;
- inject faults at random (seeded) or in order: 429, 500, 503, slow, hung (bounded by
  `hang_s`) responses, malformed JSON in tool arguments or structured content, and
  answers missing a required field (`FAULTS`);
- refuse a request longer than `context_window` (prompt + max_tokens) with the
  OpenAI error body, code `context_length_exceeded`;
- report usage, with `cached_tokens` for a repeated prefix of 1,024 tokens or more;
- answer 401 for a wrong key and 429 `insufficient_quota` when told to;
- list its models (`GET /v1/models`).

The answers come from a `responder(body) -> assistant message dict` (`content`,
`tool_calls`), or from a Messages-shaped responder wrapped by `blocks_responder`, so
the same scripted "model" can drive both fake servers. It listens on 127.0.0.1 only,
stops by itself after `max_lifetime_s`, and records every call (`records`, with usage
in the Messages shape) and the usage it reported (`usage_total`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from subagents.models.openai_wire import (
    ABSTAIN,
    ENVELOPE_ARGS,
    ENVELOPE_TOOL,
    anthropic_view,
)
from subagents.testing.fake_server import CallRecord, TokenBucket, count_tokens, damage

OpenAIResponder = Callable[[dict[str, Any]], dict[str, Any]]
BlocksResponder = Callable[[dict[str, Any]], list[dict[str, Any]]]
FAULTS = ("429", "500", "503", "slow", "hang", "malformed_json", "missing_fields")


@dataclass
class OpenAIFaultPlan:
    """Probabilities per request (seeded); the rates add up to at most 1."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_slow: float = 0.0
    rate_hang: float = 0.0
    rate_malformed_json: float = 0.0
    rate_missing_fields: float = 0.0
    retry_after_s: int = 1
    seed: int = 0

    def pick(self, rng: random.Random) -> str | None:
        x = rng.random()
        rates = (
            self.rate_429,
            self.rate_500,
            self.rate_503,
            self.rate_slow,
            self.rate_hang,
            self.rate_malformed_json,
            self.rate_missing_fields,
        )
        for name, rate in zip(FAULTS, rates, strict=True):
            if x < rate:
                return name
            x -= rate
        return None


@dataclass
class FakeOpenAIConfig:
    requests_per_window: int | None = None
    tokens_per_window: int | None = None
    window_s: float = 60.0
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    slow_s: float = 2.0
    hang_s: float = 30.0
    faults: OpenAIFaultPlan = field(default_factory=OpenAIFaultPlan)
    api_key: str | None = None  # when set, any other key gets 401
    quota_exhausted: bool = False
    context_window: int | None = None  # prompt + max_tokens above this: 400
    supports_tools: bool = True
    supports_json_schema: bool = True
    models: list[str] | None = None  # served models (GET /v1/models); None: any
    max_lifetime_s: float = 900.0
    seed: int = 0


def default_responder(body: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "fake response"}


def _error(
    message: str, etype: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}m{secs:.3f}s" if minutes else f"{secs:.3f}s"


def blocks_responder(fn: BlocksResponder) -> OpenAIResponder:
    """Drive the OpenAI fake with a Messages-shaped responder (the one the Anthropic fake
    takes): the request is shown in the Messages shape (`anthropic_view`), and the
    returned blocks are sent as the request asks: tool calls, JSON content for
    `response_format`, or the JSON envelope of the text fallback."""

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        blocks = fn(anthropic_view(body))
        text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        uses = [b for b in blocks if b.get("type") == "tool_use"]
        if not uses:
            return {"role": "assistant", "content": text}
        if body.get("tools"):
            return {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": u.get("id") or f"call_{uuid.uuid4().hex[:12]}",
                        "type": "function",
                        "function": {"name": u["name"], "arguments": json.dumps(u["input"])},
                    }
                    for u in uses
                ],
            }
        u = uses[0]
        if body.get("response_format", {}).get("type") == "json_schema":
            value = {ABSTAIN: u["input"].get("reason", "")} if u["name"] == ABSTAIN else u["input"]
            return {"role": "assistant", "content": json.dumps(value)}
        return {
            "role": "assistant",
            "content": json.dumps({ENVELOPE_TOOL: u["name"], ENVELOPE_ARGS: u["input"]}),
        }

    return respond


class FakeOpenAIServer:
    """See the module docstring. Use as `async with FakeOpenAIServer(...) as server:`."""

    def __init__(
        self,
        config: FakeOpenAIConfig | None = None,
        responder: OpenAIResponder | None = None,
    ) -> None:
        self.config = config or FakeOpenAIConfig()
        self.responder = responder or default_responder
        self.records: list[CallRecord] = []
        self.usage_total: Counter[str] = Counter()
        self.forced_faults: deque[str] = deque()
        self.requests_seen: list[dict[str, Any]] = []
        self.max_prompt_tokens = 0
        self._rng = random.Random(self.config.seed)
        self._fault_rng = random.Random(self.config.faults.seed)
        self._prefixes: set[str] = set()
        c = self.config
        self._buckets: dict[str, TokenBucket] = {}
        for name, cap in (("requests", c.requests_per_window), ("tokens", c.tokens_per_window)):
            if cap:
                self._buckets[name] = TokenBucket(cap, c.window_s)
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeOpenAIServer:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._watchdog = asyncio.create_task(self._stop_after(self.config.max_lifetime_s))
        return self

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.stop()

    async def stop(self) -> None:
        self._stopped.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def inject(self, *faults: str) -> None:
        """Force these faults on the next requests, in order (before random ones)."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; choose from {FAULTS}")
            self.forced_faults.append(f)

    def status_counts(self) -> Counter[int]:
        return Counter(r.status for r in self.records)

    # -- helpers -----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:16]}"}
        for name, b in self._buckets.items():
            b.refill()
            headers[f"x-ratelimit-limit-{name}"] = str(int(b.capacity))
            headers[f"x-ratelimit-remaining-{name}"] = str(max(0, math.floor(b.level)))
            headers[f"x-ratelimit-reset-{name}"] = _duration((b.capacity - b.level) / b.rate)
        return headers

    def _prompt_usage(self, body: dict[str, Any]) -> tuple[int, int]:
        """(prompt tokens, cached tokens): the longest repeated prefix of whole messages
        of at least 1,024 tokens counts as cached, as with automatic prefix caching."""
        parts = [body.get("tools"), body.get("response_format"), *body.get("messages", [])]
        total, cached, key = 0, 0, body.get("model", "")
        for part in parts:
            total += count_tokens(part) if part is not None else 0
            key = str(hash((key, json.dumps(part, sort_keys=True))))
            if key in self._prefixes and total >= 1024:
                cached = total
            self._prefixes.add(key)
        return max(1, total), cached

    def _apply_fault(self, message: dict[str, Any], fault: str | None) -> dict[str, Any]:
        if fault not in ("malformed_json", "missing_fields"):
            return message
        message = json.loads(json.dumps(message))
        calls = message.get("tool_calls") or []
        if calls:
            fn = calls[0]["function"]
            if fault == "malformed_json":
                fn["arguments"] = fn["arguments"][: max(1, len(fn["arguments"]) // 2)]
            else:
                fn["arguments"] = json.dumps(damage(json.loads(fn["arguments"])))
        elif isinstance(message.get("content"), str) and message["content"]:
            text = message["content"]
            if fault == "malformed_json":
                message["content"] = text[: max(1, len(text) // 2)]
            else:
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(text)
                    if isinstance(value, dict) and ENVELOPE_ARGS in value:
                        value[ENVELOPE_ARGS] = damage(value[ENVELOPE_ARGS])
                    else:
                        value = damage(value)
                    message["content"] = json.dumps(value)
        return message

    # -- handlers ------------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        ids = self.config.models or ["fake-model"]
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in ids
                ],
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.json()
        model = str(body.get("model", ""))
        self.requests_seen.append(body)

        def reply(
            status: int,
            payload: dict[str, Any],
            headers: dict[str, str],
            fault: str | None,
            usage: dict[str, int] | None = None,
        ) -> web.Response:
            self.records.append(CallRecord(status, fault, usage, model, arrived))
            return web.json_response(payload, status=status, headers=headers)

        c = self.config
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if c.api_key is not None and key != c.api_key:
            return reply(
                401,
                _error("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
                {},
                None,
            )
        if c.quota_exhausted:
            return reply(
                429,
                _error(
                    "You exceeded your current quota", "insufficient_quota", "insufficient_quota"
                ),
                {},
                None,
            )
        if c.models is not None and model not in c.models:
            return reply(
                404,
                _error(f"model '{model}' not found", "invalid_request_error", "model_not_found"),
                {},
                None,
            )
        if body.get("tools") and not c.supports_tools:
            return reply(
                400, _error(f"{model} does not support tools", "invalid_request_error"), {}, None
            )
        rf = body.get("response_format") or {}
        if rf.get("type") == "json_schema" and not c.supports_json_schema:
            return reply(
                400,
                _error("response_format json_schema is not supported", "invalid_request_error"),
                {},
                None,
            )
        prompt, cached = self._prompt_usage(body)
        self.max_prompt_tokens = max(self.max_prompt_tokens, prompt)
        asked = int(body.get("max_completion_tokens") or body.get("max_tokens") or 0)
        if c.context_window is not None and prompt + asked > c.context_window:
            return reply(
                400,
                _error(
                    f"This model's maximum context length is {c.context_window} tokens. However, "
                    f"you requested {prompt + asked} tokens ({prompt} in the messages, {asked} in "
                    "the completion). Please reduce the length of the messages or completion.",
                    "invalid_request_error",
                    "context_length_exceeded",
                    "messages",
                ),
                {},
                None,
            )
        costs = {"requests": 1.0, "tokens": float(prompt)}
        wait = 0.0
        for name, b in self._buckets.items():
            b.refill()
            if b.level < min(costs[name], b.capacity):
                wait = max(wait, b.seconds_until(costs[name]))
        if wait > 0:
            headers = self._headers()
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            return reply(
                429,
                _error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                headers,
                None,
            )
        for name, b in self._buckets.items():
            b.level -= costs[name]
        headers = self._headers()
        fault = self.forced_faults.popleft() if self.forced_faults else None
        if fault is None:
            fault = c.faults.pick(self._fault_rng)
        delay = max(0.0, c.latency_s + self._rng.uniform(-c.latency_jitter_s, c.latency_jitter_s))
        if fault == "429":
            headers["retry-after"] = str(c.faults.retry_after_s)
            return reply(
                429, _error("injected 429", "requests", "rate_limit_exceeded"), headers, fault
            )
        if fault in ("500", "503"):
            await asyncio.sleep(delay / 4)
            return reply(
                int(fault), _error("The server had an error", "server_error"), headers, fault
            )
        if fault == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=c.hang_s)
            return reply(500, _error("hung request gave up", "server_error"), headers, fault)
        if fault == "slow":
            delay += c.slow_s
        await asyncio.sleep(delay)
        message = self._apply_fault(self.responder(body), fault)
        out_tokens = count_tokens([message.get("content"), message.get("tool_calls")])
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": out_tokens,
            "total_tokens": prompt + out_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        internal = {
            "input_tokens": prompt - cached,
            "output_tokens": out_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
        }
        self.usage_total.update(internal)
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", **message},
                    "finish_reason": finish,
                }
            ],
            "usage": usage,
        }
        return reply(200, payload, headers, fault, internal)


@contextmanager
def fake_openai_server_in_thread(
    config: FakeOpenAIConfig | None = None, responder: OpenAIResponder | None = None
) -> Iterator[FakeOpenAIServer]:
    """Run a FakeOpenAIServer on its own event-loop thread, for sync code and notebooks."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="fake-openai")
    thread.start()
    server = FakeOpenAIServer(config, responder)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
