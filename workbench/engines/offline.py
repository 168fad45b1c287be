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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from subagents.findings import Finding, Synthesis
from subagents.outputs import CriticOutput
from workbench.engines.codebook import code_queries, codebook_for
from workbench.runs.corpus import Corpus
from workbench.runs.engine import AnalysisTask, analysis_result
from workbench.runs.fanout import Task

if TYPE_CHECKING:
    from retrieval import Embedder, HybridIndex
    from retrieval.roles import RoleSettings
    from retrieval.types import Document
    from workbench.core.settings import Settings
    from workbench.runs.corpus import Corpus

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
    roles: RoleSettings = field(default_factory=lambda: _role_settings())
    queries: tuple[str, ...] = ()  # a codebook's codes, searched for besides the question
    max_file_bytes: int | None = None  # the project's limit per corpus file

    def build(self) -> OfflineWorker:
        from retrieval import Embedder, HybridIndex

        embedder = Embedder()
        index = HybridIndex(Path(self.index_dir), embedder=embedder)
        corpus = Corpus.load(self.corpus_path, roles=self.roles, max_file_bytes=self.max_file_bytes)
        return OfflineWorker(
            index,
            embedder,
            corpus.by_id(),
            self.max_findings,
            self.queries,
            skip=skipped_documents(corpus),
        )


def _role_settings() -> RoleSettings:
    from retrieval.roles import RoleSettings

    return RoleSettings()


def skipped_documents(corpus: Corpus) -> dict[str, str]:
    """Documents the offline engine lists instead of analysing, with the reason."""
    return {
        doc_id: f"written in another language ({lang}); the offline engine reads English"
        for doc_id, lang in corpus.other_language.items()
    }


class OfflineWorker:
    """Runs analyst tasks with the extractive analyst; see the module docstring."""

    def __init__(
        self,
        index: HybridIndex,
        embedder: Embedder,
        docs: dict[str, Document],
        max_findings: int,
        queries: Sequence[str] = (),
        *,
        skip: dict[str, str] | None = None,
    ) -> None:
        from subagents.offline.analyst import AnalystSettings, ExtractiveAnalyst

        self.docs = docs
        self.queries = list(queries)
        self.skip = dict(skip or {})
        self.analyst = ExtractiveAnalyst(
            _IndexSearcher(index), embedder, AnalystSettings(max_findings=max_findings)
        )

    def analyze_sync(self, task: Task) -> dict[str, Any]:
        p = AnalysisTask.model_validate(task.payload)
        steering = list(task.steering) + p.notes
        findings: list[Finding] = []
        seen: set[str] = set()
        abstained: dict[str, str] = {}
        for doc_id in p.doc_ids:
            if doc_id in self.skip:
                abstained[doc_id] = self.skip[doc_id]
                continue
            # deductive runs read each document once for the question and once for each
            # code of the codebook, as a coder reads for each code
            for asked in [p.asked, *self.queries]:
                for f in self.analyst.analyze(
                    self.docs[doc_id], asked, task_key=task.key, steering=steering
                ):
                    if f.id not in seen:
                        seen.add(f.id)
                        findings.append(f)
        return analysis_result(task, findings, abstained=abstained)

    async def analyze(self, task: Task) -> dict[str, Any]:
        return await asyncio.to_thread(self.analyze_sync, task)


class OfflineEngine:
    """The `Engine` (`runs.engine`) without a language model."""

    name = "offline"
    uses_model = False
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
        skip: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.docs = docs
        self.corpus_path = corpus_path

        self.codebook = codebook_for(settings)
        if self.codebook is not None:
            self.note = ENGINE_NOTE.replace(
                "themes are clusters of them.",
                "themes are the codes of the researcher's codebook, each finding coded by its "
                "similarity to a code's description and examples.",
            )
        self.queries = code_queries(self.codebook) if self.codebook else []
        self.worker = OfflineWorker(
            index,
            embedder,
            docs,
            settings.analysis.max_findings_per_document,
            self.queries,
            skip=skip,
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
            self.settings.roles.to_retrieval(),
            tuple(self.queries),
            self.settings.max_file_bytes,
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
                code_distance=a.cluster_distance,
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
                participants=participants_of(self.docs),
            )
        return await asyncio.to_thread(
            synth.synthesize,
            findings,
            doc_ids,
            noun=noun,
            question=question,
            participants=participants_of(self.docs),
        )

    async def critique(
        self, findings: Sequence[Finding], synthesis: Synthesis, *, question: str
    ) -> CriticOutput:
        from subagents.offline.critic import review

        return review(findings, synthesis, self.docs, question=question)


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


def participants_of(docs: dict[str, Document]) -> dict[str, list[str]] | None:
    """Participants per conversation where speaker roles are known (None: no roles)."""
    out: dict[str, list[str]] = {}
    for doc_id, doc in docs.items():
        info = doc.metadata.get("speaker_roles")
        if isinstance(info, dict) and info.get("method") != "unlabelled":
            out[doc_id] = list(info.get("participants") or [])
    return out or None
