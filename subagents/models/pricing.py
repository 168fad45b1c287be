"""Prices per model, and the cost of a call computed exactly (Decimal, USD).

Prices are USD per million tokens. Cache writes (5-minute TTL) cost 1.25x input and
cache reads 0.1x input; the Message Batches API costs half of everything. Prices change:
pass your own `PriceTable` (or `with_price`) rather than editing this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from subagents.errors import UnknownModelPriceError
from subagents.models.messages import Tier, Usage

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    input: Decimal  # USD per million input tokens
    output: Decimal
    cache_write: Decimal | None = None  # default 1.25 x input
    cache_read: Decimal | None = None  # default 0.1 x input

    def cost(self, usage: Usage, *, batch: bool = False) -> Decimal:
        write = self.cache_write if self.cache_write is not None else self.input * Decimal("1.25")
        read = self.cache_read if self.cache_read is not None else self.input * Decimal("0.1")
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * write
            + usage.cache_read_input_tokens * read
        ) / MILLION
        return total / 2 if batch else total


def _p(inp: str, out: str) -> ModelPrice:
    return ModelPrice(Decimal(inp), Decimal(out))


# Published list prices (USD / million tokens). Models newer than this table must be
# added by the user (`with_price`): the runtime refuses to call a model it cannot cost.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-opus-4-6": _p("5", "25"),
    "claude-opus-4-5": _p("5", "25"),
    "claude-opus-4-1": _p("15", "75"),
    "claude-sonnet-4-6": _p("3", "15"),
    "claude-sonnet-4-5": _p("3", "15"),
    "claude-haiku-4-5": _p("1", "5"),
}

DEFAULT_TIERS: dict[Tier, str] = {
    "lead": "claude-opus-4-6",
    "worker": "claude-sonnet-4-6",
    "fast": "claude-haiku-4-5",
}


@dataclass
class PriceTable:
    """Model id -> price. Dated ids (`claude-haiku-4-5-20251001`) match their alias."""

    prices: dict[str, ModelPrice] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def with_price(self, model: str, price: ModelPrice) -> PriceTable:
        return PriceTable({**self.prices, model: price})

    def price(self, model: str) -> ModelPrice:
        if model in self.prices:
            return self.prices[model]
        for known in sorted(self.prices, key=len, reverse=True):
            if model.startswith(known + "-"):
                return self.prices[known]
        raise UnknownModelPriceError(
            f"no price for model {model!r}; known: {sorted(self.prices)}. "
            "Add it with PriceTable().with_price(model, ModelPrice(input=..., output=...))."
        )

    def cost(self, model: str, usage: Usage, *, batch: bool = False) -> Decimal:
        return self.price(model).cost(usage, batch=batch)
