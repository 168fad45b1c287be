"""The offline engine: every sub-agent's deterministic implementation, no model.

Analysts are extractive (retrieval + sentence scoring, verbatim quotes), synthesis is
clustering, the critic is mechanical (quotes verbatim, counts consistent). It is the
default without an API key and every output says so.

`OfflineWorker` is the part that runs inside fan-out tasks. It is built from plain data
(`OfflineWorkerSpec`), so the Ray backend can build one per worker process; there it
opens the index from the same directory (a shared filesystem) by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from subagents.findings import Finding, Synthesis
from subagents.outputs import CriticIssue, CriticOutput
from workbench.fanout import Task
from workbench.store import now_iso

if TYPE_CHECKING:
    from retrieval import Embedder, HybridIndex
    from retrieval.types import Document
    from workbench.settings import Settings

ENGINE_NOTE = (
    "Produced by the offline engine: no language model was used. Findings are verbatim "
    "extracts chosen by retrieval and sentence scoring; themes are clusters of them."
)
ENGINE_SHORT = "Offline engine: no language model was used."


class _IndexSearcher:
    """Adapts the project's index to the analyst's `Searcher` protocol."""

    def __init__(self, index: HybridIndex) -> None:
        self.index = index

    def search(self, query: str, *, k: int, doc_ids: list[str]) -> list[Any]:
        return self.index.search(query, k=k, doc_ids=doc_ids)


@dataclass(frozen=True)
class OfflineWorkerSpec:
    """Plain data from which a worker process builds an `OfflineWorker` (Ray)."""

    index_dir: str
    corpus_path: str
    max_findings: int
    queries: tuple[str, ...] = ()  # a codebook's codes, searched for besides the question

    def build(self) -> OfflineWorker:
        from retrieval import Embedder, HybridIndex
        from workbench.corpus import Corpus

        embedder = Embedder()
        index = HybridIndex(Path(self.index_dir), embedder=embedder)
        docs = Corpus.load(self.corpus_path).by_id()
        return OfflineWorker(index, embedder, docs, self.max_findings, self.queries)


class OfflineWorker:
    """Runs analyst tasks with the extractive analyst; see the module docstring."""

    def __init__(
        self,
        index: HybridIndex,
        embedder: Embedder,
        docs: dict[str, Document],
        max_findings: int,
        queries: Sequence[str] = (),
    ) -> None:
        from subagents.offline.analyst import AnalystSettings, ExtractiveAnalyst

        self.docs = docs
        self.queries = list(queries)
        self.analyst = ExtractiveAnalyst(
            _IndexSearcher(index), embedder, AnalystSettings(max_findings=max_findings)
        )

    def analyze_sync(self, task: Task) -> dict[str, Any]:
        p = task.payload
        question = p.get("sub_question") or p["question"]
        steering = list(task.steering) + list(p.get("notes", []))
        findings: list[Finding] = []
        seen: set[str] = set()
        for doc_id in p["doc_ids"]:
            # deductive runs read each document once for the question and once for each
            # code of the codebook, as a coder reads for each code
            for asked in [question, *self.queries]:
                for f in self.analyst.analyze(
                    self.docs[doc_id], asked, task_key=task.key, steering=steering
                ):
                    if f.id not in seen:
                        seen.add(f.id)
                        findings.append(f)
        return {
            "doc_ids": p["doc_ids"],
            "doc_id": p["doc_ids"][0],
            "findings": [f.model_dump(mode="json") for f in findings],
            "abstained": {},
            "steering": list(task.steering),
            "finished_at": now_iso(),
        }

    async def analyze(self, task: Task) -> dict[str, Any]:
        return await asyncio.to_thread(self.analyze_sync, task)


class OfflineEngine:
    name = "offline"
    note = ENGINE_NOTE
    short = ENGINE_SHORT
    models: dict[str, str] = {}  # noqa: RUF012 -- no models, by definition

    def __init__(
        self,
        settings: Settings,
        index: HybridIndex,
        embedder: Embedder,
        docs: dict[str, Document],
        *,
        corpus_path: str,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.docs = docs
        self.corpus_path = corpus_path
        from workbench.codebook import code_queries, codebook_for

        self.codebook = codebook_for(settings)
        if self.codebook is not None:
            self.note = ENGINE_NOTE.replace(
                "themes are clusters of them.",
                "themes are the codes of the researcher's codebook, each finding coded by its "
                "similarity to a code's description and examples.",
            )
        self.queries = code_queries(self.codebook) if self.codebook else []
        self.worker = OfflineWorker(
            index, embedder, docs, settings.analysis.max_findings_per_document, self.queries
        )

    def version(self, subagent: str) -> str:
        from subagents.offline.analyst import ANALYST_VERSION

        if self.codebook is not None:  # the analyst also reads for each code
            return f"{ANALYST_VERSION}+codebook/{self.codebook.content_hash}"
        return ANALYST_VERSION

    def synthesis_version(self) -> str:
        from subagents.offline.synthesis import SYNTHESIS_VERSION

        if self.codebook is not None:
            from subagents.offline.codebook import CODER_VERSION

            return f"{CODER_VERSION}/{self.codebook.content_hash}+{SYNTHESIS_VERSION}"
        return SYNTHESIS_VERSION

    def worker_spec(self) -> OfflineWorkerSpec:
        return OfflineWorkerSpec(
            str(self.index.directory),
            self.corpus_path,
            self.settings.analysis.max_findings_per_document,
            tuple(self.queries),
        )

    async def analyze(self, task: Task) -> dict[str, Any]:
        return await self.worker.analyze(task)

    async def plan(self, *args: Any, **kwargs: Any) -> None:
        return None  # the offline engine runs recipes only

    async def synthesize(
        self,
        findings: Sequence[Finding],
        doc_ids: list[str],
        *,
        noun: str,
        question: str,
        steering: Sequence[str] = (),
    ) -> Synthesis:
        from subagents.offline.synthesis import ClusteringSynthesizer, SynthesisSettings

        a = self.settings.analysis
        synth = ClusteringSynthesizer(
            self.embedder,
            SynthesisSettings(
                distance_threshold=a.cluster_distance,
                min_doc_share=a.min_theme_share,
                max_themes=a.max_themes,
            ),
        )
        if self.codebook is not None:  # deductive: the codebook's codes are the themes
            from subagents.offline.codebook import CodebookCoder

            coder = CodebookCoder(self.embedder, self.codebook)
            return await asyncio.to_thread(
                coder.synthesize,
                findings,
                doc_ids,
                noun=noun,
                question=question,
                candidates_from=synth,
                contexts=prompts_before(findings, self.docs),
            )
        return await asyncio.to_thread(
            synth.synthesize, findings, doc_ids, noun=noun, question=question
        )

    async def critique(
        self, findings: Sequence[Finding], synthesis: Synthesis, *, question: str
    ) -> CriticOutput:
        return mechanical_critique(findings, synthesis, self.docs)


def prompts_before(findings: Sequence[Finding], docs: dict[str, Document]) -> dict[str, str]:
    """For findings without a `context`: the turn before theirs by another speaker (the
    question that drew the answer), which the codebook coder reads with the finding."""
    out: dict[str, str] = {}
    for f in findings:
        doc = docs.get(f.doc_id)
        if f.context is not None or doc is None or doc.kind != "conversation":
            continue
        try:
            seg = doc.segment(f.evidence[0].segment_id)
        except KeyError:
            continue
        for prev in reversed(doc.segments[: seg.index]):
            if prev.speaker and prev.speaker != seg.speaker:
                out[f.id] = prev.text
                break
    return out


def mechanical_critique(
    findings: Sequence[Finding], synthesis: Synthesis, docs: dict[str, Document]
) -> CriticOutput:
    """Quotes verbatim and theme counts consistent with the findings they cite."""
    from subagents.verify import check_findings

    issues = [
        CriticIssue(
            finding_id=p.finding_id, kind="quote_not_verbatim", detail=p.problem, severity="high"
        )
        for p in check_findings(findings, docs)
    ]
    fmap = {f.id: f for f in findings}
    for t in synthesis.themes:
        docs_cited = {fmap[i].doc_id for i in t.finding_ids if i in fmap}
        if len(docs_cited) != t.n_documents:
            issues.append(
                CriticIssue(
                    kind="count_inconsistent",
                    detail=f"theme {t.label!r} says {t.n_documents} documents, "
                    f"its findings come from {len(docs_cited)}",
                    severity="high",
                )
            )
    return CriticOutput(
        verdict="revise" if any(i.severity == "high" for i in issues) else "pass",
        issues=issues,
        summary="mechanical check of quotes and counts",
    )
