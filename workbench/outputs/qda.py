"""A run for the researcher's own tools: a REFI-QDA project and a codebook file.

`write_qdpx_for_run` turns a run's documents, findings and themes into a `.qdpx`
(`exports.qdpx`): each document a text source, themes > codes as the code tree (plus
"Candidate codes" and "Other" when the run has them), and each finding's quote a coded
selection at its exact character offsets, with the speaker as its description and a
note naming the speaker, the run, the finding and its confidence. `write_run_codebook`
writes the run's themes as a codebook a later run takes back with `--codebook`.
Both run on every finished run and from the CLI (`workbench export qdpx|codebook`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from exports.qdpx import PALETTE, QdaCode, QdaProject, QdaSelection, QdaSource, stable_guid
from subagents.findings import Finding, Synthesis
from workbench.core.errors import UserError
from workbench.core.version import __version__
from workbench.engines.codebook import CANDIDATES, OTHER, qda_codes
from workbench.runs.corpus import Corpus

if TYPE_CHECKING:
    from retrieval.types import Document
    from workbench.runs.manifest import RunManifest
    from workbench.runs.run import Run


def _span(f: Finding, i: int, doc: Document) -> tuple[int, int] | None:
    ev = f.evidence[i]
    exact = ev.start_char is not None and ev.end_char is not None
    if exact and doc.text[ev.start_char : ev.end_char] == ev.quote:
        return ev.start_char, ev.end_char  # type: ignore[return-value]
    try:
        seg = doc.segment(ev.segment_id)
    except KeyError:
        return None
    at = seg.text.find(ev.quote)
    return (seg.start_char + at, seg.start_char + at + len(ev.quote)) if at >= 0 else None


def qda_project(
    *,
    run_id: str,
    name: str,
    question: str,
    engine_note: str,
    docs: dict[str, Document],
    findings: Sequence[Finding],
    synthesis: Synthesis,
    version: str = "",
    created: datetime | None = None,
) -> QdaProject:
    """The REFI-QDA project of a run (see the module docstring)."""
    code_of: dict[str, str] = {}  # finding id -> code guid
    top: list[QdaCode] = []
    for n, t in enumerate(synthesis.themes):
        guid = stable_guid(run_id, "theme", t.id)
        children = []
        for c in t.codes:
            cguid = stable_guid(run_id, "code", t.id, c.id)
            children.append(QdaCode(guid=cguid, name=c.label, description=c.description))
            code_of.update({fid: cguid for fid in c.finding_ids})
        for fid in t.finding_ids:
            code_of.setdefault(fid, guid)
        desc = t.description or t.summary
        prevalence = f"{t.n_documents} of {t.total_documents} documents"
        top.append(
            QdaCode(
                guid=guid,
                name=t.label,
                description=f"{desc} ({prevalence})" if desc else prevalence,
                color=PALETTE[n % len(PALETTE)],
                children=children,
            )
        )
    if synthesis.candidate_codes:
        holder = QdaCode(
            guid=stable_guid(run_id, "candidates"),
            name=CANDIDATES,
            description="New codes the run proposes from what fit no code; accept or drop them.",
            codable=False,
        )
        for t in synthesis.candidate_codes:
            guid = stable_guid(run_id, "candidate", t.id)
            holder.children.append(QdaCode(guid=guid, name=t.label, description=t.summary))
            for fid in t.finding_ids:
                code_of.setdefault(fid, guid)
        top.append(holder)
    others = [fid for fid in synthesis.outlier_finding_ids if fid not in code_of]
    if others:
        guid = stable_guid(run_id, "other")
        top.append(QdaCode(guid=guid, name=OTHER, description="Findings no theme took in."))
        code_of.update({fid: guid for fid in others})
    selections: dict[str, list[QdaSelection]] = {}
    for f in sorted(findings, key=lambda f: (f.doc_id, f.id)):
        doc = docs.get(f.doc_id)
        if doc is None or f.id not in code_of:
            continue
        for i, ev in enumerate(f.evidence):
            span = _span(f, i, doc)
            if span is None:
                continue
            who = ev.speaker or "unknown speaker"
            if ev.role:
                who += f" ({ev.role})"
            selections.setdefault(doc.id, []).append(
                QdaSelection(
                    guid=stable_guid(run_id, "selection", f.id, str(i)),
                    start=span[0],
                    end=span[1],
                    code_guids=[code_of[f.id]],
                    name=f"{doc.title} {span[0]}-{span[1]}",
                    description=f"Speaker: {who}",
                    note=(
                        f"Speaker: {who}\nRun {run_id}: {question}\nFinding {f.id}: {f.claim}\n"
                        f"Confidence {f.confidence:.2f}, {f.engine} engine"
                    ),
                )
            )
    sources = [
        QdaSource(
            guid=stable_guid(run_id, "source", doc.id),
            name=doc.id,
            text=doc.text,
            description=f"{doc.source_path}",
            selections=selections.get(doc.id, []),
        )
        for doc in sorted(docs.values(), key=lambda d: d.id)
    ]
    project = QdaProject(
        name=name,
        origin=f"research-workbench {version}".strip(),
        description=f"Run {run_id}: {question}",
        note=f"Run {run_id}\nQuestion: {question}\n{engine_note}\n{synthesis.method}",
        codes=top,
        sources=sources,
    )
    if created is not None:
        project.created = created
    return project


def write_qdpx_for_run(
    run_dir: Path,
    manifest: RunManifest,
    docs: dict[str, Document],
    findings: Sequence[Finding],
    synthesis: Synthesis,
    out: Path | None = None,
) -> Path:
    from exports.qdpx import write_qdpx

    question = manifest.question
    project = qda_project(
        run_id=manifest.run_id or run_dir.name,
        name=f"{manifest.corpus.name}: {question}"[:200],
        question=question,
        engine_note=manifest.engine_note,
        docs=docs,
        findings=findings,
        synthesis=synthesis,
        version=__version__,
        created=manifest.started(),  # the run's time: the same run exports the same bytes
    )
    return write_qdpx(project, out or run_dir / "project.qdpx")


def write_run_codebook(
    run_dir: Path, findings: Sequence[Finding], synthesis: Synthesis, out: Path | None = None
) -> Path | None:
    """The run's themes as a codebook (YAML, CSV or REFI-QDA .qdc by the file's suffix);
    None if the run has no themes."""
    from subagents.codebook import CodebookError, codebook_from_synthesis, write_codebook

    try:
        book = codebook_from_synthesis(synthesis, findings)
        if out is not None and out.suffix.lower() == ".qdc":
            from exports.qdc import write_qdc

            return write_qdc(qda_codes(book), out, origin=f"research-workbench {__version__}")
        return write_codebook(book, out or run_dir / "codebook.yaml")
    except CodebookError as e:
        if out is None:
            return None
        raise UserError(str(e)) from e


def run_documents(run: Run) -> dict[str, Document]:
    """The run's documents, loaded again from its corpus; refused if they changed since."""
    info = run.record.corpus
    path = Path(info.path)
    if not info.path or not path.exists():
        raise UserError(
            f"the run's corpus {path} is not there any more; export from where the run was made"
        )
    corpus = Corpus.load(path)
    if info.hash and corpus.content_hash != info.hash:
        raise UserError(
            f"the corpus at {path} changed since run {run.id}; quotes' offsets would not match. "
            "Run the analysis again, then export."
        )
    return corpus.by_id()
