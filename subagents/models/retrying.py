"""What both HTTP model clients share: retry rules, back-off, wire statistics, the guard hook.

The rules (the same for `AnthropicModel` and `OpenAICompatibleModel`):
- retried: 408, 409, 429, 5xx (529 overloaded included), timeouts and connection errors;
- never retried: authentication, permission, bad requests, a request too long for the
  context window, and spend or quota exhaustion (a 429 that waiting cannot fix);
- a server's `x-should-retry: false` is obeyed;
- the wait honours `retry-after-ms` / `retry-after` (plus a little jitter so paused
  callers do not return at once), else exponential back-off with jitter;
- every outgoing HTTP request passes the `ALLOW_MODEL_REQUESTS` guard (`guard_hook`).
"""

from __future__ import annotations

import random
import re
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from subagents.errors import ModelRequestsBlockedError
from subagents.models.guard import check_request_allowed
from subagents.models.messages import Usage

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

# What servers say when a request is longer than the model's context (OpenAI and
# LiteLLM: code `context_length_exceeded`; vLLM: "maximum context length is N tokens";
# llama.cpp: "exceeds the available context size"; Anthropic: "prompt is too long").
_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|context window|"
    r"exceeds? the available context|prompt is too long|too many tokens|"
    r"exceed_context_size",
    re.IGNORECASE,
)
_WINDOW_NUMBER = re.compile(
    r"(?:maximum context length is|context (?:window|size) (?:is|of)|n_ctx\W+)\s*(\d+)"
    r"|>\s*(\d+)\s*maximum",
    re.IGNORECASE,
)


@dataclass
class ModelStats:
    """What happened on the wire, for reports and benchmarks."""

    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    attempts: int = 0
    retries_by_reason: Counter[str] = field(default_factory=Counter)
    usage: Usage = field(default_factory=Usage)
    cost_usd: Any = 0  # Decimal once a call has succeeded
    # seconds from first send to answer (retries included, queueing for a slot not)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` or `retry-after` (seconds) from a response, if present."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def status_retryable(status: int, headers: Mapping[str, str]) -> bool:
    if headers.get("x-should-retry") == "false":
        return False
    return status in RETRYABLE_STATUS or status >= 500


def context_error(status: int, message: str, code: str | None) -> tuple[bool, int | None]:
    """(is this a context-length refusal, the window the server named if any)."""
    if status not in (400, 413, 422) and code != "context_length_exceeded":
        return False, None
    text = f"{code or ''} {message}"
    if not _CONTEXT_PATTERNS.search(text):
        return False, None
    m = _WINDOW_NUMBER.search(message)
    return True, int(m.group(1) or m.group(2)) if m else None


class Backoff:
    """Waits between attempts; see the module docstring."""

    def __init__(self, base_s: float, max_s: float, seed: int | None) -> None:
        self.base_s = base_s
        self.max_s = max_s
        self._rng = random.Random(seed)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(retry_after + self._rng.uniform(0, min(1.0, 0.1 * retry_after + 0.05)))
        cap = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        return float(cap / 2 + self._rng.uniform(0, cap / 2))


def blocked_cause(err: BaseException) -> ModelRequestsBlockedError | None:
    """The guard's error somewhere in an exception chain (the SDKs wrap hook errors)."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ModelRequestsBlockedError):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


async def guard_hook(request: Any) -> None:  # an httpx request (httpx2 in the 2.x/3.x SDKs)
    check_request_allowed(str(request.url))


def estimate_body_tokens(body: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    """A cheap upper-ish estimate of input tokens for pacing (4 characters per token)."""
    size = sum(len(str(body.get(k, ""))) for k in keys)
    return max(1, size // 4)
