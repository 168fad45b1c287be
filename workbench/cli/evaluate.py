"""`workbench eval analysis|compare|propose`: scoring `ask` on golden sets.

    workbench eval analysis <golden.json> [corpus] [--json] [--save-version V] [--store DIR]
                            [--judge/--no-judge] [--human-labels FILE] [--min-agreement X]
    workbench eval compare A B [--store DIR] [--json]       (A, B: report files or versions)
    workbench eval propose <corpus> --out golden.json [--n N] [--doc ID ...]
                            [--approve-all | --interactive]

The rubric judge and the question proposer are models: they need a configured model
(ANTHROPIC_API_KEY, or an OpenAI-compatible endpoint: settings or `--model-url`) and
use the project's model stack (`settings.models`, the response cache), built by
`workbench.ask.api._configured_model` as `ask` builds it, metered: `settings.budgets` cap
it, each call is a span in `.workbench/traces/eval.jsonl`.

Registered by `workbench.cli.app` through `register(eval_group)`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from workbench.cli.common import (
    _guard,
    doc_option,
    engine_option,
    eval_store_option,
    json_option,
    model_options,
    project_option,
)
from workbench.cli.terminal import say, say_json
from workbench.core.errors import RunError, UserError
from workbench.engines.registry import ENGINES

if TYPE_CHECKING:
    from retrieval import Document
    from subagents.models.messages import Model
    from workbench.evaluation.golden import GoldenItem
    from workbench.evaluation.runner import EvalReport

HUMAN_LABELS_HELP = (
    'JSON file of human scores in [0, 1] per golden item: {"item id": 0.8, ...} or '
    '[{"id": "item id", "score": 0.8}, ...]. Calibrates the judge (its per-item score is '
    "the mean of its five criteria) on the items labelled."
)


def _model(
    project_dir: Path | None,
    needs: str,
    fix: str,
    model_url: str | None = None,
    model_name: str | None = None,
) -> Model:
    """The project's model stack; a UserError that says how to fix it when there is no key."""
    from workbench.ask.api import _configured_model
    from workbench.project import Project

    project = Project(project_dir or Path("."))
    project.settings = project.settings.with_model_url(model_url, model_name)
    missing = project.settings.models.missing()
    if missing and project.injected_model() is None:
        raise UserError(f"{needs} needs a model: {missing}, or {fix}")
    return _configured_model(project, trace="eval")


def _model_configured(project_dir: Path | None, model_url: str | None, name: str | None) -> bool:
    from workbench.core.settings import Settings

    path = (project_dir or Path(".")) / ".workbench" / "config.toml"
    return Settings.load(path).with_model_url(model_url, name).models.configured()


def _print_judge(report: EvalReport) -> None:
    from workbench.evaluation.judge import CRITERIA, judge_score

    say("judge per item (mean of the five criteria, then each):")
    for item in report.items:
        if item.judge is None:
            say(f"  {item.id:<24} no score (the judge abstained or failed)")
            continue
        each = " ".join(f"{c.split('_')[0]} {item.judge[c]:.2f}" for c in CRITERIA)
        say(f"  {item.id:<24} {judge_score(item.judge):.3f}  {each}")
    cal = report.judge_calibration
    if cal is None:
        say("judge: not calibrated (no --human-labels); its scores are reported, not used as gates")
        return
    agreement = (
        f"Spearman {_num(cal.spearman)}, Cohen's kappa {_num(cal.kappa)} on pass/fail "
        f"(score >= {cal.threshold}), n={cal.n}"
    )
    if cal.trusted:
        say(f"judge: trusted; {agreement}")
    else:
        say(f"judge: UNTRUSTED, its scores are not used as gates; {agreement}")
        say(f"  why: {cal.reason}")
    if cal.unmatched:
        say(f"  {len(cal.unmatched)} labelled items had no judge score: {cal.unmatched[:5]}")


def _num(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.3f}"


def _segment_text(docs: dict[str, Document], doc_id: str, index: int) -> str:
    doc = docs.get(doc_id)
    seg = next((s for s in doc.segments if s.index == index), None) if doc else None
    if seg is None:
        return "(segment not found)"
    text = " ".join(seg.text.split())
    who = f"{seg.speaker}: " if seg.speaker else ""
    return who + (text if len(text) <= 300 else text[:297] + "...")


def _show_proposal(n: int, total: int, item: GoldenItem, docs: dict[str, Document]) -> None:
    say(f"\n[{n}/{total}] {item.question}")
    say(f"  reference answer: {item.reference_answer}")
    for span in item.gold_spans:
        where = f"{span.doc_id}#{span.start}"
        say(f"  evidence {where}: {_segment_text(docs, span.doc_id, span.start)}")


def _write_golden(
    out: Path, corpus: Path, name: str | None, kept: list[GoldenItem]
) -> tuple[Path, int]:
    """Add the kept items to `out` (created when missing); returns the path and its size."""
    from workbench.evaluation.golden import GoldenSet, is_meeting_spans, load_golden

    corpus_ref = os.path.relpath(corpus.resolve(), out.parent.resolve())
    if out.exists():
        gs = load_golden(out)
        with contextlib.suppress(OSError, ValueError):
            if is_meeting_spans(json.loads(out.read_text(encoding="utf-8"))):
                raise UserError(f"{out} is a meeting-spans bench file; give a new --out file")
        if gs.corpus and Path(gs.corpus).resolve() != corpus.resolve():
            raise UserError(
                f"{out} is a golden set for another corpus ({gs.corpus}); give a new --out file"
            )
        known = {i.id for i in gs.items}
        gs.items += [i for i in kept if i.id not in known]
        gs.corpus = corpus_ref
    else:
        gs = GoldenSet(
            name=name or out.stem,
            source="proposed by a model (workbench eval propose), approved by a person",
            corpus=corpus_ref,
            items=kept,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    return gs.save(out), len(gs.items)


def _add_eval_analysis(eval_group: click.Group) -> None:
    @eval_group.command(name="analysis")
    @click.argument("golden", type=click.Path(path_type=Path))
    @click.argument("corpus", type=click.Path(path_type=Path), required=False)
    @engine_option(default="offline", help="offline (no model) or model: who answers.")
    @click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N items.")
    @project_option(
        "Keep the index in this project (default: a temporary one). The judge's model "
        "settings and response cache come from it (default: the current folder).",
        default=None,
    )
    @eval_store_option("Where --save-version keeps reports.")
    @click.option("--save-version", default=None, help="Store the report under this version name.")
    @click.option(
        "--save",
        "save_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Also write the report to this file.",
    )
    @json_option("Print one JSON object (per item + overall).")
    @click.option(
        "--judge/--no-judge",
        "use_judge",
        default=None,
        help="Score each answer with the rubric judge (a model: factual accuracy, citation "
        "accuracy, completeness, source quality, efficiency, each 0-1). Default: on when "
        "a model is configured (ANTHROPIC_API_KEY, or an OpenAI-compatible endpoint) or "
        "--engine model.",
    )
    @click.option(
        "--human-labels",
        type=click.Path(path_type=Path),
        default=None,
        help=HUMAN_LABELS_HELP,
    )
    @model_options
    @click.option(
        "--min-agreement",
        type=click.FloatRange(-1, 1),
        default=None,
        help="Spearman and Cohen's kappa the judge needs to be trusted "
        "(default: Spearman 0.5, kappa 0.4). An untrusted judge never gates `eval compare`.",
    )
    @click.option(
        "--pass-threshold",
        type=click.FloatRange(0, 1),
        default=0.5,
        show_default=True,
        help="Score at which an item passes, for kappa on pass/fail.",
    )
    @click.option(
        "--min-labels",
        type=click.IntRange(1),
        default=10,
        show_default=True,
        help="Fewest labelled, judged items for the judge to be trusted.",
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
        use_judge: bool | None,
        human_labels: Path | None,
        model_url: str | None,
        model_name: str | None,
        min_agreement: float | None,
        pass_threshold: float,
        min_labels: int,
    ) -> None:
        """Answer every question of a golden set and score evidence, quotes and ROUGE.

        With a judge, also the rubric scores per item and overall; with --human-labels,
        the judge's agreement with people (Spearman, Cohen's kappa on pass/fail) and
        whether it is trusted.
        """
        from workbench.evaluation.golden import load_golden
        from workbench.evaluation.judge import RubricJudge, load_human_labels
        from workbench.evaluation.regression import RegressionStore
        from workbench.evaluation.runner import calibrate_report, evaluate_analysis
        from workbench.runs.store import atomic_write_json

        gs = load_golden(golden)
        target = corpus or (Path(gs.corpus) if gs.corpus else None)
        if target is None:
            raise UserError(
                f"{golden} does not name its corpus; give the corpus folder as the second argument"
            )
        if not target.exists():
            raise UserError(f"corpus not found: {target}")
        uses_model = ENGINES[engine].uses_model
        if use_judge is None:
            use_judge = _model_configured(project_dir, model_url, model_name) or uses_model
            use_judge = use_judge or human_labels is not None
        if human_labels is not None and not use_judge:
            raise UserError("--human-labels calibrates the judge; drop --no-judge")
        labels = load_human_labels(human_labels) if human_labels is not None else None
        model = None
        if uses_model:
            model = _model(
                project_dir, f"the {engine} engine", "use --engine offline", model_url, model_name
            )
        elif use_judge:
            model = _model(
                project_dir, "the rubric judge", "pass --no-judge", model_url, model_name
            )
        report = evaluate_analysis(
            gs,
            target,
            project_dir=project_dir,
            engine=engine,
            model=model,
            judge=RubricJudge(model) if use_judge and model is not None else None,
            limit=limit,
            progress=lambda m: say(m, err=True),
        )
        if labels is not None:
            agreement = {}
            if min_agreement is not None:
                agreement = {"min_spearman": min_agreement, "min_kappa": min_agreement}
            report = calibrate_report(
                report, labels, threshold=pass_threshold, min_items=min_labels, **agreement
            )
        if save_version:
            p = RegressionStore(store_dir).save(report, save_version)
            say(f"stored as {p}", err=True)
        if save_path:
            atomic_write_json(save_path, report.model_dump(mode="json"), indent=1)
        if as_json:
            say_json(report.model_dump(mode="json"))
            return
        say(f"{report.golden}: {len(report.items)} items, engine {report.engine}")
        for k, v in report.overall.items():
            if v is not None:
                say(f"  {k:<24} {v:.4f}")
        say(f"ROUGE: {report.rouge_settings}")
        if any(i.judge is not None for i in report.items) or report.judge_calibration:
            _print_judge(report)


def _add_eval_compare(eval_group: click.Group) -> None:
    @eval_group.command(name="compare")
    @click.argument("a")
    @click.argument("b")
    @eval_store_option("Where the versions A and B are kept (when they are not files).")
    @click.option(
        "--golden", default=None, help="Golden set name, when a version exists for several."
    )
    @click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a metric regresses.")
    @json_option()
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
            say_json(data)
        else:
            say(diff.render())
        if fail_on_regression and diff.regressions:
            say("regression: " + ", ".join(m.metric for m in diff.regressions), err=True)
            sys.exit(1)


def _add_eval_propose(eval_group: click.Group) -> None:
    @eval_group.command(name="propose")
    @click.argument("corpus", type=click.Path(path_type=Path))
    @click.option(
        "--out",
        type=click.Path(path_type=Path),
        required=True,
        help="Golden set file the approved questions go to (created, or added to).",
    )
    @click.option(
        "--n",
        "n",
        type=click.IntRange(1, 50),
        default=5,
        show_default=True,
        help="Questions to ask for.",
    )
    @doc_option()
    @project_option()
    @click.option("--name", default=None, help="Name of a new golden set (default: file name).")
    @click.option(
        "--approve-all", is_flag=True, help="Keep every proposed question without asking."
    )
    @click.option(
        "--interactive",
        is_flag=True,
        help="Ask y/n/q on stdin even when it is not a terminal (answers piped in).",
    )
    @model_options
    @_guard
    def eval_propose(
        corpus: Path,
        out: Path,
        n: int,
        doc_ids: tuple[str, ...],
        project_dir: Path,
        name: str | None,
        approve_all: bool,
        interactive: bool,
        model_url: str | None,
        model_name: str | None,
    ) -> None:
        """Have the model propose N test questions with expected evidence from CORPUS.

        Only evidence quoted verbatim is kept. Each question is shown with its reference
        answer and evidence; you keep it (y), drop it (n) or stop (q). The kept ones are
        written to --out as a golden set that `workbench eval analysis` runs.
        """
        from workbench.core.progress import IndexProgress, progress_listener
        from workbench.evaluation.judge import propose_questions
        from workbench.project import Project

        if approve_all and interactive:
            raise UserError("--approve-all and --interactive exclude each other; pick one")
        if not approve_all and not interactive and not sys.stdin.isatty():
            raise UserError(
                "no terminal to approve on; use --approve-all or the notebook "
                "(or --interactive to read y/n/q answers from stdin)"
            )
        if not corpus.exists():
            raise UserError(f"corpus path not found: {corpus}")
        model = _model(
            project_dir,
            "proposing questions",
            "write the golden set by hand",
            model_url,
            model_name,
        )
        project = Project(project_dir)
        full = project.corpus(corpus)
        docs = full.by_id()
        unknown = [d for d in doc_ids if d not in docs]
        if unknown:
            raise UserError(f"--doc names documents not in {corpus}: {unknown}")
        index = project.index_for(full)
        try:
            say(f"indexing {len(full)} documents", err=True)
            index.update(full.documents, progress=IndexProgress(progress_listener()))
            say(f"asking the model for {n} questions", err=True)
            proposed = propose_questions(
                model, index=index, docs=docs, n=n, scope_doc_ids=list(doc_ids) or None
            )
        finally:
            index.close()
        if not proposed:
            raise RunError(
                "the model proposed no question whose evidence is verbatim in the corpus; "
                "nothing written (run it again, or write the golden set by hand)"
            )
        kept: list[GoldenItem] = []
        for k, item in enumerate(proposed, start=1):
            _show_proposal(k, len(proposed), item, docs)
            if approve_all:
                kept.append(item.model_copy(update={"approved": True}))
                continue
            choice = click.prompt(
                "  keep it? (y)es / (n)o / (q)uit",
                type=click.Choice(["y", "n", "q"], case_sensitive=False),
                show_choices=False,
            ).lower()
            if choice == "q":
                break
            if choice == "y":
                kept.append(item.model_copy(update={"approved": True}))
        if not kept:
            say(f"\nkept none of {len(proposed)} proposed questions; nothing written")
            return
        path, total = _write_golden(out, corpus, name, kept)
        how = "all approved without review" if approve_all else "approved by you"
        say(
            f"\nkept {len(kept)} of {len(proposed)} proposed questions ({how}); "
            f"{path} now has {total} items. Run: workbench eval analysis {path}"
        )


def register(eval_group: click.Group) -> None:
    """Add `analysis`, `compare` and `propose` to `eval`."""
    _add_eval_analysis(eval_group)
    _add_eval_compare(eval_group)
    _add_eval_propose(eval_group)
