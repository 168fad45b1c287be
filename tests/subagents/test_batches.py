from __future__ import annotations

import asyncio
from decimal import Decimal

from subagents.models.anthropic import AnthropicModel
from subagents.models.batches import BatchRunner
from subagents.models.messages import ModelRequest, ModelResponse, user
from subagents.models.pricing import PriceTable
from subagents.testing.fake_server import FakeAnthropicServer, FakeServerConfig


def test_batch_run_against_the_fake_api_costs_half() -> None:
    async def main() -> dict[str, object]:
        async with FakeAnthropicServer(FakeServerConfig(batch_processing_s=0.2)) as server:
            model = AnthropicModel(api_key="k", base_url=server.base_url)
            runner = BatchRunner(model, poll_interval_s=0.05)
            requests = {
                f"task-{i}": ModelRequest(messages=[user(f"question {i}")], cache=False)
                for i in range(5)
            }
            try:
                return dict(await runner.run(requests))
            finally:
                await model.aclose()

    results = asyncio.run(main())
    assert set(results) == {f"task-{i}" for i in range(5)}
    responses = [r for r in results.values() if isinstance(r, ModelResponse)]
    assert len(responses) == 5
    prices = PriceTable()
    full = sum((prices.cost("claude-sonnet-4-6", r.usage) for r in responses), Decimal(0))
    assert sum((r.cost_usd for r in responses), Decimal(0)) * 2 == full
    assert all(r.text == "fake response" for r in responses)
