"""What the command modules share: option sets and the decorator kept for their commands."""

from __future__ import annotations

from typing import Any

import click


def _guard(fn: Any) -> Any:
    """Kept for commands registered from other modules: errors are handled in one place,
    `WorkbenchCLI.main`, so this decorator only keeps the command's name and help."""
    return fn


def model_options(fn: Any) -> Any:
    """`--model-url` and `--model`: an OpenAI-compatible endpoint for this command."""
    fn = click.option(
        "--model",
        "model_name",
        default=None,
        help="Model id for every tier (lead, worker, fast), e.g. qwen2.5:7b-instruct.",
    )(fn)
    return click.option(
        "--model-url",
        default=None,
        help="An OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, LM Studio, LiteLLM), "
        "e.g. http://localhost:11434/v1; sets [models] provider and base_url for this command.",
    )(fn)
