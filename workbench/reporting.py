"""Turn a run's findings and themes into the exports' ReportSpec, check it, render it.

Before anything is written, every quote the outputs will show is checked once more
against its source segment; a quote that is not verbatim stops the export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from exports.spec import ChartSpec, FindingRow, QuoteSpec, ReportSpec, ThemeSpec
from retrieval.types import Document
from subagents.findings import Evidence, Finding, Synthesis
from workbench.errors import RunError
from workbench.store import now_iso

if TYPE_CHECKING:
    from workbench.pipeline import RunContext

CONTEXT_CHARS = 280


def quote_spec(ev: Evidence, doc: Document, confidence: float | None) -> QuoteSpec:
    seg = doc.segment(ev.segment_id)
    before = " ".join(s.text for s in doc.segments[max(0, seg.index - 2) : seg.index])
    after = " ".join(s.text for s in doc.segments[seg.index + 1 : seg.index + 3])
    return QuoteSpec(
        text=ev.quote,
        speaker=ev.speaker,
        doc_id=doc.id,
        doc_title=doc.title,
        segment_id=seg.id,
        start_time=ev.start_time,
        end_time=ev.end_time,
        context_before=before[-CONTEXT_CHARS:],
        context_after=after[:CONTEXT_CHARS],
        confidence=confidence,
    )


def build_spec(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis, charts: Sequence[ChartSpec]
) -> ReportSpec:
    docs = ctx.corpus.by_id()
    note = ctx.engine_note
    cost = ctx.cost_usd()
    fmap = {f.id: f for f in findings}
    noun = ctx.corpus.noun
    n_docs = len(ctx.corpus.documents)
    prevalence_chart = next((c.id for c in charts if c.id == "theme_prevalence"), None)
    themes = []
    theme_of: dict[str, str] = {}
    for t in synthesis.themes:
        reps = [fmap[i] for i in t.representative_finding_ids if i in fmap]
        quotes = [quote_spec(f.evidence[0], docs[f.doc_id], f.confidence) for f in reps]
        conf = sum(fmap[i].confidence for i in t.finding_ids if i in fmap) / max(
            1, len(t.finding_ids)
        )
        themes.append(
            ThemeSpec(
                id=t.id,
                label=t.label,
                summary=t.summary,
                n_documents=t.n_documents,
                total_documents=t.total_documents,
                quotes=quotes,
                keywords=t.keywords,
                chart_id=prevalence_chart,
                confidence=round(conf, 3),
            )
        )
        for fid in t.finding_ids:
            theme_of[fid] = t.id
    rows = [
        FindingRow(
            finding_id=f.id,
            theme_id=theme_of.get(f.id),
            doc_title=docs[f.doc_id].title,
            claim=f.claim,
            quote=f.evidence[0].quote,
            confidence=f.confidence,
        )
        for f in sorted(
            findings,
            key=lambda f: (theme_of.get(f.id) is None, theme_of.get(f.id) or "", f.doc_id, f.id),
        )
    ]
    summary = [
        f"{n_docs} {noun} analysed for: \u201c{ctx.question}\u201d; {len(findings)} verbatim findings.",
    ]
    if synthesis.themes:
        top = synthesis.themes[0]
        summary.append(
            f"{len(synthesis.themes)} themes; the most widespread, \u201c{top.label}\u201d, "
            f"comes up in {top.n_documents} of {top.total_documents} {noun}."
        )
        for t in synthesis.themes[1:4]:
            summary.append(f"\u201c{t.label}\u201d: {t.n_documents} of {t.total_documents} {noun}.")
    else:
        summary.append("No theme is shared by enough documents to report; see the findings table.")
    if synthesis.unassigned_doc_ids:
        summary.append(
            f"{len(synthesis.unassigned_doc_ids)} of {n_docs} {noun} fit no theme; they are listed, not forced in."
        )
    summary.append(note)
    return ReportSpec(
        title=f"{ctx.corpus.name}: {ctx.question}",
        question=ctx.question,
        engine=ctx.engine,
        engine_note=note,
        created_at=now_iso(),
        run_id=ctx.store.run_id,
        corpus_name=ctx.corpus.name,
        n_documents=n_docs,
        executive_summary=summary,
        themes=themes,
        unassigned=[docs[d].title for d in synthesis.unassigned_doc_ids],
        charts=list(charts),
        findings=rows,
        method={
            # the deck and report add corpus, engine, cost, date and run themselves
            "Segments": f"{sum(len(d.segments) for d in ctx.corpus.documents)} {noun} segments (speaker turns, fields, symbols)",
            "Retrieval": "BM25 (bm25s) + dense (all-MiniLM-L6-v2 in Chroma), reciprocal rank fusion",
            "Synthesis": synthesis.method,
            "Quote check": "every quote verified verbatim against its source segment",
        },
        cost_usd=float(cost),
    )


def verify_spec(spec: ReportSpec, docs: dict[str, Document]) -> None:
    for t in spec.themes:
        for q in t.quotes:
            doc = docs.get(q.doc_id)
            if doc is None or q.text not in doc.segment(q.segment_id).text:
                raise RunError(
                    f"quote not verbatim in {q.doc_id}/{q.segment_id}: {q.text[:80]!r}",
                    stage="export",
                )
    for r in spec.findings:
        if not any(r.quote in d.text for d in docs.values() if d.title == r.doc_title):
            raise RunError(
                f"finding {r.finding_id}: quote not verbatim in {r.doc_title}", stage="export"
            )


def write_exports(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis, charts: Sequence[ChartSpec]
) -> dict[str, str]:
    from exports.deck import build_deck
    from exports.report import write_html, write_markdown
    from workbench.events import Event
    from workbench.media import attach_clips

    spec = build_spec(ctx, findings, synthesis, charts)
    verify_spec(spec, ctx.corpus.by_id())
    run_dir = ctx.store.dir
    # quotes from timed transcripts with a recording beside them get playable clips
    spec, clip_outputs = attach_clips(
        spec, ctx.corpus, run_dir, warn=lambda m: ctx.emit(Event("warning", "export", m))
    )
    ctx.store.write_json("report_spec.json", spec.model_dump(mode="json"))
    deck = build_deck(spec, run_dir, run_dir / "deck.pptx")
    html = write_html(spec, run_dir, run_dir / "report.html")
    md = write_markdown(spec, run_dir, run_dir / "report.md")
    qda = _researcher_files(ctx, findings, synthesis)
    return {
        "deck": deck.name,
        "report_html": html.name,
        "report_md": md.name,
        **clip_outputs,
        **qda,
    }


def _researcher_files(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis
) -> dict[str, str]:
    """The run for QDA tools (REFI-QDA .qdpx) and as a codebook a later run takes in."""
    from workbench.qda import write_qdpx_for_run, write_run_codebook

    run_dir = ctx.store.dir
    manifest = ctx.store.read_manifest()
    out = {
        "qdpx": write_qdpx_for_run(run_dir, manifest, ctx.corpus.by_id(), findings, synthesis).name
    }
    book = write_run_codebook(run_dir, findings, synthesis)
    if book is not None:
        out["codebook"] = book.name
    return out
