"""The run's model stack from the settings: provider client, prices, context windows.

    MeteredModel (budget caps, ledger, circuit breaker)         <- added by the run
      -> CachedModel (cache.sqlite, content-addressed; optional)
        -> BatchedModel (Message Batches; Anthropic, batch runs only)
          -> AnthropicModel | OpenAICompatibleModel

`context_budget(settings)` is the one `ContextBudget` of a run: the provider refuses a
request that cannot fit before sending it, and the model engine, `ask`, the judge and
the query writer size their work with the same object. `describe` and `probe` are what
`workbench doctor` prints.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workbench.core.errors import UserError

if TYPE_CHECKING:
    from subagents.models.context import ContextBudget
    from subagents.models.messages import Model
    from subagents.models.pricing import PriceTable
    from workbench.core.settings import Settings


def context_budget(settings: Settings, tiers: dict[str, str] | None = None) -> ContextBudget:
    """The run's budget; `tiers` (tier -> model id) when the model was injected rather
    than built from the settings, so each request meets its real model's window."""
    from subagents.models.context import ContextBudget

    m = settings.models
    return ContextBudget(
        windows=dict(m.context_windows),
        default_window=m.default_window(),
        tiers=tiers or m.tiers(),  # type: ignore[arg-type]
        chars_per_token=m.chars_per_token,
    )


def price_table(settings: Settings) -> PriceTable:
    """The built-in prices (Anthropic list prices) plus the project's `[models.prices]`."""
    from subagents.models.pricing import DEFAULT_PRICES, ModelPrice, PriceTable

    base = dict(DEFAULT_PRICES) if settings.models.provider == "anthropic" else {}
    for model, p in settings.models.prices.items():
        base[model] = ModelPrice(
            Decimal(str(p.input)),
            Decimal(str(p.output)),
            cache_write=None if p.cache_write is None else Decimal(str(p.cache_write)),
            cache_read=None if p.cache_read is None else Decimal(str(p.cache_read)),
        )
    return PriceTable(base)


def provider_model(settings: Settings, *, budget: ContextBudget | None = None) -> Any:
    """The HTTP client of the configured provider (no cache, no batching)."""
    from subagents.errors import SubagentsUserError

    m = settings.models
    env = m.key_env()
    key = os.environ.get(env) if env else None
    budget = budget if budget is not None else context_budget(settings)
    try:
        if m.provider == "openai-compatible":
            from subagents.models.openai_compat import OpenAICompatibleModel

            assert m.base_url is not None  # the settings validator saw to it
            return OpenAICompatibleModel(
                base_url=m.base_url,
                api_key=key,
                tiers=m.tiers(),  # type: ignore[arg-type]
                prices=price_table(settings),
                structured_output=m.structured_output,
                tool_calls=m.tool_calls,
                timeout_s=m.timeout_s,
                context=budget,
            )
        from subagents.models.anthropic import AnthropicModel

        return AnthropicModel(
            api_key=key,
            base_url=m.base_url or os.environ.get("ANTHROPIC_BASE_URL"),
            tiers=m.tiers(),  # type: ignore[arg-type]
            prices=price_table(settings),
            timeout_s=m.timeout_s,
            context=budget,
        )
    except SubagentsUserError as e:  # an unpriced hosted model, no credentials
        raise UserError(str(e)) from e


def build_model(
    settings: Settings, cache_path: Any, injected: Model | None = None, *, keys_file: Any = None
) -> Model:
    """The run's model stack below the meter (see the module docstring)."""
    from subagents.models.cached import CachedModel

    if injected is not None:
        model: Model = injected
    else:
        m = settings.models
        client = provider_model(settings)
        model = client
        if m.batch:
            from workbench.engines.batching import BatchedModel

            model = BatchedModel(client, window_s=m.batch_window_s, poll_interval_s=m.batch_poll_s)
    if settings.models.cache:
        model = CachedModel(model, cache_path, keys_file=keys_file)
    return model


def describe(settings: Settings, *, engine: str | None = None) -> dict[str, Any]:
    """Which engine, provider, endpoint and models a run would use (no network)."""
    m = settings.models
    chosen = engine or settings.resolved_engine()
    why = (
        "set in the settings"
        if engine or settings.engine
        else ("a model is configured" if m.configured() else (m.missing() or "no model"))
    )
    env = m.key_env()
    prices = price_table(settings)
    local = None
    if m.provider == "openai-compatible" and m.base_url:
        from subagents.models.openai_compat import is_local_endpoint

        local = is_local_endpoint(m.base_url)
    models = {}
    for tier, model in m.tiers().items():
        try:
            p = prices.price(model)
            price: Any = {"input": str(p.input), "output": str(p.output)}
        except Exception:
            price = "free (local endpoint)" if local else "UNKNOWN: add it under [models.prices]"
        models[tier] = {"model": model, "context_window": m.window(model), "price_per_mtok": price}
    return {
        "engine": chosen,
        "engine_reason": why,
        "provider": m.provider,
        "base_url": m.base_url
        or (os.environ.get("ANTHROPIC_BASE_URL") if m.provider == "anthropic" else None)
        or ("https://api.anthropic.com (SDK default)" if m.provider == "anthropic" else None),
        "local_endpoint": local,
        "api_key_env": env,
        "api_key_set": bool(env and os.environ.get(env)),
        "models": models,
        "structured_output": m.structured_output if m.provider != "anthropic" else "tools",
        "cache": m.cache,
    }


async def probe(settings: Settings, *, call: bool = False) -> dict[str, Any]:
    """Does the endpoint answer? Lists its models (and, with `call`, makes one tiny
    request to the fast tier). Obeys the ALLOW_MODEL_REQUESTS guard."""
    import time

    from subagents.models.messages import ModelRequest, user

    out: dict[str, Any] = {"reachable": False}
    client = provider_model(settings)
    t0 = time.perf_counter()
    try:
        if hasattr(client, "list_models"):
            served = await client.list_models()
        else:
            page = await client.client.models.list()
            served = [x.id for x in page.data]
        out["reachable"] = True
        out["served_models"] = served[:50]
        wanted = sorted(set(settings.models.tiers().values()))
        out["missing_models"] = [w for w in wanted if served and w not in served]
        if call:
            r = await client.complete(
                ModelRequest(messages=[user("Reply with the word ok.")], tier="fast", max_tokens=16)
            )
            out["call"] = {
                "text": r.text[:80],
                "usage": r.usage.model_dump(),
                "cost_usd": str(r.cost_usd),
            }
    except Exception as e:  # reported, not raised: doctor says what is wrong
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        out["seconds"] = round(time.perf_counter() - t0, 3)
        await client.aclose()
    return out
