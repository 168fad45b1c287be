"""Message Batches: many requests in one asynchronous job at half price.

`BatchRunner.run({custom_id: ModelRequest})` submits one batch (up to 100,000
requests), polls until it has ended, and returns `{custom_id: ModelResponse}` for the
ones that succeeded and `{custom_id: BatchItemError}` for the rest. Costs use the batch
price (50%). Same client, guard and model tiers as the `AnthropicModel` it is built on.
For a long job, persist `batch_id` (`submit`) and call `collect(batch_id)` later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from subagents.errors import ModelCallError
from subagents.models.anthropic import AnthropicModel
from subagents.models.guard import check_request_allowed
from subagents.models.messages import ModelRequest, ModelResponse, TextBlock, ToolUseBlock, Usage


@dataclass(frozen=True)
class BatchItemError:
    custom_id: str
    kind: str  # errored | canceled | expired
    detail: str = ""


class BatchRunner:
    def __init__(
        self, model: AnthropicModel, *, poll_interval_s: float = 30.0, timeout_s: float = 86_400
    ) -> None:
        self.model = model
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s

    async def submit(self, requests: Mapping[str, ModelRequest]) -> str:
        check_request_allowed(str(self.model.client.base_url))
        items = [
            {"custom_id": cid, "params": req.to_api(self.model.model_id(req))}
            for cid, req in requests.items()
        ]
        batch = await self.model.client.messages.batches.create(requests=items)  # type: ignore[arg-type]
        return batch.id

    async def wait(self, batch_id: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            batch = await self.model.client.messages.batches.retrieve(batch_id)
            if batch.processing_status == "ended":
                return
            if time.monotonic() > deadline:
                raise ModelCallError(
                    f"batch {batch_id} still {batch.processing_status} after {self.timeout_s}s"
                )
            await asyncio.sleep(self.poll_interval_s)

    async def collect(self, batch_id: str) -> dict[str, ModelResponse | BatchItemError]:
        out: dict[str, ModelResponse | BatchItemError] = {}
        decoder = await self.model.client.messages.batches.results(batch_id)
        async for item in decoder:
            result = item.result
            if result.type != "succeeded":
                detail = str(getattr(result, "error", "") or "")
                out[item.custom_id] = BatchItemError(item.custom_id, result.type, detail)
                continue
            msg = result.message
            content: list[TextBlock | ToolUseBlock] = []
            for block in msg.content:
                if block.type == "text":
                    content.append(TextBlock(text=block.text))
                elif block.type == "tool_use":
                    content.append(
                        ToolUseBlock(id=block.id, name=block.name, input=dict(block.input))
                    )
            u = msg.usage
            usage = Usage(
                input_tokens=u.input_tokens or 0,
                output_tokens=u.output_tokens or 0,
                cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
                cache_read_input_tokens=u.cache_read_input_tokens or 0,
            )
            out[item.custom_id] = ModelResponse(
                id=msg.id,
                model=msg.model,
                content=list(content),
                stop_reason=msg.stop_reason,
                usage=usage,
                cost_usd=self.model.prices.cost(msg.model, usage, batch=True),
            )
        return out

    async def run(
        self, requests: Mapping[str, ModelRequest]
    ) -> dict[str, ModelResponse | BatchItemError]:
        batch_id = await self.submit(requests)
        await self.wait(batch_id)
        return await self.collect(batch_id)
