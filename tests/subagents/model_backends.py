"""The two HTTP model backends and their fake servers, behind one small interface.

The contract suite (`test_model_contract.py`) is written once against `Backend` and
runs for the Anthropic Messages API and for an OpenAI-compatible endpoint. Responders
are Messages-shaped (`blocks`); the OpenAI fake sees them through `blocks_responder`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from subagents.models.anthropic import AnthropicModel
from subagents.models.openai_compat import OpenAICompatibleModel
from subagents.models.pricing import ModelPrice, PriceTable
from subagents.testing.fake_openai_server import (
    FakeOpenAIConfig,
    FakeOpenAIServer,
    OpenAIFaultPlan,
    blocks_responder,
)
from subagents.testing.fake_server import FakeAnthropicServer, FakeServerConfig, FaultPlan

Blocks = Callable[[dict[str, Any]], list[dict[str, Any]]]
OPENAI_TIERS = {"lead": "big-model", "worker": "mid-model", "fast": "small-model"}


def openai_prices() -> PriceTable:
    """Hosted-style prices for the OpenAI-compatible backend, so cost checks are not zero."""
    from decimal import Decimal

    p = ModelPrice(Decimal("2"), Decimal("8"), cache_read=Decimal("0.5"))
    return PriceTable({m: p for m in OPENAI_TIERS.values()})


@dataclass
class Backend:
    name: str
    fault_names: dict[str, str]  # neutral name -> this server's fault name

    def fault(self, neutral: str) -> str:
        return self.fault_names.get(neutral, neutral)

    @asynccontextmanager
    async def serve(
        self,
        blocks: Blocks | None = None,
        *,
        rpm: int | None = None,
        window_s: float = 60.0,
        latency_s: float = 0.0,
        hang_s: float = 30.0,
        api_key: str | None = None,
        exhausted: bool = False,
        context_window: int | None = None,
        faults: dict[str, float] | None = None,
    ) -> AsyncIterator[Any]:
        rates = {f"rate_{self.fault(k)}": v for k, v in (faults or {}).items()}
        if self.name == "anthropic":
            config = FakeServerConfig(
                requests_per_window=rpm,
                window_s=window_s,
                latency_s=latency_s,
                hang_s=hang_s,
                api_key=api_key,
                spend_limit_reached=exhausted,
                context_window=context_window,
                faults=FaultPlan(**rates),
            )
            async with FakeAnthropicServer(config, blocks) as server:
                yield server
        else:
            oconfig = FakeOpenAIConfig(
                requests_per_window=rpm,
                window_s=window_s,
                latency_s=latency_s,
                hang_s=hang_s,
                api_key=api_key,
                quota_exhausted=exhausted,
                context_window=context_window,
                faults=OpenAIFaultPlan(**rates),
            )
            responder = blocks_responder(blocks) if blocks is not None else None
            async with FakeOpenAIServer(oconfig, responder) as server:
                yield server

    def client(self, server: Any, **kw: Any) -> Any:
        if self.name == "anthropic":
            kw.setdefault("api_key", "k")
            return AnthropicModel(base_url=server.base_url, **kw)
        kw.setdefault("api_key", "k")
        kw.setdefault("tiers", OPENAI_TIERS)
        kw.setdefault("prices", openai_prices())
        return OpenAICompatibleModel(base_url=server.base_url, **kw)

    def tier_model(self, tier: str) -> str:
        if self.name == "anthropic":
            return {
                "lead": "claude-opus-4-6",
                "worker": "claude-sonnet-4-6",
                "fast": "claude-haiku-4-5",
            }[tier]
        return OPENAI_TIERS[tier]

    def seen_model(self, body: dict[str, Any]) -> str:
        return str(body["model"])


BACKENDS = [
    Backend("anthropic", {"malformed": "malformed_tool", "5xx": "529"}),
    Backend("openai", {"malformed": "malformed_json", "5xx": "503"}),
]
