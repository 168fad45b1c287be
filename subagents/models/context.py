"""Context windows: how big a request is before it is sent, and how to make work fit.

The one place both providers (`AnthropicModel`, `OpenAICompatibleModel`) and every
caller (the agent loop, the model engine's document parts and hierarchical synthesis,
`ask`, the judge, the query writer) take their sizes from:

- `estimate_tokens(obj)`: a conservative token count of text or of a JSON-able object
  (its compact JSON): ASCII characters / `chars_per_token` (3.0 by default; English and
  code run 3.5-4.5 characters per token with the BPE tokenizers of current models) plus
  1.5 tokens per non-ASCII character (Chinese and Japanese run about one to one and a
  half per character). No tokenizer is downloaded; the estimate is meant to over-count.
- `ContextBudget`: the window of each model id (`windows`, else `default_window`), the
  output reserve of a request (its `max_tokens`, lowered to a quarter of a small
  window), the request's size (`request_tokens`), whether it `fits`, and `check`, which
  raises `ContextWindowError` instead of letting a request that cannot fit be sent.
- `learn`: a server that reports more input tokens than the estimate (or refuses a
  request as too long) raises that model's factor, so later requests are sized with it.
- `pack(sizes, budget)`: consecutive items into the fewest groups within a budget; an
  item bigger than the budget is a group of its own (callers split those first).

Callers split work that does not fit (a long document into parts, findings into
groups); nothing here truncates text. The agent loop may shorten *old tool results*
of its own conversation, and says so in the conversation when it does.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from subagents.errors import ContextWindowError
from subagents.models.messages import ModelRequest, Tier

DEFAULT_WINDOW = 200_000
DEFAULT_CHARS_PER_TOKEN = 3.0


def estimate_tokens(obj: Any, *, chars_per_token: float = DEFAULT_CHARS_PER_TOKEN) -> int:
    """A conservative token count of a string, or of an object's compact JSON."""
    if isinstance(obj, str):
        text = obj
    else:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    ascii_chars = len(text.encode("ascii", "ignore"))
    other = len(text) - ascii_chars
    return max(1, math.ceil(ascii_chars / chars_per_token + 1.5 * other))


def request_body(request: ModelRequest) -> dict[str, Any]:
    """What is counted: system, messages and tool definitions (no cache markers)."""
    return {
        "system": [b.text for b in request.system],
        "messages": [m.model_dump(mode="json", exclude_none=True) for m in request.messages],
        "tools": [t.model_dump(mode="json", exclude={"cache_control"}) for t in request.tools],
    }


@dataclass
class ContextBudget:
    """Windows per model id and the sizes of requests; see the module docstring.

    `tiers` maps a request's tier to its model id (as the client does), so a request
    is measured against the window of the model that will answer it.
    """

    windows: Mapping[str, int] = field(default_factory=dict)
    default_window: int = DEFAULT_WINDOW
    tiers: Mapping[Tier, str] = field(default_factory=dict)
    max_output_tokens: Mapping[str, int] = field(default_factory=dict)
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN
    margin: float = 0.03  # share of the window kept free for the server's own framing
    # learned per model: the server counts this many times our estimate (>= 1)
    factors: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- sizes ---------------------------------------------------------------------------
    def model_id(self, request: ModelRequest) -> str:
        return request.model or self.tiers.get(request.tier, request.tier)

    def window(self, model: str) -> int:
        return int(self.windows.get(model, self.default_window))

    def window_for(self, request: ModelRequest) -> int:
        return self.window(self.model_id(request))

    def tokens(self, obj: Any, model: str | None = None) -> int:
        """Estimated tokens of text or an object, with the model's learned factor."""
        base = estimate_tokens(obj, chars_per_token=self.chars_per_token)
        factor = self.factors.get(model or "", 1.0)
        return math.ceil(base * factor)

    def text_tokens(self, text: str, model: str | None = None) -> int:
        """Tokens of text as it travels inside a request body (JSON-escaped: quotes and
        newlines count twice), which is how a line of a document block is measured."""
        return self.tokens(json.dumps(text, ensure_ascii=False), model)

    def request_tokens(self, request: ModelRequest) -> int:
        """Estimated input tokens of a request (system, messages, tools)."""
        return self.tokens(request_body(request), self.model_id(request))

    def output_reserve(self, request: ModelRequest) -> int:
        """Tokens kept for the answer: `max_tokens`, at most a quarter of the window (or
        the model's `max_output_tokens`)."""
        model = self.model_id(request)
        cap = self.max_output_tokens.get(model) or max(256, self.window(model) // 4)
        return max(1, min(request.max_tokens, cap))

    def free_margin(self, model: str) -> int:
        return max(32, int(self.window(model) * self.margin))

    def limit(self, request: ModelRequest) -> int:
        """The most input tokens this request may have."""
        model = self.model_id(request)
        return self.window(model) - self.output_reserve(request) - self.free_margin(model)

    def fits(self, request: ModelRequest) -> bool:
        return self.request_tokens(request) <= self.limit(request)

    def room(self, request: ModelRequest) -> int:
        """Input tokens still free under the limit (negative when over)."""
        return self.limit(request) - self.request_tokens(request)

    # -- making requests fit -------------------------------------------------------------
    def fit_output(self, request: ModelRequest) -> ModelRequest:
        """The request with `max_tokens` lowered to the output reserve when it is larger."""
        reserve = self.output_reserve(request)
        if reserve >= request.max_tokens:
            return request
        return request.model_copy(update={"max_tokens": reserve})

    def check(self, request: ModelRequest, *, what: str = "request") -> None:
        """Raise ContextWindowError, before anything is sent, when the request cannot fit."""
        tokens, limit = self.request_tokens(request), self.limit(request)
        if tokens > limit:
            model = self.model_id(request)
            raise ContextWindowError(
                f"{what} for {model} is about {tokens} input tokens; its context window is "
                f"{self.window(model)} tokens, of which {limit} may be input (the rest is "
                "kept for the answer). It was not sent: split the work, or raise the "
                "model's context window in the settings if the model really has more",
                tokens=tokens,
                window=self.window(model),
                model=model,
            )

    def learn(self, model: str, estimated: int, reported: int) -> None:
        """The server counted `reported` input tokens where we estimated `estimated`."""
        if estimated <= 0 or reported <= estimated * 0.95:
            return
        with self._lock:
            ratio = reported / estimated * 1.1
            self.factors[model] = max(self.factors.get(model, 1.0), ratio)

    def learn_refusal(self, model: str, server_window: int | None = None) -> None:
        """The server refused a request as too long although the estimate said it fit."""
        with self._lock:
            if server_window is not None and server_window < self.window(model):
                windows = dict(self.windows)
                windows[model] = server_window
                self.windows = windows
            self.factors[model] = self.factors.get(model, 1.0) * 1.25

    def describe(self) -> dict[str, Any]:
        return {
            "default_window": self.default_window,
            "windows": dict(self.windows),
            "chars_per_token": self.chars_per_token,
            "learned_factors": {k: round(v, 3) for k, v in self.factors.items()},
        }


def context_of(model: Any) -> ContextBudget | None:
    """The budget a model (or a model it wraps, via `.inner`) was built with, if any."""
    seen: set[int] = set()
    current = model
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        budget = getattr(current, "context", None)
        if isinstance(budget, ContextBudget):
            return budget
        current = getattr(current, "inner", None)
    return None


def pack(sizes: Sequence[int], budget: int) -> list[list[int]]:
    """Indices of consecutive items in the fewest groups whose sizes sum within `budget`.

    An item larger than the budget gets a group of its own; callers split such items
    before packing when they must fit.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, size in enumerate(sizes):
        if current and used + size > budget:
            groups.append(current)
            current, used = [], 0
        current.append(i)
        used += size
    if current:
        groups.append(current)
    return groups


def split_text(
    text: str, max_tokens: int, budget: ContextBudget, model: str | None = None
) -> Iterator[tuple[int, int]]:
    """(start, end) character ranges of `text`, each within `max_tokens` as it travels
    in a request (`text_tokens`), cut at whitespace when there is some in the last fifth
    of a piece."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    start = 0
    n = len(text)
    while start < n:
        # characters per piece from the estimate of the rest (non-ASCII counts more)
        rest = text[start : start + int(max_tokens * budget.chars_per_token) + 1]
        length = len(rest)
        while length > 1 and budget.text_tokens(text[start : start + length], model) > max_tokens:
            length = int(length * 0.8)
        end = min(n, start + max(1, length))
        if end < n:
            cut = text.rfind(" ", start + int((end - start) * 0.8), end)
            if cut > start:
                end = cut + 1
        yield start, end
        start = end
