"""What the command modules share: the options several commands take, defined once, and
the decorator kept for their commands.

Each option is a decorator (`@project_option()`, `@engine_option()`, ...); a command that
needs another default or help says so in the call, never by writing the option again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from workbench.engines.registry import ENGINES

Decorator = Callable[[Any], Any]

PROJECT_HELP = (
    "Project directory (settings, index, runs and response cache live in DIR/.workbench)."
)
ENGINE_HELP = (
    "offline (no model) or model; default: the model when one is configured "
    "(ANTHROPIC_API_KEY, or an OpenAI-compatible endpoint in the settings or --model-url)."
)


def _guard(fn: Any) -> Any:
    """Kept for commands registered from other modules: errors are handled in one place,
    `WorkbenchCLI.main`, so this decorator only keeps the command's name and help."""
    return fn


def project_option(help: str = PROJECT_HELP, *, default: Path | None = Path(".")) -> Decorator:
    """`--project DIR` (the parameter `project_dir`): where the project's state lives."""
    return click.option(
        "--project",
        "project_dir",
        type=click.Path(path_type=Path),
        default=default,
        show_default=default is not None,
        help=help,
    )


def engine_option(*, default: str | None = None, help: str = ENGINE_HELP) -> Decorator:
    """`--engine`, its choices from the registry (`workbench.engines.registry.ENGINES`)."""
    return click.option(
        "--engine",
        type=click.Choice(list(ENGINES)),
        default=default,
        show_default=default is not None,
        help=help,
    )


def json_option(help: str = "Print one JSON object on stdout.") -> Decorator:
    """`--json` (the parameter `as_json`): stdout carries exactly one JSON object."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def doc_option() -> Decorator:
    """`--doc ID` (repeatable; the parameter `doc_ids`): only these documents."""
    return click.option(
        "--doc", "doc_ids", multiple=True, help="Only these document ids (repeatable)."
    )


def new_run_option(
    help: str = "Start a new run even if an unfinished one can be resumed.",
) -> Decorator:
    """`--new-run`: do not resume the unfinished run with the same inputs."""
    return click.option("--new-run", is_flag=True, help=help)


def eval_store_option(help: str = "Where versioned evaluation reports are kept.") -> Decorator:
    """`--store DIR` (the parameter `store_dir`) of `eval analysis` and `eval compare`."""
    return click.option(
        "--store",
        "store_dir",
        type=click.Path(path_type=Path),
        default=Path(".workbench/evals"),
        show_default=True,
        help=help,
    )


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
