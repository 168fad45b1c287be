"""The engines by name, and the one resolver `analyze`, `ask`, `triage` and `eval` use.

An unknown name is a `UserError` that lists the choices; the model engine without a model
at hand (no `Project(model=...)`, no API key, no local endpoint) is one that says how to
get one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.errors import UserError

if TYPE_CHECKING:
    from workbench.core.settings import Settings

# name -> what it is (shown in errors and help)
ENGINES: dict[str, str] = {
    "offline": "no language model: deterministic sub-agents",
    "model": "sub-agents on a language model (Anthropic, or an OpenAI-compatible endpoint)",
}


def engine_choices() -> str:
    return ", ".join(repr(n) for n in ENGINES)


def check_engine(name: str) -> str:
    """`name` when it is a known engine, else a UserError listing the choices."""
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r}; choose one of {engine_choices()}")
    return name


def resolve_engine(engine: str | None, settings: Settings, *, has_model: bool) -> str:
    """The engine a call runs on: `engine`, else the settings', else the model engine when
    a model is at hand (`has_model`: one passed in or `Project(model=...)`; else an API key
    or a local endpoint in the settings)."""
    chosen = engine or settings.engine
    if chosen is None:
        chosen = "model" if has_model else settings.resolved_engine()
    check_engine(chosen)
    if chosen == "model" and not has_model:
        missing = settings.models.missing()
        if missing:
            raise UserError(
                f"the model engine needs an API key: {missing} (or pass Project(model=...), "
                'or point the settings at a local model: [models] provider = "openai-compatible" '
                "and base_url, or --model-url); without one, use --engine offline"
            )
    return chosen
