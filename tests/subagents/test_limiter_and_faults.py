"""AdaptiveLimiter rules, and malformed tool input from the fake API through the agent loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from subagents.agent import Agent, AgentTask
from subagents.models.anthropic import AnthropicModel
from subagents.models.cached import CachedModel
from subagents.models.messages import ModelRequest, user
from subagents.models.ratelimit import AdaptiveLimiter
from subagents.spec_loader import load_spec
from subagents.testing.fake_server import FakeAnthropicServer
from subagents.tools import ToolRegistry, read_segment_tool, search_tool
from tests.subagents.fakes import FakeIndex, segment


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _headers(limit: int, remaining: int, seconds_to_full: float, wall: float) -> dict[str, str]:
    reset = datetime.fromtimestamp(wall, UTC) + timedelta(seconds=seconds_to_full)
    return {
        "anthropic-ratelimit-requests-limit": str(limit),
        "anthropic-ratelimit-requests-remaining": str(remaining),
        "anthropic-ratelimit-requests-reset": reset.isoformat().replace("+00:00", "Z"),
    }


def test_limiter_learns_rate_and_level_from_headers() -> None:
    async def main() -> None:
        mono, wall = Clock(), Clock()
        limiter = AdaptiveLimiter(clock=mono, wall_clock=wall.__call__)
        ticket = await limiter.acquire()
        # 600/min: 100 used, full again in 10 s => 10 per second
        limiter.release(ticket, headers=_headers(600, 500, 10.0, wall.now), latency=0.2)
        assert limiter.request_rate == 10.0
        assert limiter.concurrency == 6  # ceil(10 * 0.2 * 2) + 2
        # a 429 with room left in the bucket pauses only its own caller
        t2 = await limiter.acquire()
        limiter.release(
            t2, headers=_headers(600, 400, 20.0, wall.now), rate_limited=True, retry_after=5
        )
        assert limiter.stats.paused_s == 0
        # a 429 with the bucket empty pauses everyone for retry-after
        t3 = await limiter.acquire()
        limiter.release(
            t3, headers=_headers(600, 0, 60.0, wall.now), rate_limited=True, retry_after=5
        )
        assert limiter.stats.paused_s == 5
        mono.now += 5.0  # the pause is over
        # 529s shrink concurrency, successes grow it back
        before = limiter.concurrency
        for _ in range(3):
            t = await limiter.acquire()
            limiter.release(t, overloaded=True)
        assert limiter.concurrency < before

    asyncio.run(main())


def test_malformed_tool_input_from_the_api_is_sent_back_and_the_run_recovers() -> None:
    index = FakeIndex([segment("m1", 0, "The remote is too heavy.")])
    final = {
        "summary": "s",
        "findings": [
            {
                "claim": "The remote is too heavy for the participant.",
                "evidence": [{"doc_id": "m1", "segment_id": "m1#0", "quote": "too heavy"}],
                "confidence": 0.8,
            }
        ],
    }

    def responder(body: dict[str, Any]) -> list[dict[str, Any]]:
        last = body["messages"][-1]["content"][-1]
        if last.get("type") == "tool_result" and not last.get("is_error"):
            return [{"type": "tool_use", "id": "toolu_f", "name": "final_output", "input": final}]
        return [
            {"type": "tool_use", "id": "toolu_s", "name": "search", "input": {"query": "heavy"}}
        ]

    async def main() -> None:
        async with FakeAnthropicServer(responder=responder) as server:
            server.inject("malformed_tool")
            async with AnthropicModel(api_key="k", base_url=server.base_url) as model:
                registry = ToolRegistry([search_tool(index), read_segment_tool(index)])
                agent = Agent(load_spec("interview-analyst"), model, registry)
                result = await agent.run(AgentTask(instructions="Is the remote heavy?"))
            assert result.status == "ok"
            assert result.tool_calls == ["search", "search", "final_output"]
            error_turn = server.requests_seen[1]["messages"][-1]["content"][0]
            assert (
                error_turn["is_error"] and "invalid arguments" in error_turn["content"][0]["text"]
            )
            assert index.queries == ["heavy"]

    asyncio.run(main())


def test_cached_model_over_the_real_client(tmp_path: Path) -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            async with AnthropicModel(api_key="k", base_url=server.base_url) as model:
                cached = CachedModel(model, tmp_path / "cache.sqlite")
                request = ModelRequest(messages=[user("hi")], tier="fast")
                first = await cached.complete(request)
                second = await cached.complete(request)
                cached.close()
            assert len(server.records) == 1
            assert second.cached and second.text == first.text

    asyncio.run(main())


def test_retries_go_before_queued_first_attempts() -> None:
    async def main() -> list[str]:
        limiter = AdaptiveLimiter(initial_concurrency=1)
        order: list[str] = []
        holder = await limiter.acquire()

        async def take(name: str, priority: bool) -> None:
            ticket = await limiter.acquire(priority=priority)
            order.append(name)
            limiter.release(ticket, latency=0.01)

        first = [asyncio.create_task(take(f"first-{i}", False)) for i in range(3)]
        while not limiter._gate.locked():  # the first attempts have queued up
            await asyncio.sleep(0)
        retry = asyncio.create_task(take("retry", True))
        while limiter._priority_waiting == 0:  # observable: the retry is waiting
            await asyncio.sleep(0)
        limiter.release(holder, latency=0.01)
        await asyncio.gather(*first, retry)
        return order

    assert asyncio.run(main())[0] == "retry"


def test_guard_covers_batches_too() -> None:
    from subagents.errors import ModelRequestsBlockedError
    from subagents.models.batches import BatchRunner
    from subagents.models.guard import block_model_requests

    async def main() -> None:
        model = AnthropicModel(api_key="k", base_url="https://api.anthropic.com")
        try:
            with pytest.raises(ModelRequestsBlockedError):
                await BatchRunner(model).run({"a": ModelRequest(messages=[user("x")])})
        finally:
            await model.aclose()

    with block_model_requests():
        asyncio.run(main())
