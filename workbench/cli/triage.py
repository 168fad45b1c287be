"""`workbench triage` and `workbench eval triage`.

    workbench triage TICKETS --labels LABELLED.csv --label-column label
                     [--group-column repo] [--text-columns title,body] [--threshold X]
                     [--definitions defs.json] [--engine offline|model] [--project DIR] [--json]
    workbench eval triage --train TRAIN.csv --test TEST.csv --label-column label
                     [--group-column repo] [--text-columns title,body]
                     [--engine offline|model] [--definitions defs.json] [--json]

Registered by `workbench.cli.app` through `register(main, eval_group)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from workbench.cli.common import (
    _guard,
    engine_option,
    json_option,
    new_run_option,
    project_option,
)
from workbench.core.errors import UserError


def _ticket_options(fn: Any) -> Any:
    """`--label-column`, `--group-column`, `--text-columns` and `--definitions`: how a
    tickets file is read, the same for `triage` and `eval triage`."""
    for option in reversed(
        (
            click.option("--label-column", default="label", show_default=True),
            click.option(
                "--group-column", default=None, help="Learn per group, e.g. repo or product."
            ),
            click.option(
                "--text-columns",
                default=None,
                help="Columns that make a ticket's text, first the title: e.g. title,body.",
            ),
            click.option(
                "--definitions",
                type=click.Path(path_type=Path),
                default=None,
                help='JSON {"category": "definition"} (the model engine reads them).',
            ),
        )
    ):
        fn = option(fn)
    return fn


def register(main: click.Group, eval_group: click.Group) -> None:

    @main.command(name="triage")
    @click.argument("tickets", type=click.Path(path_type=Path))
    @click.option(
        "--labels",
        "labels_path",
        type=click.Path(path_type=Path),
        required=True,
        help="Tickets the team already labelled (.csv or .jsonl); may be TICKETS itself.",
    )
    @_ticket_options
    @click.option(
        "--threshold",
        type=click.FloatRange(0, 1),
        default=None,
        help="Tickets under this confidence go to review (default: settings.triage).",
    )
    @engine_option()
    @project_option()
    @new_run_option("Start afresh instead of resuming.")
    @json_option("Print one JSON summary on stdout.")
    @_guard
    def triage_cmd(
        tickets: Path,
        labels_path: Path,
        label_column: str,
        group_column: str | None,
        text_columns: str | None,
        threshold: float | None,
        definitions: Path | None,
        engine: str | None,
        project_dir: Path,
        new_run: bool,
        as_json: bool,
    ) -> None:
        """Sort TICKETS into the team's categories, learned from the labelled tickets."""
        from workbench.project import Project

        for p in (tickets, labels_path):
            if not p.exists():
                raise UserError(f"not found: {p}")
        run = Project(project_dir).triage(
            tickets,
            labels_path,
            label_column=label_column,
            group_column=group_column,
            text_columns=text_columns,
            engine=engine,
            threshold=threshold,
            definitions=definitions,
            resume=not new_run,
        )
        summary = run.summary()
        if as_json:
            click.echo(json.dumps(summary, ensure_ascii=False))
            return
        t = summary["triage"]
        click.echo(f"\n{summary['engine_note']}")
        total = summary["documents"]
        click.echo(f"{total} tickets:")
        for cat, n in t.get("categories", {}).items():
            click.echo(f"  - {cat}: {n} of {total}")
        click.echo(
            f"{t.get('sent_to_review', 0)} went to review (threshold {t.get('threshold'):.2f})"
        )
        fit = t.get("fit") or {}
        if fit.get("cv_f1") is not None:
            click.echo(f"held-out estimate: macro F1 {fit['cv_f1']:.2f}")
        for note in fit.get("classifier", []):
            click.echo(f"classifier: {note}")
        click.echo(f"\nRun written to {summary['run_dir']}")
        for name, p in summary["outputs"].items():
            click.echo(f"  {name}: {p}")

    @eval_group.command(name="triage")
    @click.option("--train", "train", type=click.Path(path_type=Path), required=True)
    @click.option("--test", "test", type=click.Path(path_type=Path), required=True)
    @_ticket_options
    @engine_option(
        default="offline",
        help="offline: learn from TRAIN; model: the ticket-analyst, TRAIN as its examples.",
    )
    @project_option()
    @json_option()
    @_guard
    def eval_triage(
        train: Path,
        test: Path,
        label_column: str,
        group_column: str | None,
        text_columns: str | None,
        engine: str,
        definitions: Path | None,
        project_dir: Path,
        as_json: bool,
    ) -> None:
        """Learn from TRAIN, predict TEST: macro precision, recall and F1 (per group too)."""
        import workbench as wb
        from workbench.core.settings import Settings
        from workbench.engines.registry import engine_info
        from workbench.triage.evaluate import evaluate_triage

        for p in (train, test):
            if not p.exists():
                raise UserError(f"not found: {p}")
        settings = Settings.load(project_dir / ".workbench" / "config.toml")
        uses_model = engine_info(engine).uses_model
        result = evaluate_triage(
            train,
            test,
            label_column=label_column,
            group_column=group_column,
            text_columns=text_columns,
            settings=settings.triage,
            engine=engine,
            project=wb.Project(project_dir) if uses_model else None,
            definitions=definitions,
        )
        details = result.pop("details")
        for note in details["notes"]:
            click.echo(f"note: {note}", err=True)
        if uses_model:
            click.echo(
                f"{engine} engine: ${details['cost_usd']:.4f}, {details['no_category']} tickets "
                f"without a category; run kept in {details['run_dir']}",
                err=True,
            )
        click.echo(
            f"{details['train']} training and {details['test']} test tickets in "
            f"{details['seconds_train_and_predict']:.1f}s; at threshold "
            f"{details['review_threshold']:.2f}, {100 * details['sent_to_review']:.0f}% would go to "
            f"review, the rest {100 * details['accuracy_of_the_rest']:.0f}% right",
            err=True,
        )
        if as_json:
            click.echo(json.dumps(result))
            return
        o = result["overall"]
        click.echo(
            f"overall: precision {o['precision']:.3f} recall {o['recall']:.3f} f1 {o['f1']:.3f}"
        )
        for name, g in result["groups"].items():
            click.echo(f"  {name}: f1 {g['f1']:.3f}")
        for name, g in result["per_label"].items():
            click.echo(
                f"  [{name}] precision {g['precision']:.3f} recall {g['recall']:.3f} f1 {g['f1']:.3f}"
            )
