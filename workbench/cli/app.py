"""The `workbench` command line.

    workbench analyze <path> -q "<question>" [--project DIR] [--recipe NAME|auto]
                      [--engine offline|model] [--executor asyncio|ray] [--batch]
                      [--steer-file FILE] [--codebook FILE] [--max-usd X] [--max-tasks N]
                      [--max-file-mib N] [--json]
    workbench doctor [--project DIR] [--model-url URL] [--model NAME] [--call] [--json]
    workbench runs [--project DIR]
    workbench steer <run-dir> "<message>"      (or /pause, /resume, /cancel)
    workbench eval retrieval <bench.json> <corpus> [--json]
    workbench triage <tickets> --labels <labelled> --label-column COL [--group-column COL]
    workbench eval triage --train A.csv --test B.csv --label-column COL [--json]
    workbench export qdpx|codebook <run-dir>; workbench eval coding <run-dir> <coded>

Progress goes to stderr; with --json, stdout carries exactly one JSON object.
Exit codes: 0 done, 1 the run failed, 2 bad input or settings, 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from workbench.cli import ask as cli_ask
from workbench.cli import evaluate as cli_evaluate
from workbench.cli import qda as cli_qda
from workbench.cli import triage as cli_triage
from workbench.cli.common import (
    _guard,
    engine_option,
    json_option,
    model_options,
    new_run_option,
    project_option,
)
from workbench.cli.terminal import say, say_json
from workbench.core.errors import UserError, WorkbenchError


def _report(e: BaseException) -> int:
    """Say what went wrong (no traceback) and return the exit code: 2 bad input or settings,
    1 a failed run, 130 interrupted."""
    from workbench.core.errors import translate

    if isinstance(e, KeyboardInterrupt) or (
        isinstance(e, click.Abort) and isinstance(e.__context__ or e.__cause__, KeyboardInterrupt)
    ):
        say("interrupted; run the same command again to resume", err=True)
        return 130
    if isinstance(e, click.Abort):
        say("error: aborted", err=True)
        return 1
    if isinstance(e, click.ClickException):
        if isinstance(e, click.UsageError) and e.ctx is not None:
            say(e.ctx.get_usage(), err=True)
            say(f"Try '{e.ctx.command_path} -h' for help.\n", err=True)
        say(f"error: {e.format_message()}", err=True)
        return e.exit_code
    err = translate(e)
    if os.environ.get("WORKBENCH_DEBUG"):
        import traceback

        traceback.print_exception(e)
    say(f"error: {err}", err=True)
    return 2 if isinstance(err, UserError) else 1


class WorkbenchCLI(click.Group):
    """The command group, and the CLI's one error boundary: every exception of every
    command (from any of the five packages) is translated by `workbench.core.errors.translate`
    and shown as one `error:` line; the traceback only with WORKBENCH_DEBUG=1."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        run = super().main
        if not standalone_mode:
            return run(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = run(args, prog_name, complete_var, standalone_mode=False, **extra)
        except SystemExit:
            raise
        except BaseException as e:  # the boundary: nothing escapes as a traceback
            sys.exit(_report(e))
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=WorkbenchCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="research-workbench")
def main() -> None:
    """research-workbench: analyse a corpus with sub-agents; get themes, quotes, a deck and a report."""
    # progress goes through our own log lines; third-party progress bars only add noise
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-q", "--question", required=True, help="What you want to learn from the corpus.")
@project_option()
@click.option(
    "--recipe",
    default="themes",
    show_default=True,
    help="themes, triage, repo-map, compare-segments, or auto (the planner writes the plan).",
)
@engine_option()
@click.option(
    "--executor",
    type=click.Choice(["asyncio", "ray"]),
    default=None,
    help="Where fan-out tasks run (ray: a local cluster, or RAY_ADDRESS / ray_address).",
)
@click.option("--batch", is_flag=True, help="Model calls through the Message Batches API.")
@click.option(
    "--steer-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Lines appended to this file steer the run (/pause, /resume, /cancel too).",
)
@click.option(
    "--codebook",
    type=click.Path(path_type=Path),
    default=None,
    help="Code against your codebook: .csv or .yaml (code, description, examples, parent), "
    "or your QDA tool's REFI-QDA .qdc / .qdpx.",
)
@click.option("--max-usd", type=float, default=None, help="Stop the run at this cost.")
@click.option("--max-tasks", type=int, default=None, help="Start at most this many tasks.")
@click.option(
    "--max-file-mib",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Skip corpus files larger than this many MiB (default 20; max_file_mib in the settings).",
)
@new_run_option()
@click.option(
    "--interviewer",
    "interviewers",
    multiple=True,
    metavar="LABEL",
    help="A speaker label to treat as interviewer in every conversation (repeatable); "
    "overrides the detection.",
)
@click.option(
    "--participant",
    "participants",
    multiple=True,
    metavar="LABEL",
    help="A speaker label to treat as participant even if it names a role, e.g. a "
    'participant labelled "Interviewer" (repeatable).',
)
@json_option("Print one JSON summary on stdout.")
@model_options
@_guard
def analyze(
    path: Path,
    question: str,
    project_dir: Path,
    recipe: str,
    engine: str | None,
    executor: str | None,
    batch: bool,
    steer_file: Path | None,
    codebook: Path | None,
    max_usd: float | None,
    max_tasks: int | None,
    max_file_mib: float | None,
    new_run: bool,
    interviewers: tuple[str, ...],
    participants: tuple[str, ...],
    as_json: bool,
    model_url: str | None,
    model_name: str | None,
) -> None:
    """Analyse the documents at PATH and write themes, charts, a deck and a report.

    In conversations the interviewer is detected per document (a label such as
    "Interviewer" or "Moderator", or the speaker who asks the questions); their turns are
    kept as the prompts of participants' answers, never as evidence. The outputs say who
    was treated as interviewer in each document; --interviewer/--participant override it.
    """
    from workbench.core.settings import Settings
    from workbench.project import Project

    if not path.exists():
        raise UserError(f"corpus path not found: {path}")
    if not question.strip():
        raise UserError(
            'the question is empty; say what you want to learn, e.g. -q "What frustrates users?"'
        )
    project = Project(project_dir)
    project.settings = project.settings.with_model_url(model_url, model_name)
    s = project.settings
    updates: dict[str, Any] = {}
    if executor:
        updates["executor"] = executor
    if steer_file is not None:
        updates["steering_file"] = str(steer_file)
    if max_file_mib is not None:
        updates["max_file_mib"] = max_file_mib
    if batch:
        updates["models"] = s.models.model_copy(update={"batch": True})
    if codebook is not None:
        if not codebook.is_file():
            raise UserError(f"codebook not found: {codebook}")
        updates["analysis"] = s.analysis.model_copy(update={"codebook": str(codebook.resolve())})
    if interviewers or participants:
        r = s.roles.model_copy()
        r.interviewers = [*r.interviewers, *interviewers]
        r.participants = [*r.participants, *participants]
        updates["roles"] = r
    if max_usd is not None or max_tasks is not None:
        b = s.budgets.model_copy()
        if max_usd is not None:
            b.max_usd = max_usd
        if max_tasks is not None:
            b.max_tasks = max_tasks
        updates["budgets"] = b
    if updates:
        project.settings = Settings.model_validate({**s.model_dump(), **_dump(updates)})
    run = project.analyze(path, question, recipe=recipe, engine=engine, resume=not new_run)
    summary = run.summary()
    if as_json:
        say_json(summary)
        return
    say(f"\n{summary['engine_note']}")
    say(
        f"{summary['documents']} documents, {summary['findings']} findings, {len(summary['themes'])} themes:"
    )
    for t in summary["themes"]:
        say(f"  - {t['label']}: {t['n_documents']} of {t['total_documents']}")
        for c in t.get("codes", []):
            say(f"      · {c['label']}: {c['n_documents']} of {t['total_documents']}")
    if summary["unassigned_documents"]:
        say(f"  ({summary['unassigned_documents']} documents fit no theme)")
    say(f"\nRun written to {summary['run_dir']}")
    for name, p in summary["outputs"].items():
        say(f"  {name}: {p}")


@main.command()
@project_option()
@json_option("Print the runs as one JSON list on stdout.")
@_guard
def runs(project_dir: Path, as_json: bool) -> None:
    """List the runs of a project."""
    from workbench.project import Project

    items, damaged = [], []
    for r in Project(project_dir).runs():
        try:
            items.append(r.summary())
        except WorkbenchError as e:  # one damaged run does not hide the others
            damaged.append(f"{r.id}: {e}")
    for d in damaged:
        say(f"warning: run {d}", err=True)
    if as_json:
        say_json(items)
        return
    for s in items:
        say(f"{s['run_id']}  {s['status']:<11} {s['engine']:<8} {s['question']}")


@main.command()
@project_option()
@engine_option()
@click.option("--no-check", is_flag=True, help="Do not contact the endpoint.")
@click.option("--call", is_flag=True, help="Also make one tiny request to the fast model.")
@json_option()
@model_options
@_guard
def doctor(
    project_dir: Path,
    engine: str | None,
    no_check: bool,
    call: bool,
    as_json: bool,
    model_url: str | None,
    model_name: str | None,
) -> None:
    """Which engine, provider and models a run would use; checks the endpoint answers.

    Exit code 1 when the endpoint does not answer or does not serve a configured model.
    """
    import asyncio

    from workbench.core.settings import Settings
    from workbench.engines.model_stack import describe, probe
    from workbench.engines.registry import engine_info

    settings = Settings.load(project_dir / ".workbench" / "config.toml")
    settings = settings.with_model_url(model_url, model_name)
    report = describe(settings, engine=engine)
    check = not no_check and (
        engine_info(report["engine"]).uses_model or settings.models.configured()
    )
    if check and settings.models.missing() is None:
        report["endpoint"] = asyncio.run(probe(settings, call=call))
    ok = "endpoint" not in report or (
        report["endpoint"]["reachable"]
        and not report["endpoint"].get("missing_models")
        and "error" not in report["endpoint"]
    )
    report["ok"] = ok
    if as_json:
        say_json(report)
    else:
        _print_doctor(report)
    if not ok:
        sys.exit(1)


def _print_doctor(r: dict[str, Any]) -> None:
    say(f"engine:   {r['engine']} ({r['engine_reason']})")
    where = r["base_url"] or "(not set)"
    if r["local_endpoint"]:
        where += " (local: models without a price cost nothing)"
    say(f"provider: {r['provider']} at {where}")
    if r["api_key_env"]:
        state = "set" if r["api_key_set"] else "NOT SET"
        say(f"api key:  {r['api_key_env']} {state}")
    else:
        say("api key:  none needed (api_key_env not set)")
    say(f"output:   {r['structured_output']}; response cache {'on' if r['cache'] else 'off'}")
    say("models:")
    for tier, m in r["models"].items():
        price = m["price_per_mtok"]
        if isinstance(price, dict):
            price = f"${price['input']} in / ${price['output']} out per million tokens"
        say(f"  {tier:<6} {m['model']}  window {m['context_window']} tokens  {price}")
    e = r.get("endpoint")
    if e is None:
        say("endpoint: not checked")
        return
    if not e["reachable"]:
        say(f"endpoint: DOES NOT ANSWER ({e.get('error', 'no reply')})")
        return
    served = e.get("served_models") or []
    say(f"endpoint: answers in {e['seconds']} s; serves {len(served)} models")
    if e.get("missing_models"):
        say(f"  NOT SERVED: {', '.join(e['missing_models'])} (pull or load them first)")
    if "call" in e:
        say(f"  one request to the fast model answered: {e['call']['text']!r}")
    if "error" in e:
        say(f"  error: {e['error']}")


def _dump(updates: dict[str, Any]) -> dict[str, Any]:
    return {k: v.model_dump() if hasattr(v, "model_dump") else v for k, v in updates.items()}


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("message")
@_guard
def steer(run_dir: Path, message: str) -> None:
    """Steer a running run from another shell: appends MESSAGE to its steering inbox.

    The run reads the inbox before each planning step and each task; /pause, /resume
    and /cancel are commands. Works for runs started with --steer-file or not.
    """
    from workbench.runs.control import INBOX

    if not (run_dir / "manifest.json").exists():
        raise UserError(f"{run_dir} is not a run directory (no manifest.json)")
    if not message.strip():
        raise UserError("the steering message is empty")
    with open(run_dir / INBOX, "a", encoding="utf-8") as f:
        f.write(message.strip().replace("\n", " ") + "\n")
    say(f"queued for {run_dir.name}: {message.strip()}")


@main.group(name="eval")
def eval_group() -> None:
    """Measure retrieval and analysis quality on labelled benchmarks."""


@eval_group.command(name="retrieval")
@click.argument("bench", type=click.Path(path_type=Path))
@click.argument("corpus", type=click.Path(path_type=Path))
@json_option()
@_guard
def eval_retrieval(bench: Path, corpus: Path, as_json: bool) -> None:
    """Recall@k, MRR, hit@k and turn recall@k for each retriever alone and fused."""
    from retrieval import RetrievalError
    from retrieval.eval import evaluate
    from workbench.core.progress import IndexProgress, progress_listener

    for p in (bench, corpus):
        if not p.exists():
            raise UserError(f"not found: {p}")
    try:
        result = evaluate(bench, corpus, index_progress=IndexProgress(progress_listener()))
    except RetrievalError as e:
        raise UserError(str(e)) from e
    if as_json:
        say_json(result)
        return
    for name, metrics in result.items():
        if isinstance(metrics, dict):
            say(
                f"{name:>10}: "
                + "  ".join(
                    f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, int | float)
                )
            )


def _register_commands() -> None:
    """Commands that live in their own modules (ask, eval analysis, eval compare, triage,
    export, eval coding)."""
    cli_ask.register(main)
    cli_evaluate.register(eval_group)
    cli_triage.register(main, eval_group)
    cli_qda.register(main, eval_group)


_register_commands()

if __name__ == "__main__":
    main()
