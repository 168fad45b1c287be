"""A fake Anthropic Messages API on loopback, for tests and benchmarks.

It speaks the wire format the `anthropic` SDK parses (messages with text and tool_use
blocks, usage with cache read/write tokens, error bodies, Message Batches), so the real
`AnthropicModel` is driven at it through `base_url`. It can:

- enforce requests / input-tokens / output-tokens per window with token buckets that
  refill continuously, answering 429 + `retry-after` and sending the real
  `anthropic-ratelimit-*` headers on every response. `window_s` defaults to 60 (per
  minute); a benchmark may shorten it to scale time, keeping every ratio the same;
- inject faults at random (seeded) or in a scripted order: 429, 529, 500, slow, hung
  (bounded by `hang_s`) responses, tool_use blocks whose input breaks the schema, and
  tool_use input missing a required field (`missing_fields`, see `damage`);
- refuse a request longer than `context_window` (input + max_tokens) with the API's
  400 "prompt is too long", and remember the largest input it saw (`max_input_tokens`);
- simulate prompt caching: every `cache_control` breakpoint's prefix is remembered, and
  later requests report `cache_read_input_tokens` for it;
- answer 401 for a wrong key and 429 `enforced_spend_limit_reached` when told to.

It listens on 127.0.0.1 only, stops by itself after `max_lifetime_s`, and records every
call (`records`) and the usage it reported (`usage_total`) for exact cost checks.

It needs aiohttp, which is not a runtime dependency of the workbench: install the
`testing` (or `dev`) extra, `pip install "research-workbench[testing]"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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
from datetime import UTC, datetime, timedelta
from typing import Any

try:
    from aiohttp import web
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the fake Messages-API server needs aiohttp, which the workbench itself does not "
        'use: pip install "research-workbench[testing]"'
    ) from e

Responder = Callable[[dict[str, Any]], list[dict[str, Any]]]
FAULTS = ("429", "529", "500", "slow", "hang", "malformed_tool", "missing_fields")


@dataclass
class FaultPlan:
    """Probabilities per request (seeded); `rate_*` values add up to at most 1."""

    rate_429: float = 0.0
    rate_529: float = 0.0
    rate_500: float = 0.0
    rate_slow: float = 0.0
    rate_hang: float = 0.0
    rate_malformed_tool: float = 0.0
    rate_missing_fields: float = 0.0
    retry_after_s: int = 1
    seed: int = 0

    def pick(self, rng: random.Random) -> str | None:
        x = rng.random()
        for name, rate in zip(
            FAULTS,
            (
                self.rate_429,
                self.rate_529,
                self.rate_500,
                self.rate_slow,
                self.rate_hang,
                self.rate_malformed_tool,
                self.rate_missing_fields,
            ),
            strict=True,
        ):
            if x < rate:
                return name
            x -= rate
        return None


@dataclass
class FakeServerConfig:
    requests_per_window: int | None = None
    input_tokens_per_window: int | None = None
    output_tokens_per_window: int | None = None
    window_s: float = 60.0
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0  # uniform +-
    slow_s: float = 2.0  # extra latency of a "slow" fault
    hang_s: float = 30.0  # a hung response answers 500 after this (bounded)
    faults: FaultPlan = field(default_factory=FaultPlan)
    api_key: str | None = None  # when set, any other key gets 401
    spend_limit_reached: bool = False
    batch_processing_s: float = 0.0
    context_window: int | None = None  # input + max_tokens above this: 400
    max_lifetime_s: float = 900.0
    seed: int = 0


@dataclass
class CallRecord:
    status: int
    fault: str | None
    usage: dict[str, int] | None
    model: str
    arrived: float


class TokenBucket:
    """Capacity refilled continuously over `window_s` (the API's rate-limit model)."""

    def __init__(self, capacity: float, window_s: float) -> None:
        self.capacity = capacity
        self.rate = capacity / window_s
        self.level = capacity
        self.updated = time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def seconds_until(self, cost: float) -> float:
        return max(0.0, (min(cost, self.capacity) - self.level) / self.rate)

    def reset_at(self) -> str:
        until_full = (self.capacity - self.level) / self.rate
        when = datetime.now(UTC) + timedelta(seconds=until_full)
        return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


_Bucket = TokenBucket  # the name this class had first


def damage(value: Any) -> Any:
    """`value` with one required-looking field gone, as a careless model answers: the
    first field of the first object inside the first list (a finding's claim, a theme's
    label), else the first field of `value` itself."""
    if not isinstance(value, dict) or not value:
        return value
    out = json.loads(json.dumps(value))
    for v in out.values():
        if isinstance(v, list) and v and isinstance(v[0], dict) and v[0]:
            first = next(iter(v[0]))
            del v[0][first]
            return out
    del out[next(iter(out))]
    return out


def count_tokens(obj: Any) -> int:
    """The fake tokenizer: 4 characters of compact JSON per token (deterministic)."""
    return max(1, len(json.dumps(obj, separators=(",", ":"), sort_keys=True)) // 4)


def default_responder(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": "fake response"}]


def _error(status: int, etype: str, message: str, code: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"type": etype, "message": message}
    if code:
        err["details"] = {"error_code": code}
    return {"type": "error", "error": err, "request_id": f"req_{uuid.uuid4().hex[:16]}"}


def _api_key(request: web.Request) -> str | None:
    """The key as the SDK sends it: `x-api-key`, or `Authorization: Bearer` (anthropic 2.x)."""
    key = request.headers.get("x-api-key")
    if key is None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            key = auth[7:].strip()
    return key


class FakeAnthropicServer:
    """See the module docstring. Use as `async with FakeAnthropicServer(...) as server:`."""

    def __init__(
        self, config: FakeServerConfig | None = None, responder: Responder | None = None
    ) -> None:
        self.config = config or FakeServerConfig()
        self.responder = responder or default_responder
        self.records: list[CallRecord] = []
        self.usage_total: Counter[str] = Counter()
        self.forced_faults: deque[str] = deque()
        self.requests_seen: list[dict[str, Any]] = []
        self._rng = random.Random(self.config.seed)
        self._fault_rng = random.Random(self.config.faults.seed)
        self._cache: set[str] = set()
        self._batches: dict[str, dict[str, Any]] = {}
        c = self.config
        self._buckets: dict[str, TokenBucket] = {}
        self.max_input_tokens = 0
        for name, cap in (
            ("requests", c.requests_per_window),
            ("input-tokens", c.input_tokens_per_window),
            ("output-tokens", c.output_tokens_per_window),
        ):
            if cap:
                self._buckets[name] = TokenBucket(cap, c.window_s)
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> FakeAnthropicServer:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/messages/batches", self._batch_create)
        app.router.add_get("/v1/messages/batches/{id}", self._batch_get)
        app.router.add_get("/v1/messages/batches/{id}/results", self._batch_results)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
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

    async def __aenter__(self) -> FakeAnthropicServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def inject(self, *faults: str) -> None:
        """Force these faults on the next requests, in order (before random ones)."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; choose from {FAULTS}")
            self.forced_faults.append(f)

    # -- accounting helpers --------------------------------------------------------------
    def status_counts(self) -> Counter[int]:
        return Counter(r.status for r in self.records)

    def _headers(self) -> dict[str, str]:
        headers = {"request-id": f"req_{uuid.uuid4().hex[:16]}"}
        for name, b in self._buckets.items():
            b.refill()
            headers[f"anthropic-ratelimit-{name}-limit"] = str(int(b.capacity))
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(max(0, math.floor(b.level)))
            headers[f"anthropic-ratelimit-{name}-reset"] = b.reset_at()
        return headers

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Input tokens with prompt caching simulated at the cache_control breakpoints."""
        parts: list[Any] = [("tool", t) for t in body.get("tools", [])]
        system = body.get("system", [])
        if isinstance(system, str):
            system = [{"type": "text", "text": system}]
        parts += [("system", b) for b in system]
        for m in body.get("messages", []):
            content = m["content"]
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            parts += [(m["role"], b) for b in content]
        total = 0
        hasher = hashlib.sha256(body.get("model", "").encode())
        breakpoints: list[tuple[str, int]] = []
        for kind, part in parts:
            clean = {k: v for k, v in part.items() if k != "cache_control"}
            hasher.update(json.dumps([kind, clean], sort_keys=True).encode())
            total += count_tokens(clean)
            if "cache_control" in part:
                breakpoints.append((hasher.hexdigest(), total))
        read = 0
        for digest, tokens in reversed(breakpoints):
            if digest in self._cache:
                read = tokens
                break
        created = max((t for _, t in breakpoints), default=0) - read if breakpoints else 0
        created = max(0, created)
        self._cache.update(d for d, _ in breakpoints)
        return {
            "input_tokens": total - read - created,
            "output_tokens": 0,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
        }

    def _generate(
        self, body: dict[str, Any], malformed: str | None
    ) -> tuple[dict[str, Any], dict[str, int]]:
        usage = self._usage(body)
        content = self.responder(body)
        if malformed == "malformed_tool":
            content = [
                {**b, "input": {"__malformed__": True}} if b.get("type") == "tool_use" else b
                for b in content
            ]
        elif malformed == "missing_fields":
            content = [
                {**b, "input": damage(b["input"])} if b.get("type") == "tool_use" else b
                for b in content
            ]
        usage["output_tokens"] = count_tokens(content)
        stop = "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "unknown"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        return message, usage

    # -- handlers --------------------------------------------------------------------------
    async def _messages(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        key = _api_key(request)
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

        if self.config.api_key is not None and key != self.config.api_key:
            return reply(401, _error(401, "authentication_error", "invalid API key"), {}, None)
        if self.config.spend_limit_reached:
            return reply(
                429,
                _error(
                    429, "rate_limit_error", "spend limit reached", "enforced_spend_limit_reached"
                ),
                {"retry-after": "60"},
                None,
            )
        input_cost = count_tokens([body.get("tools"), body.get("system"), body.get("messages")])
        self.max_input_tokens = max(self.max_input_tokens, input_cost)
        window = self.config.context_window
        asked = int(body.get("max_tokens") or 0)
        if window is not None and input_cost + asked > window:
            return reply(
                400,
                _error(
                    400,
                    "invalid_request_error",
                    f"prompt is too long: {input_cost} tokens + {asked} max_tokens > {window} "
                    "maximum",
                ),
                {},
                None,
            )
        costs = {"requests": 1.0, "input-tokens": float(input_cost), "output-tokens": 1.0}
        wait = 0.0
        for name, b in self._buckets.items():
            b.refill()
            if b.level < min(costs[name], b.capacity):
                wait = max(wait, b.seconds_until(costs[name]))
        if wait > 0:
            headers = self._headers()
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            return reply(429, _error(429, "rate_limit_error", "rate limit exceeded"), headers, None)
        for name, b in self._buckets.items():
            if name != "output-tokens":
                b.level -= costs[name]
        headers = self._headers()  # remaining as of this request's arrival
        fault = self.forced_faults.popleft() if self.forced_faults else None
        if fault is None:
            fault = self.config.faults.pick(self._fault_rng)
        c = self.config
        delay = max(0.0, c.latency_s + self._rng.uniform(-c.latency_jitter_s, c.latency_jitter_s))
        if fault == "429":
            headers["retry-after"] = str(c.faults.retry_after_s)
            return reply(429, _error(429, "rate_limit_error", "injected 429"), headers, fault)
        if fault == "529":
            await asyncio.sleep(delay / 4)
            return reply(529, _error(529, "overloaded_error", "Overloaded"), headers, fault)
        if fault == "500":
            await asyncio.sleep(delay / 4)
            return reply(500, _error(500, "api_error", "Internal server error"), headers, fault)
        if fault == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=c.hang_s)
            return reply(500, _error(500, "api_error", "hung request gave up"), headers, fault)
        if fault == "slow":
            delay += c.slow_s
        await asyncio.sleep(delay)
        message, usage = self._generate(body, malformed=fault)
        if "output-tokens" in self._buckets:
            self._buckets["output-tokens"].level -= usage["output_tokens"]
        self.usage_total.update(usage)
        return reply(200, message, headers, fault, usage)

    async def _models(self, request: web.Request) -> web.Response:
        ids = ["claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5"]
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
            for m in ids
        ]
        return web.json_response(
            {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}
        )

    async def _batch_create(self, request: web.Request) -> web.Response:
        body = await request.json()
        batch_id = f"msgbatch_{uuid.uuid4().hex[:20]}"
        results = []
        for item in body["requests"]:
            message, usage = self._generate(item["params"], malformed=None)
            self.usage_total.update({f"batch_{k}": v for k, v in usage.items()})
            results.append(
                {
                    "custom_id": item["custom_id"],
                    "result": {"type": "succeeded", "message": message},
                }
            )
        now = datetime.now(UTC)
        self._batches[batch_id] = {
            "results": results,
            "created": now,
            "ready_at": time.monotonic() + self.config.batch_processing_s,
        }
        return web.json_response(self._batch_json(batch_id, request))

    def _batch_json(self, batch_id: str, request: web.Request) -> dict[str, Any]:
        b = self._batches[batch_id]
        ended = time.monotonic() >= b["ready_at"]
        n = len(b["results"])
        created: datetime = b["created"]
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else n,
                "succeeded": n if ended else 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "expires_at": (created + timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            "ended_at": datetime.now(UTC).isoformat().replace("+00:00", "Z") if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch_id}/results"
            if ended
            else None,
        }

    async def _batch_get(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["id"]
        if batch_id not in self._batches:
            return web.json_response(_error(404, "not_found_error", "no such batch"), status=404)
        return web.json_response(self._batch_json(batch_id, request))

    async def _batch_results(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return web.json_response(_error(404, "not_found_error", "no such batch"), status=404)
        lines = "\n".join(json.dumps(r) for r in batch["results"]) + "\n"
        return web.Response(text=lines, content_type="application/binary")


@contextmanager
def fake_server_in_thread(
    config: FakeServerConfig | None = None, responder: Responder | None = None
) -> Iterator[FakeAnthropicServer]:
    """Run a FakeAnthropicServer on its own event-loop thread, for sync code and notebooks.

    Read `records` / `usage_total` only after the block, or accept that they are live.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="fake-anthropic")
    thread.start()
    server = FakeAnthropicServer(config, responder)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
