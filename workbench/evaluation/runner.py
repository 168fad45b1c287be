"""Run a golden set through `ask` and score every item; `EvalReport` is what gets stored.

The index is built once per run: in the given project, or in a temporary one. When
every item names its documents (meeting-spans benches do), only those documents are
indexed; the metrics are then the "within the named document" numbers.
"""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from workbench.ask.offline import OfflineAskSettings
from workbench.core.errors import UserError
from workbench.core.events import Event
from workbench.core.progress import IndexProgress, progress_listener
from workbench.core.version import __version__
from workbench.evaluation.golden import GoldenSet
from workbench.evaluation.judge import Calibration, RubricJudge, calibrate, judge_score
from workbench.evaluation.metrics import (
    ROUGE_SETTINGS,
    evidence_metrics,
    mean,
    quote_faithfulness,
    rouge,
    theme_coverage,
)
from workbench.runs.corpus import Corpus
from workbench.runs.store import now_iso

if TYPE_CHECKING:
    from retrieval import HybridIndex
    from subagents.models.messages import Model

METRICS = (
    "evidence_hit",
    "evidence_recall",
    "document_recall",
    "quote_faithfulness",
    "rouge1",
    "rouge2",
    "rougeL",
    "answered",
    "latency_s",
    "cost_usd",
)


class ItemResult(BaseModel):
    id: str
    question: str
    metrics: dict[str, float | None]
    answer: str
    evidence: list[str] = Field(default_factory=list)  # cited segment ids
    judge: dict[str, float] | None = None
    notes: list[str] = Field(default_factory=list)


class EvalReport(BaseModel):
    golden: str
    engine: str
    version: str
    created_at: str
    corpus: str
    settings: dict[str, Any] = Field(default_factory=dict)
    rouge_settings: str = ROUGE_SETTINGS
    items: list[ItemResult]
    overall: dict[str, float | None]
    # None: no judge, or a judge not calibrated; False: below the agreement set. Only a
    # judge calibrated and trusted (True) in both reports gates a comparison.
    judge_trusted: bool | None = None
    judge_calibration: Calibration | None = None


def evaluate_analysis(
    golden: GoldenSet,
    corpus: str | Path,
    *,
    project_dir: str | Path | None = None,
    engine: str = "offline",
    model: Model | None = None,
    judge: RubricJudge | None = None,
    judge_trusted: bool | None = None,
    settings: OfflineAskSettings | None = None,
    index: HybridIndex | None = None,
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Answer every approved item with `ask`, score it; see the module docstring.

    `index` reuses an index of the corpus already built (it is then not closed).
    """
    import dataclasses

    from workbench.ask.api import ask
    from workbench.project import Project

    say = progress or (lambda _m: None)
    items = golden.approved_items()[:limit] if limit else golden.approved_items()
    if not items:
        raise UserError(f"golden set {golden.name!r} has no approved items to evaluate")
    full = Corpus.load(corpus)
    docs = full.by_id()
    scoped = [set(i.scope.doc_ids or ()) for i in items]
    if all(scoped):
        wanted = set().union(*scoped)
        missing = sorted(wanted - set(docs))
        if missing:
            raise UserError(
                f"the golden set names documents that are not in {corpus}: {missing[:8]}; "
                "give the corpus folder the set was made for"
            )
        full = Corpus(path=full.path, documents=[d for d in full.documents if d.id in wanted])
    settings = settings or OfflineAskSettings()
    with tempfile.TemporaryDirectory(prefix="wb-eval-ask-") as tmp:
        project = Project(project_dir or tmp)
        own_index = index is None
        if index is None:
            index = project.index_for(full)
            t0 = time.perf_counter()
            say(f"indexing {len(full)} documents")
            index.update(full.documents, progress=IndexProgress(progress_listener()))
            say(f"indexed in {time.perf_counter() - t0:.1f}s")
        say(f"asking {len(items)} questions")
        results = []
        answers = []
        for n, item in enumerate(items, start=1):
            answer = ask(
                project,
                item.question,
                corpus=full,
                scope=item.scope,
                engine=engine,
                index=index,
                settings=settings,
                model=model,
                on_event=_quiet,  # items are reported here, one line per 25
            )
            m: dict[str, float | None] = dict(evidence_metrics(answer, item))
            m["quote_faithfulness"] = quote_faithfulness(answer, docs)
            m["answered"] = 1.0 if answer.found else 0.0
            if item.reference_answer:
                m.update(rouge(answer.plain_text, item.reference_answer))
            if item.expected_themes:
                m["theme_coverage"] = theme_coverage(answer.plain_text, item.expected_themes)
            m["latency_s"] = answer.latency_s
            m["cost_usd"] = answer.cost_usd
            answers.append(answer)
            results.append(
                ItemResult(
                    id=item.id,
                    question=item.question,
                    metrics=m,
                    answer=answer.text,
                    evidence=[c.segment_id for c in answer.evidence],
                    notes=answer.notes,
                )
            )
            if n % 25 == 0 or n == len(items):
                say(f"{n}/{len(items)} answered")
        if own_index:
            index.close()
    if judge is not None:
        say(f"judging {len(answers)} answers")
        scored = judge.score_all(list(zip(items, answers, strict=True)))
        for r, scores in zip(results, scored, strict=True):
            r.judge = scores
    names = list(dict.fromkeys([*METRICS, *(k for r in results for k in r.metrics)]))
    overall = {k: mean([r.metrics.get(k) for r in results]) for k in names}
    if judge is not None:
        for crit in judge.criteria:
            overall[f"judge_{crit}"] = mean([(r.judge or {}).get(crit) for r in results])
    overall["items"] = float(len(results))
    return EvalReport(
        golden=golden.name,
        engine=engine,
        version=__version__,
        created_at=now_iso(),
        corpus=str(Path(corpus)),
        settings={
            "offline": dataclasses.asdict(settings),
            "python": platform.python_version(),
        },
        items=results,
        overall=overall,
        judge_trusted=judge_trusted if judge is not None else None,
    )


def _quiet(ev: Event) -> None:
    return None


def calibrate_report(
    report: EvalReport,
    human: Mapping[str, float],
    *,
    threshold: float = 0.5,
    min_spearman: float = 0.5,
    min_kappa: float = 0.4,
    min_items: int = 10,
) -> EvalReport:
    """The report with its judge calibrated on the items the people labelled.

    Items the judge did not score (it abstained) and labels for items not in the report
    are left out; the latter are listed in `Calibration.unmatched`. The report's
    `judge_trusted` becomes the calibration's verdict.
    """
    judged = {i.id: judge_score(i.judge) for i in report.items if i.judge is not None}
    ids = [i for i in human if i in judged]
    cal = calibrate(
        [judged[i] for i in ids],
        [human[i] for i in ids],
        threshold=threshold,
        min_spearman=min_spearman,
        min_kappa=min_kappa,
        min_items=min_items,
    )
    cal.unmatched = sorted(i for i in human if i not in judged)
    return report.model_copy(update={"judge_trusted": cal.trusted, "judge_calibration": cal})
