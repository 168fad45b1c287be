"""`BatchedModel`: a `Model` whose calls go through the Message Batches API (half price).

Calls made at about the same time (within `window_s`, up to `max_batch`) are submitted
as one batch; each caller gets its own response when the batch has ended. An agent loop
with several steps makes one batch round per step, so a batch run trades latency
(minutes to hours on the real API) for half the cost. Used when a run is a batch run
(`settings.models.batch`, `workbench analyze --batch`).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from subagents.errors import ModelCallError
from subagents.models.anthropic import AnthropicModel
from subagents.models.batches import BatchRunner
from subagents.models.messages import ModelRequest, ModelResponse


class BatchedModel:
    def __init__(
        self,
        model: AnthropicModel,
        *,
        window_s: float = 0.05,
        max_batch: int = 10_000,
        poll_interval_s: float = 30.0,
    ) -> None:
        self.model = model
        self.name = f"batches({model.name})"
        self.runner = BatchRunner(model, poll_interval_s=poll_interval_s)
        self.window_s = window_s
        self.max_batch = max_batch
        self.batches_sent = 0
        self._pending: dict[str, tuple[ModelRequest, asyncio.Future[ModelResponse]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._ids = itertools.count(1)
        self._inflight: set[asyncio.Task[Any]] = set()

    def model_id(self, request: ModelRequest) -> str:
        return self.model.model_id(request)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[ModelResponse] = loop.create_future()
        self._pending[f"req-{next(self._ids)}"] = (request, fut)
        if len(self._pending) >= self.max_batch:
            self._start_flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._start_flush)
        return await fut

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self._pending = self._pending, {}
        if items:
            task = asyncio.ensure_future(self._flush(items))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _flush(
        self, items: dict[str, tuple[ModelRequest, asyncio.Future[ModelResponse]]]
    ) -> None:
        self.batches_sent += 1
        try:
            out = await self.runner.run({cid: req for cid, (req, _) in items.items()})
        except Exception as e:
            for _, fut in items.values():
                if not fut.done():
                    fut.set_exception(e)
            return
        for cid, (_, fut) in items.items():
            if fut.done():
                continue
            r = out.get(cid)
            if isinstance(r, ModelResponse):
                fut.set_result(r)
            else:
                fut.set_exception(ModelCallError(f"batch request {cid} failed: {r}"))
