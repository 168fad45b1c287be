"""The real AnthropicModel (real SDK, real HTTP) against the fake Messages API on loopback."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from subagents.errors import ModelCallError, ModelRequestsBlockedError, NonRetryableModelError
from subagents.models.anthropic import AnthropicModel
from subagents.models.guard import block_model_requests, check_request_allowed
from subagents.models.messages import ModelRequest, TextBlock, ToolDefinition, user
from subagents.models.pricing import PriceTable
from subagents.models.ratelimit import AdaptiveLimiter
from subagents.testing.fake_server import FakeAnthropicServer, FakeServerConfig, count_tokens


def _request(**kw: object) -> ModelRequest:
    return ModelRequest(
        system=[TextBlock(text="You are a careful analyst. " * 20)],
        messages=[user("Summarise the meeting. " * 10)],
        tools=[
            ToolDefinition(name="search", description="search", input_schema={"type": "object"})
        ],
        **kw,  # type: ignore[arg-type]
    )


def test_usage_cache_tokens_and_cost_match_the_server() -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            async with AnthropicModel(api_key="k", base_url=server.base_url) as model:
                first = await model.complete(_request())
                second = await model.complete(_request())
            body = server.requests_seen[0]
            # breakpoints on tools, system and the shared first message
            assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
            assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
            assert body["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral"}
            assert body["model"] == "claude-sonnet-4-6"  # the worker tier's default
            assert first.usage.cache_creation_input_tokens > 0
            assert first.usage.cache_read_input_tokens == 0
            assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
            assert second.cost_usd < first.cost_usd
            total = first.usage + second.usage
            assert total.input_tokens == server.usage_total["input_tokens"]
            assert total.output_tokens == server.usage_total["output_tokens"]
            assert total.cache_read_input_tokens == server.usage_total["cache_read_input_tokens"]
            assert model.stats.cost_usd == PriceTable().cost("claude-sonnet-4-6", total)
            assert first.request_id is not None and first.request_id.startswith("req_")

    asyncio.run(main())


def test_tier_and_explicit_model_ids() -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            async with AnthropicModel(
                api_key="k", base_url=server.base_url, tiers={"fast": "claude-haiku-4-5"}
            ) as model:
                await model.complete(_request(tier="fast"))
                await model.complete(_request(model="claude-opus-4-1"))
            assert [b["model"] for b in server.requests_seen] == [
                "claude-haiku-4-5",
                "claude-opus-4-1",
            ]

    asyncio.run(main())


def test_retries_429_honouring_retry_after_then_529_and_500() -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            server.inject("429", "529", "500")
            async with AnthropicModel(
                api_key="k", base_url=server.base_url, backoff_base_s=0.01, seed=1
            ) as model:
                t0 = time.monotonic()
                response = await model.complete(_request())
                elapsed = time.monotonic() - t0
            assert response.attempts == 4
            assert dict(model.stats.retries_by_reason) == {"429": 1, "529": 1, "500": 1}
            assert elapsed >= 1.0  # the injected 429 said retry-after: 1
            assert [r.status for r in server.records] == [429, 529, 500, 200]

    asyncio.run(main())


@pytest.mark.parametrize("setting", ["auth", "spend_limit"])
def test_non_retryable_errors_are_not_retried(setting: str) -> None:
    config = (
        FakeServerConfig(api_key="right-key")
        if setting == "auth"
        else FakeServerConfig(spend_limit_reached=True)
    )

    async def main() -> None:
        async with FakeAnthropicServer(config) as server:
            async with AnthropicModel(api_key="wrong-key", base_url=server.base_url) as model:
                with pytest.raises(NonRetryableModelError) as info:
                    await model.complete(_request())
            assert len(server.records) == 1  # exactly one attempt
            if setting == "auth":
                assert info.value.status == 401
            else:
                assert info.value.status == 429
                assert info.value.error_code == "enforced_spend_limit_reached"

    asyncio.run(main())


def test_the_right_key_passes_the_key_check() -> None:
    async def main() -> None:
        async with FakeAnthropicServer(FakeServerConfig(api_key="right-key")) as server:
            async with AnthropicModel(api_key="right-key", base_url=server.base_url) as model:
                response = await model.complete(_request())
            assert response.text and [r.status for r in server.records] == [200]

    asyncio.run(main())


def test_a_spec_temperature_reaches_the_api_through_the_pinned_sdk() -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            async with AnthropicModel(api_key="k", base_url=server.base_url) as model:
                await model.complete(_request(temperature=0.2))
            assert server.requests_seen[-1]["temperature"] == 0.2

    asyncio.run(main())


def test_hung_response_times_out_and_is_retried() -> None:
    async def main() -> None:
        async with FakeAnthropicServer(FakeServerConfig(hang_s=20)) as server:
            server.inject("hang")
            async with AnthropicModel(
                api_key="k", base_url=server.base_url, timeout_s=0.5, backoff_base_s=0.01
            ) as model:
                response = await model.complete(_request())
            assert response.attempts == 2
            assert model.stats.retries_by_reason["timeout"] == 1

    asyncio.run(main())


def test_gives_up_after_max_attempts() -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            server.inject("500", "500", "500")
            async with AnthropicModel(
                api_key="k", base_url=server.base_url, max_attempts=2, backoff_base_s=0.01
            ) as model:
                with pytest.raises(ModelCallError, match="after 2 attempts"):
                    await model.complete(_request())
            assert len(server.records) == 2

    asyncio.run(main())


def test_limiter_learns_the_limit_and_keeps_429s_rare() -> None:
    """40 calls against 20 requests per 2 s (bucket of 20): pacing, not hammering."""
    config = FakeServerConfig(requests_per_window=20, window_s=2.0, latency_s=0.02)

    async def main() -> None:
        async with FakeAnthropicServer(config) as server:
            limiter = AdaptiveLimiter(initial_concurrency=2)
            async with AnthropicModel(
                api_key="k", base_url=server.base_url, limiter=limiter
            ) as model:
                responses = await asyncio.gather(*(model.complete(_request()) for _ in range(40)))
            assert len(responses) == 40
            assert limiter.request_rate == pytest.approx(10.0, rel=0.3)
            statuses = server.status_counts()
            assert statuses[200] == 40
            assert statuses[429] <= 2

    asyncio.run(main())


def test_guard_blocks_real_hosts_but_not_loopback() -> None:
    async def main() -> None:
        model = AnthropicModel(api_key="k", base_url="https://api.anthropic.com")
        with pytest.raises(ModelRequestsBlockedError, match="ALLOW_MODEL_REQUESTS"):
            await model.complete(_request())
        await model.aclose()

    with block_model_requests():
        asyncio.run(main())
        check_request_allowed("http://127.0.0.1:1234/v1/messages")
        check_request_allowed("http://[::1]:1234/v1/messages")
        with pytest.raises(ModelRequestsBlockedError):
            check_request_allowed("https://example.com/v1/messages")


def test_fake_server_token_counting_is_what_it_reports() -> None:
    async def main() -> None:
        async with FakeAnthropicServer() as server:
            async with AnthropicModel(api_key="k", base_url=server.base_url) as model:
                r = await model.complete(_request(cache=False))
            assert r.usage.cache_creation_input_tokens == 0
            assert r.usage.output_tokens == count_tokens(
                [{"type": "text", "text": "fake response"}]
            )
            assert r.cost_usd > Decimal(0)

    asyncio.run(main())


def test_fake_server_in_a_thread_serves_sync_callers() -> None:
    from subagents.testing.fake_server import fake_server_in_thread

    with fake_server_in_thread() as server:

        async def call() -> str:
            async with AnthropicModel(api_key="k", base_url=server.base_url) as model:
                return (await model.complete(_request())).text

        assert asyncio.run(call()) == "fake response"
    assert len(server.records) == 1


def test_input_tokens_per_window_is_enforced_and_paced() -> None:
    """The token bucket binds (not the request bucket): the limiter paces on tokens too."""
    config = FakeServerConfig(
        requests_per_window=1000, input_tokens_per_window=4000, window_s=2.0, latency_s=0.01
    )

    async def main() -> None:
        async with FakeAnthropicServer(config) as server:
            limiter = AdaptiveLimiter(initial_concurrency=2)
            async with AnthropicModel(api_key="k", base_url=server.base_url, limiter=limiter) as m:
                await asyncio.gather(*(m.complete(_request(cache=False)) for _ in range(30)))
            first = server.records[0]
            assert first.status == 200
            statuses = server.status_counts()
            assert statuses[200] == 30
            assert statuses[429] <= 3
            assert limiter._buckets["input-tokens"].rate == pytest.approx(2000, rel=0.3)

    asyncio.run(main())
