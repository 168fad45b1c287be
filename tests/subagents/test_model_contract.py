"""The model contract, run against both HTTP backends through their real SDKs.

The same tests drive `AnthropicModel` at the fake Messages API and
`OpenAICompatibleModel` at the fake Chat Completions server: tool use through the
agent loop, usage and exact cost, tiers, retries and their limits, non-retryable
errors, the request guard, pacing under a rate limit, malformed answers repaired,
context windows refused before sending or by the server.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest

from subagents.agent import Agent, AgentTask, ContextDocument
from subagents.errors import (
    ContextWindowError,
    ContextWindowExceededError,
    ModelCallError,
    ModelRequestsBlockedError,
    NonRetryableModelError,
)
from subagents.models.context import ContextBudget
from subagents.models.guard import block_model_requests
from subagents.models.messages import ModelRequest, TextBlock, ToolDefinition, Usage, user
from subagents.models.ratelimit import AdaptiveLimiter
from subagents.spec_loader import load_spec
from subagents.tools import ToolRegistry, read_segment_tool, search_tool
from tests.subagents.fakes import FakeIndex, segment

from .model_backends import BACKENDS, Backend

FINAL = {
    "summary": "s",
    "findings": [
        {
            "claim": "The remote is too heavy for the participant.",
            "evidence": [{"doc_id": "m1", "segment_id": "m1#0", "quote": "too heavy"}],
            "confidence": 0.8,
        }
    ],
}


def _request(**kw: Any) -> ModelRequest:
    return ModelRequest(
        system=[TextBlock(text="You are a careful analyst. " * 20)],
        messages=[user("Summarise the meeting. " * 10)],
        **kw,
    )


def searcher(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Search first; after a good tool result, the final output."""
    last = body["messages"][-1]["content"][-1]
    if last.get("type") == "tool_result" and not last.get("is_error"):
        return [{"type": "tool_use", "id": "toolu_f", "name": "final_output", "input": FINAL}]
    if last.get("type") == "text" and last["text"].startswith("Result of tool call"):
        return [{"type": "tool_use", "id": "toolu_f", "name": "final_output", "input": FINAL}]
    return [{"type": "tool_use", "id": "toolu_s", "name": "search", "input": {"query": "heavy"}}]


def _analyst(model: Any, **kw: Any) -> tuple[Agent, FakeIndex]:
    index = FakeIndex([segment("m1", 0, "The remote is too heavy.")])
    registry = ToolRegistry([search_tool(index), read_segment_tool(index)])
    return Agent(load_spec("interview-analyst"), model, registry, **kw), index


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param  # type: ignore[no-any-return]


def test_tool_use_through_the_agent_loop(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve(searcher) as server, backend.client(server) as model:
            agent, index = _analyst(model)
            result = await agent.run(AgentTask(instructions="Is the remote heavy?"))
        assert result.status == "ok" and result.tool_calls == ["search", "final_output"]
        assert index.queries == ["heavy"]
        assert result.output is not None
        assert result.output.findings[0].evidence[0].quote == "too heavy"  # type: ignore[attr-defined]
        assert backend.seen_model(server.requests_seen[0]) == backend.tier_model("worker")

    asyncio.run(main())


def test_usage_and_cost_match_the_server_exactly(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve() as server, backend.client(server) as model:
            first = await model.complete(_request())
            second = await model.complete(_request(tier="fast"))
        total = first.usage + second.usage
        for k in ("input_tokens", "output_tokens", "cache_read_input_tokens"):
            assert getattr(total, k) == server.usage_total[k]
        prices = model.prices
        expected = prices.cost(backend.tier_model("worker"), first.usage) + prices.cost(
            backend.tier_model("fast"), second.usage
        )
        assert model.stats.cost_usd == expected > Decimal(0)
        assert [backend.seen_model(b) for b in server.requests_seen] == [
            backend.tier_model("worker"),
            backend.tier_model("fast"),
        ]
        assert first.text == "fake response" and first.stop_reason == "end_turn"

    asyncio.run(main())


def test_retries_honour_retry_after_then_server_errors(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve() as server:
            server.inject("429", backend.fault("5xx"), "500")
            async with backend.client(server, backoff_base_s=0.01, seed=1) as model:
                t0 = time.monotonic()
                response = await model.complete(_request())
                elapsed = time.monotonic() - t0
        assert response.attempts == 4
        assert dict(model.stats.retries_by_reason) == {"429": 1, backend.fault("5xx"): 1, "500": 1}
        assert elapsed >= 1.0  # the injected 429 said retry-after: 1
        assert [r.status for r in server.records][-1] == 200

    asyncio.run(main())


@pytest.mark.parametrize("setting", ["auth", "exhausted"])
def test_non_retryable_errors_are_not_retried(backend: Backend, setting: str) -> None:
    async def main() -> None:
        kw = {"api_key": "right-key"} if setting == "auth" else {"exhausted": True}
        async with backend.serve(**kw) as server:  # type: ignore[arg-type]
            model = backend.client(server, api_key="wrong-key")
            with pytest.raises(NonRetryableModelError) as info:
                await model.complete(_request())
            await model.aclose()
        assert len(server.records) == 1
        assert info.value.status == (401 if setting == "auth" else 429)

    asyncio.run(main())


def test_hung_response_times_out_and_is_retried(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve(hang_s=20) as server:
            server.inject("hang")
            async with backend.client(server, timeout_s=0.5, backoff_base_s=0.01) as model:
                response = await model.complete(_request())
        assert response.attempts == 2
        assert model.stats.retries_by_reason["timeout"] == 1

    asyncio.run(main())


def test_gives_up_after_max_attempts(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve() as server:
            server.inject("500", "500", "500")
            async with backend.client(server, max_attempts=2, backoff_base_s=0.01) as model:
                with pytest.raises(ModelCallError, match="after 2 attempts"):
                    await model.complete(_request())
        assert len(server.records) == 2

    asyncio.run(main())


def test_guard_blocks_real_hosts(backend: Backend) -> None:
    async def main() -> None:
        class Nowhere:
            base_url = "https://api.example.com/v1"

        model = backend.client(Nowhere())
        with pytest.raises(ModelRequestsBlockedError, match="ALLOW_MODEL_REQUESTS"):
            await model.complete(_request())
        await model.aclose()

    with block_model_requests():
        asyncio.run(main())


def test_limiter_learns_the_limit_and_keeps_429s_rare(backend: Backend) -> None:
    """40 calls against 20 requests per 2 s: the headers pace the client."""

    async def main() -> None:
        async with backend.serve(rpm=20, window_s=2.0, latency_s=0.02) as server:
            limiter = AdaptiveLimiter(initial_concurrency=2)
            async with backend.client(server, limiter=limiter) as model:
                responses = await asyncio.gather(*(model.complete(_request()) for _ in range(40)))
        assert len(responses) == 40
        assert limiter.request_rate == pytest.approx(10.0, rel=0.3)
        statuses = server.status_counts()
        assert statuses[200] == 40 and statuses[429] <= 2

    asyncio.run(main())


@pytest.mark.parametrize("fault", ["malformed", "missing_fields"])
def test_malformed_and_incomplete_answers_are_sent_back_for_repair(
    backend: Backend, fault: str
) -> None:
    def final_first(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "tool_use", "id": "toolu_f", "name": "final_output", "input": FINAL}]

    async def main() -> None:
        async with backend.serve(final_first) as server:
            server.inject(backend.fault(fault))
            async with backend.client(server) as model:
                agent, _ = _analyst(model)
                result = await agent.run(AgentTask(instructions="Is the remote heavy?"))
        assert result.status == "ok" and result.repairs == 1
        assert result.output is not None and result.output.findings[0].claim  # type: ignore[attr-defined]
        assert len(server.records) == 2

    asyncio.run(main())


def test_a_request_that_cannot_fit_is_never_sent(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve() as server:
            budget = ContextBudget(default_window=2048)
            async with backend.client(server, context=budget) as model:
                agent, _ = _analyst(model)
                task = AgentTask(
                    instructions="Summarise.",
                    context=[ContextDocument(id="d", text="word " * 4000)],
                )
                with pytest.raises(ContextWindowError, match="not sent"):
                    await agent.run(task)
        assert server.records == []

    asyncio.run(main())


def test_the_servers_context_refusal_is_not_retried(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve(context_window=300) as server:
            model = backend.client(server)
            with pytest.raises(ContextWindowExceededError) as info:
                await model.complete(_request(max_tokens=100))
            await model.aclose()
        assert len(server.records) == 1 and info.value.status == 400

    asyncio.run(main())


def test_the_agent_learns_from_a_refusal_and_shortens_its_conversation(backend: Backend) -> None:
    """The server's window is smaller than the one configured: the refused request is
    measured again with the learned size, old tool results give way, and the run ends."""
    big = "The remote is too heavy. " * 120

    def reader(body: dict[str, Any]) -> list[dict[str, Any]]:
        n = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if n < 3:
            return [{"type": "tool_use", "id": f"toolu_{n}", "name": "read_segment", "input": {"segment_id": "m1#0"}}]  # fmt: skip
        return [{"type": "tool_use", "id": "toolu_f", "name": "final_output", "input": FINAL}]

    async def main() -> None:
        async with backend.serve(reader, context_window=5000) as server:
            budget = ContextBudget(
                default_window=11000, tiers={"worker": backend.tier_model("worker")}
            )
            async with backend.client(server) as model:
                index = FakeIndex([segment("m1", 0, big)])
                registry = ToolRegistry([search_tool(index), read_segment_tool(index)])
                agent = Agent(load_spec("interview-analyst"), model, registry, context=budget)
                result = await agent.run(AgentTask(instructions="Is the remote heavy?"))
        assert result.status == "ok"
        assert any("refused" in n for n in result.context_notes)
        assert any("removed an earlier tool result" in n for n in result.context_notes)
        assert budget.factors[backend.tier_model("worker")] > 1.0
        assert [r.status for r in server.records].count(400) >= 1

    asyncio.run(main())


def test_usage_is_charged_per_model_tier(backend: Backend) -> None:
    async def main() -> None:
        async with backend.serve() as server, backend.client(server) as model:
            r = await model.complete(_request(tier="lead", cache=False))
        expected = model.prices.cost(backend.tier_model("lead"), r.usage)
        assert r.cost_usd == expected
        assert Usage(**{k: server.usage_total[k] for k in Usage.model_fields}).output_tokens == (
            r.usage.output_tokens
        )

    asyncio.run(main())


def test_tool_definitions_reach_the_server(backend: Backend) -> None:
    async def main() -> None:
        tools = [
            ToolDefinition(name="search", description="search", input_schema={"type": "object"})
        ]
        async with backend.serve() as server, backend.client(server) as model:
            await model.complete(_request(tools=tools))
        body = server.requests_seen[0]
        names = [t.get("name") or t["function"]["name"] for t in body["tools"]]
        assert names == ["search"]

    asyncio.run(main())


def test_the_response_cache_replays_without_the_server(backend: Backend, tmp_path: Any) -> None:
    from subagents.errors import CacheMissError
    from subagents.models.cached import CachedModel

    async def main() -> None:
        async with backend.serve() as server, backend.client(server) as model:
            cached = CachedModel(model, tmp_path / "cache.sqlite")
            first = await cached.complete(_request(tier="fast"))
            second = await cached.complete(_request(tier="fast"))
            cached.close()
            replay = CachedModel(model, tmp_path / "cache.sqlite", mode="replay_only")
            again = await replay.complete(_request(tier="fast"))
            with pytest.raises(CacheMissError):
                await replay.complete(_request(tier="lead"))
            replay.close()
        assert len(server.records) == 1
        assert second.cached and again.cached and again.text == first.text
        assert again.cost_usd == 0 and again.usage == first.usage

    asyncio.run(main())
