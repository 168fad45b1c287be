"""A batch run's model calls go through the Message Batches API, at half price."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from subagents.models.anthropic import AnthropicModel
from subagents.models.messages import ModelRequest, Usage, user
from subagents.models.pricing import PriceTable
from subagents.testing.fake_server import FakeAnthropicServer
from workbench.core.settings import ModelSettings, Settings
from workbench.engines.batching import BatchedModel


def test_concurrent_calls_share_one_batch_at_half_price() -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            inner = AnthropicModel(api_key="k", base_url=server.base_url)
            model = BatchedModel(inner, window_s=0.01, poll_interval_s=0.01)
            requests = [
                ModelRequest(messages=[user(f"question {i}")], tier="fast") for i in range(5)
            ]
            responses = await asyncio.gather(*(model.complete(r) for r in requests))
            await inner.aclose()
            assert model.batches_sent == 1
            assert not [r for r in server.records]  # nothing went to /v1/messages
            prices = PriceTable()
            for r in responses:
                assert r.text == "fake response"
                assert r.cost_usd == prices.cost("claude-haiku-4-5", r.usage) / 2
            total = sum((r.usage for r in responses), Usage())
            assert total.output_tokens == server.usage_total["batch_output_tokens"]

    asyncio.run(main())


@pytest.mark.slow
def test_a_batch_run_sends_the_model_engine_through_batches(
    project_dir: Path, corpus3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model is built from settings (key from the environment, base_url to the fake)."""
    import workbench as wb

    from .conftest import QUESTION
    from .modelish import ModelLike
    from .servers import fake_server

    responder = ModelLike()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with fake_server(responder) as server:
        models = ModelSettings(
            base_url=server.base_url,
            batch=True,
            batch_poll_s=0.01,
            cache=False,
            synthetic_queries=False,
        )
        project = wb.Project(project_dir, settings=Settings(models=models))
        run = project.analyze(corpus3, QUESTION, on_event=lambda e: None)  # default: model
        assert run.engine == "model" and run.status == "complete"
        assert not server.records  # no call went to /v1/messages: all through batches
        assert server.usage_total["batch_output_tokens"] > 0
    assert {t.label for t in run.themes} == {
        "What the remote should do",
        "Worries about the project",
    }
    assert float(run.manifest["cost_usd_exact"]) > 0
