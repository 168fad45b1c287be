"""The `workbench` command line.

    workbench analyze <path> -q "<question>" [--project DIR] [--json]
    workbench runs [--project DIR]
    workbench eval retrieval <bench.json> <corpus> [--json]

Progress goes to stderr; with --json, stdout carries exactly one JSON object.
Exit codes: 0 done, 1 the run failed, 2 bad input or settings, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from workbench.errors import UserError, WorkbenchError


def _fail(e: Exception, code: int) -> None:
    click.echo(f"error: {e}", err=True)
    sys.exit(code)


def _guard(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            _fail(e, 2)
        except WorkbenchError as e:
            _fail(e, 1)
        except KeyboardInterrupt:
            click.echo("interrupted; run the same command again to resume", err=True)
            sys.exit(130)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="research-workbench")
def main() -> None:
    """research-workbench: analyse a corpus with sub-agents; get themes, quotes, a deck and a report."""
    # progress goes through our own log lines; third-party progress bars only add noise
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-q", "--question", required=True, help="What you want to learn from the corpus.")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project directory (settings, index and runs live in DIR/.workbench).",
)
@click.option("--recipe", default="themes", show_default=True, help="Which recipe to run.")
@click.option(
    "--engine",
    type=click.Choice(["offline", "model"]),
    default=None,
    help="offline (no model) or model; default: the project's setting, else offline.",
)
@click.option(
    "--new-run", is_flag=True, help="Start a new run even if an unfinished one can be resumed."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
@_guard
def analyze(
    path: Path,
    question: str,
    project_dir: Path,
    recipe: str,
    engine: str | None,
    new_run: bool,
    as_json: bool,
) -> None:
    """Analyse the documents at PATH and write themes, charts, a deck and a report."""
    from workbench.project import Project

    if not path.exists():
        raise UserError(f"corpus path not found: {path}")
    if not question.strip():
        raise UserError(
            'the question is empty; say what you want to learn, e.g. -q "What frustrates users?"'
        )
    project = Project(project_dir)
    run = project.analyze(path, question, recipe=recipe, engine=engine, resume=not new_run)
    summary = run.summary()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    click.echo(f"\n{summary['engine_note']}")
    click.echo(
        f"{summary['documents']} documents, {summary['findings']} findings, {len(summary['themes'])} themes:"
    )
    for t in summary["themes"]:
        click.echo(f"  - {t['label']}: {t['n_documents']} of {t['total_documents']}")
    if summary["unassigned_documents"]:
        click.echo(f"  ({summary['unassigned_documents']} documents fit no theme)")
    click.echo(f"\nRun written to {summary['run_dir']}")
    for name, p in summary["outputs"].items():
        click.echo(f"  {name}: {p}")


@main.command()
@click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True)
@_guard
def runs(project_dir: Path, as_json: bool) -> None:
    """List the runs of a project."""
    from workbench.project import Project

    items = [r.summary() for r in Project(project_dir).runs()]
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False))
        return
    for s in items:
        click.echo(f"{s['run_id']}  {s['status']:<11} {s['engine']:<8} {s['question']}")


@main.group(name="eval")
def eval_group() -> None:
    """Measure retrieval and analysis quality on labelled benchmarks."""


@eval_group.command(name="retrieval")
@click.argument("bench", type=click.Path(path_type=Path))
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@_guard
def eval_retrieval(bench: Path, corpus: Path, as_json: bool) -> None:
    """Recall@k, MRR, hit@k and turn recall@k for each retriever alone and fused."""
    from retrieval import RetrievalError
    from retrieval.eval import evaluate

    for p in (bench, corpus):
        if not p.exists():
            raise UserError(f"not found: {p}")
    try:
        result = evaluate(bench, corpus)
    except RetrievalError as e:
        raise UserError(str(e)) from e
    if as_json:
        click.echo(json.dumps(result))
        return
    for name, metrics in result.items():
        if isinstance(metrics, dict):
            click.echo(
                f"{name:>10}: "
                + "  ".join(
                    f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, int | float)
                )
            )


def _register_optional_commands() -> None:
    """Commands that live in their own modules (ask, eval analysis, ...) register here."""
    import importlib

    for module in ("workbench.cli_ask",):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        mod.register(main, eval_group)


_register_optional_commands()

if __name__ == "__main__":
    main()
