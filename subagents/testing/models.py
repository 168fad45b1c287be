"""`ScriptedModel` and `FunctionModel`: real `Model`s for tests and demos, no network.

`ScriptedModel` answers with its scripted steps in order, records every request in
`calls`, raises `UnscriptedCallError` on a call past the script, and `assert_complete()`
fails if steps are left. A step is a `ModelResponse`, a list of content blocks, a string
(text), or a callable taking the request and returning one of those.
`FunctionModel` answers every call with a function of the request.

Usage is the fake tokenizer's count (4 characters per token) so budgets and cost
roll-ups can be tested; cost uses the price table when it knows `model_id`, else 0.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Literal

from subagents.errors import UnscriptedCallError
from subagents.models.messages import (
    ContentBlock,
    ModelRequest,
    ModelResponse,
    TextBlock,
    ToolUseBlock,
    Usage,
)
from subagents.models.pricing import PriceTable

StepValue = ModelResponse | Sequence[ContentBlock] | str
Step = StepValue | Callable[[ModelRequest], StepValue | Awaitable[StepValue]]

_ids = itertools.count(1)


def tool_call(
    name: str, input: dict[str, Any] | None = None, id: str | None = None
) -> ToolUseBlock:
    return ToolUseBlock(id=id or f"toolu_{next(_ids):06d}", name=name, input=input or {})


def final_output(data: dict[str, Any]) -> list[ContentBlock]:
    """The step that ends an agent run with a structured output."""
    return [tool_call("final_output", data)]


def abstain(reason: str) -> list[ContentBlock]:
    return [tool_call("abstain", {"reason": reason})]


def _tokens(obj: Any) -> int:
    return max(1, len(json.dumps(obj, separators=(",", ":"), default=str)) // 4)


class _Base:
    name = "scripted"

    def __init__(self, model_id: str = "scripted", prices: PriceTable | None = None) -> None:
        self.model_id = model_id
        self.prices = prices
        self.calls: list[ModelRequest] = []

    def _to_response(self, request: ModelRequest, value: StepValue) -> ModelResponse:
        if isinstance(value, ModelResponse):
            return value
        content: list[Any] = [TextBlock(text=value)] if isinstance(value, str) else list(value)
        usage = Usage(
            input_tokens=_tokens(request.to_api(self.model_id)),
            output_tokens=_tokens([b.model_dump() for b in content]),
        )
        cost = Decimal(0)
        if self.prices is not None:
            cost = self.prices.cost(self.model_id, usage)
        stop: Literal["tool_use", "end_turn"] = (
            "tool_use" if any(isinstance(b, ToolUseBlock) for b in content) else "end_turn"
        )
        return ModelResponse(
            id=f"msg_{next(_ids):06d}",
            model=self.model_id,
            content=content,
            stop_reason=stop,
            usage=usage,
            cost_usd=cost,
        )

    async def _resolve(self, request: ModelRequest, step: Step) -> ModelResponse:
        value: Any = step
        if callable(step):
            value = step(request)
            if inspect.isawaitable(value):
                value = await value
        return self._to_response(request, value)


class ScriptedModel(_Base):
    """Consumes scripted steps in order; see the module docstring."""

    name = "scripted"

    def __init__(
        self, steps: Sequence[Step], *, model_id: str = "scripted", prices: PriceTable | None = None
    ) -> None:
        super().__init__(model_id, prices)
        self.steps: list[Step] = list(steps)
        self._next = 0

    def enqueue(self, *steps: Step) -> None:
        self.steps.extend(steps)

    @property
    def remaining(self) -> int:
        return len(self.steps) - self._next

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        if self._next >= len(self.steps):
            raise UnscriptedCallError(
                f"ScriptedModel got call #{len(self.calls)} but has only {len(self.steps)} steps; "
                "add steps with enqueue() or fix the code that made the extra call"
            )
        step = self.steps[self._next]
        self._next += 1
        return await self._resolve(request, step)

    def assert_complete(self) -> None:
        if self.remaining:
            raise AssertionError(
                f"ScriptedModel: {self.remaining} of {len(self.steps)} steps were never used"
            )


class FunctionModel(_Base):
    """Answers every call with `fn(request)` (sync or async); records calls."""

    name = "function"

    def __init__(
        self,
        fn: Callable[[ModelRequest], StepValue | Awaitable[StepValue]],
        *,
        model_id: str = "function",
        prices: PriceTable | None = None,
    ) -> None:
        super().__init__(model_id, prices)
        self.fn = fn

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        return await self._resolve(request, self.fn)
