"""`workbench ask`, `workbench eval analysis` and `workbench eval compare`.

    workbench ask <corpus> -q "<question>" [--doc ID ...] [--where key=value ...] [--json]
    workbench eval analysis <golden.json> [corpus] [--json] [--save-version V] [--store DIR]
    workbench eval compare A B [--store DIR] [--json]       (A, B: report files or versions)

Registered by `workbench.cli` through `register(main, eval_group)`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from workbench.errors import UserError


def _parse_where(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for p in pairs:
        if "=" not in p:
            raise UserError(f"--where takes key=value (e.g. --where speaker=Marketing); got {p!r}")
        key, value = p.split("=", 1)
        val: Any = value
        with contextlib.suppress(json.JSONDecodeError):
            val = json.loads(value)
        out[key.strip()] = val
    if len(out) > 1:
        return {"$and": [{k: v} for k, v in out.items()]}
    return out or None


def register(main: click.Group, eval_group: click.Group) -> None:
    from workbench.cli import _guard

    @main.command(name="ask")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("-q", "--question", required=True, help="The question to answer.")
    @click.option("--doc", "doc_ids", multiple=True, help="Only these document ids (repeatable).")
    @click.option("--where", "where", multiple=True, help="Metadata filter key=value (repeatable).")
    @click.option(
        "--project",
        "project_dir",
        type=click.Path(path_type=Path),
        default=Path("."),
        show_default=True,
        help="Project directory (the index lives in DIR/.workbench).",
    )
    @click.option("--engine", type=click.Choice(["offline", "model"]), default=None)
    @click.option(
        "--max-words", type=click.IntRange(20, 2000), default=None, help="Answer length budget."
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
    @_guard
    def ask_cmd(
        path: Path,
        question: str,
        doc_ids: tuple[str, ...],
        where: tuple[str, ...],
        project_dir: Path,
        engine: str | None,
        max_words: int | None,
        as_json: bool,
    ) -> None:
        """Answer a question from the documents at PATH, citing verbatim evidence."""
        from workbench.ask import OfflineAskSettings, Scope, ask
        from workbench.project import Project

        if not path.exists():
            raise UserError(f"corpus path not found: {path}")
        scope = Scope(doc_ids=list(doc_ids) or None, where=_parse_where(where))
        settings = OfflineAskSettings(max_words=max_words) if max_words else None
        answer = ask(
            Project(project_dir),
            question,
            corpus=path,
            scope=scope,
            engine=engine,
            settings=settings,
        )
        if as_json:
            data = answer.model_dump(mode="json")
            data["text"] = answer.text
            click.echo(json.dumps(data, ensure_ascii=False))
            return
        click.echo(answer.markdown())

    @eval_group.command(name="analysis")
    @click.argument("golden", type=click.Path(path_type=Path))
    @click.argument("corpus", type=click.Path(path_type=Path), required=False)
    @click.option(
        "--engine", type=click.Choice(["offline", "model"]), default="offline", show_default=True
    )
    @click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N items.")
    @click.option(
        "--project",
        "project_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Keep the index in this project (default: a temporary one).",
    )
    @click.option(
        "--store",
        "store_dir",
        type=click.Path(path_type=Path),
        default=Path(".workbench/evals"),
        show_default=True,
        help="Where --save-version keeps reports.",
    )
    @click.option("--save-version", default=None, help="Store the report under this version name.")
    @click.option(
        "--save",
        "save_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Also write the report to this file.",
    )
    @click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object (per item + overall)."
    )
    @_guard
    def eval_analysis(
        golden: Path,
        corpus: Path | None,
        engine: str,
        limit: int | None,
        project_dir: Path | None,
        store_dir: Path,
        save_version: str | None,
        save_path: Path | None,
        as_json: bool,
    ) -> None:
        """Answer every question of a golden set and score evidence, quotes and ROUGE."""
        from workbench.evaluation.golden import load_golden
        from workbench.evaluation.regression import RegressionStore
        from workbench.evaluation.runner import evaluate_analysis
        from workbench.store import atomic_write_json

        gs = load_golden(golden)
        target = corpus or (Path(gs.corpus) if gs.corpus else None)
        if target is None:
            raise UserError(
                f"{golden} does not name its corpus; give the corpus folder as the second argument"
            )
        if not target.exists():
            raise UserError(f"corpus not found: {target}")
        report = evaluate_analysis(
            gs,
            target,
            project_dir=project_dir,
            engine=engine,
            limit=limit,
            progress=lambda m: click.echo(m, err=True),
        )
        if save_version:
            p = RegressionStore(store_dir).save(report, save_version)
            click.echo(f"stored as {p}", err=True)
        if save_path:
            atomic_write_json(save_path, report.model_dump(mode="json"), indent=1)
        if as_json:
            click.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
            return
        click.echo(f"{report.golden}: {len(report.items)} items, engine {report.engine}")
        for k, v in report.overall.items():
            if v is not None:
                click.echo(f"  {k:<20} {v:.4f}")
        click.echo(f"ROUGE: {report.rouge_settings}")

    @eval_group.command(name="compare")
    @click.argument("a")
    @click.argument("b")
    @click.option(
        "--store",
        "store_dir",
        type=click.Path(path_type=Path),
        default=Path(".workbench/evals"),
        show_default=True,
    )
    @click.option(
        "--golden", default=None, help="Golden set name, when a version exists for several."
    )
    @click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a metric regresses.")
    @click.option("--json", "as_json", is_flag=True)
    @_guard
    def eval_compare(
        a: str, b: str, store_dir: Path, golden: str | None, fail_on_regression: bool, as_json: bool
    ) -> None:
        """Per-item changes and bootstrap intervals on each metric from A to B."""
        from workbench.evaluation.regression import RegressionStore, compare

        store = RegressionStore(store_dir)
        diff = compare(store.load(a, golden), store.load(b, golden), label_a=a, label_b=b)
        if as_json:
            data = diff.model_dump(mode="json")
            data["regressions"] = [m.metric for m in diff.regressions]
            click.echo(json.dumps(data, ensure_ascii=False))
        else:
            click.echo(diff.render())
        if fail_on_regression and diff.regressions:
            click.echo("regression: " + ", ".join(m.metric for m in diff.regressions), err=True)
            sys.exit(1)
