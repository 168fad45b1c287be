"""Client-side pacing and concurrency fed by the `anthropic-ratelimit-*` response headers.

The Messages API limits requests, input tokens and output tokens per minute with token
buckets that refill continuously, and reports each bucket on every response:
`anthropic-ratelimit-<bucket>-limit`, `-remaining` and `-reset` (RFC 3339 time at which
the bucket is full again). `AdaptiveLimiter` mirrors those buckets locally:

- the refill rate is learned from the headers: (limit - remaining) / (reset - now);
- the local level is reconciled with each fresh `remaining`, minus what was sent after
  that request (the server had not counted those yet), so pacing tracks the server;
- a 429 with `retry-after` pauses every caller until then (nobody hammers the server);
- 529/5xx shrink the concurrency cap multiplicatively, successes grow it back;
- the concurrency cap otherwise follows rate x latency (Little's law) with headroom.

Waiters queue in FIFO order behind one gate, so 10,000 pending calls cost nothing while
they wait. Before the first headers arrive, `initial_concurrency` calls may run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

BUCKETS = ("requests", "input-tokens", "output-tokens")


@dataclass
class _Bucket:
    name: str
    limit: float | None = None
    rate: float | None = None  # units per second
    level: float = 0.0
    updated: float = 0.0
    pending: dict[int, float] = field(default_factory=dict)  # seq -> cost, not yet reconciled
    last_seq: int = 0

    @property
    def known(self) -> bool:
        return self.limit is not None and self.rate is not None

    def refill(self, now: float) -> None:
        if self.known:
            assert self.limit is not None and self.rate is not None
            self.level = min(self.limit, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, cost: float) -> float:
        if not self.known or self.level >= cost:
            return 0.0
        assert self.rate is not None and self.limit is not None
        cost = min(cost, self.limit)  # a request bigger than the bucket waits for a full one
        return (cost - self.level) / self.rate if self.level < cost else 0.0


@dataclass
class Ticket:
    seq: int
    sent_at: float
    sent_wall: float  # for `reset` times, which are wall-clock
    costs: dict[str, float]
    released: bool = False


@dataclass
class LimiterStats:
    acquired: int = 0
    rate_limited: int = 0
    overloaded: int = 0
    paused_s: float = 0.0
    max_in_flight: int = 0


def parse_reset(value: str | None, now_wall: float) -> float | None:
    """Seconds from now until an RFC 3339 reset time (None if absent or unparseable)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() - now_wall


class AdaptiveLimiter:
    """Paces calls to stay inside the server's rate limits; see the module docstring."""

    def __init__(
        self,
        *,
        max_concurrency: int = 64,
        initial_concurrency: int = 4,
        min_concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.initial_concurrency = initial_concurrency
        self.min_concurrency = min_concurrency
        self._clock = clock
        self._wall = wall_clock
        self._buckets = {name: _Bucket(name) for name in BUCKETS}
        self._gate = asyncio.Lock()
        self._changed = asyncio.Event()
        self._in_flight = 0
        self._priority_waiting = 0
        self._seq = 0
        self._blocked_until = 0.0
        self._latency: float | None = None
        self._backoff_factor = 1.0  # shrinks on 529/5xx, grows back on success
        self.stats = LimiterStats()

    @property
    def request_rate(self) -> float | None:
        """Learned server refill rate for requests, per second (None until headers came)."""
        return self._buckets["requests"].rate

    @property
    def concurrency(self) -> int:
        rate = self.request_rate
        if rate is None or self._latency is None:
            base = float(self.initial_concurrency)
        else:
            base = math.ceil(rate * self._latency * 2.0) + 2.0
        cap = max(float(self.min_concurrency), base * self._backoff_factor)
        return int(min(self.max_concurrency, cap))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(
        self, *, input_tokens: int = 0, output_tokens: int = 0, priority: bool = False
    ) -> Ticket:
        """Wait for a slot. `priority` (retries) goes before every queued first attempt,
        so a retried call is not sent to the back of a queue of thousands."""
        costs = {
            "requests": 1.0,
            "input-tokens": float(input_tokens),
            "output-tokens": float(output_tokens),
        }
        if priority:
            self._priority_waiting += 1
            try:
                return await self._wait_and_take(costs, yield_to_priority=False)
            finally:
                self._priority_waiting -= 1
        async with self._gate:  # FIFO among first attempts
            return await self._wait_and_take(costs, yield_to_priority=True)

    async def _wait_and_take(self, costs: dict[str, float], *, yield_to_priority: bool) -> Ticket:
        while True:
            self._changed.clear()
            now = self._clock()
            if self._in_flight >= self.concurrency or (
                yield_to_priority and self._priority_waiting > 0
            ):
                await self._changed.wait()
                continue
            delay = self._blocked_until - now
            for name, bucket in self._buckets.items():
                bucket.refill(now)
                delay = max(delay, bucket.wait_for(costs[name]))
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=delay)
                continue
            self._seq += 1
            for name, bucket in self._buckets.items():
                bucket.level -= costs[name]
                bucket.pending[self._seq] = costs[name]
            self._in_flight += 1
            self.stats.acquired += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight)
            if self._priority_waiting:
                self._changed.set()  # let the others re-check
            return Ticket(self._seq, now, self._wall(), costs)

    def release(
        self,
        ticket: Ticket,
        *,
        headers: Mapping[str, str] | None = None,
        latency: float | None = None,
        rate_limited: bool = False,
        overloaded: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Give the slot back and learn from the response (headers may be None on errors)."""
        if ticket.released:
            return
        ticket.released = True
        self._in_flight -= 1
        now = self._clock()
        if headers is not None:
            self._learn(ticket, headers, now)
        for bucket in self._buckets.values():
            bucket.pending.pop(ticket.seq, None)
        if latency is not None and not rate_limited:
            self._latency = (
                latency if self._latency is None else 0.8 * self._latency + 0.2 * latency
            )
        if rate_limited:
            self.stats.rate_limited += 1
            pause = retry_after if retry_after is not None else 1.0
            # Pause everyone only when the shared budget is spent (or we cannot tell); a
            # 429 while the buckets still have room concerns this request alone, and its
            # caller waits `retry-after` before trying again.
            if _exhausted(ticket, headers) and now + pause > self._blocked_until:
                self.stats.paused_s += now + pause - max(now, self._blocked_until)
                self._blocked_until = now + pause
        elif overloaded:
            self.stats.overloaded += 1
            self._backoff_factor = max(0.1, self._backoff_factor * 0.7)
        elif latency is not None:
            self._backoff_factor = min(1.0, self._backoff_factor + 0.02)
        self._changed.set()

    def _learn(self, ticket: Ticket, headers: Mapping[str, str], now: float) -> None:
        for name, bucket in self._buckets.items():
            limit = _num(headers.get(f"anthropic-ratelimit-{name}-limit"))
            remaining = _num(headers.get(f"anthropic-ratelimit-{name}-remaining"))
            if limit is None or remaining is None:
                continue
            bucket.refill(now)
            # `remaining` and `reset` describe the bucket when the server admitted this
            # request, i.e. about when we sent it, not when the answer arrived.
            until_full = parse_reset(
                headers.get(f"anthropic-ratelimit-{name}-reset"), ticket.sent_wall
            )
            deficit = limit - remaining
            if until_full is not None and until_full > 0 and deficit >= 0.02 * limit:
                estimate = deficit / until_full
                bucket.rate = (
                    estimate if bucket.rate is None else 0.7 * bucket.rate + 0.3 * estimate
                )
            elif bucket.rate is None:
                bucket.rate = limit / 60.0  # the header's unit is per minute
            bucket.limit = limit
            if ticket.seq > bucket.last_seq:
                # The server counted everything up to this request; what we sent after
                # it is not in `remaining` yet.
                later = sum(c for s, c in bucket.pending.items() if s > ticket.seq)
                elapsed = max(0.0, now - ticket.sent_at)
                assert bucket.rate is not None
                bucket.level = min(limit, remaining + elapsed * bucket.rate) - later
                bucket.last_seq = ticket.seq


def _exhausted(ticket: Ticket, headers: Mapping[str, str] | None) -> bool:
    if headers is None:
        return True
    seen = False
    for name in BUCKETS:
        remaining = _num(headers.get(f"anthropic-ratelimit-{name}-remaining"))
        if remaining is None:
            continue
        seen = True
        if remaining < max(1.0, ticket.costs.get(name, 0.0)):
            return True
    return not seen


def _num(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
