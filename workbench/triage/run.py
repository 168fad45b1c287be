"""A triage run, start to end: learn, classify, check, review, themes, charts, exports.

    load tickets + labelled examples (bad input said, nothing dropped silently)
      -> classify: offline (learned from the labels) or model (ticket-analyst in batches)
      -> gate: every quote verbatim in its ticket; a ticket whose quotes fail is reviewed
      -> review: tickets under the confidence threshold, or flagged, wait for a person
         (notebook) or the batch policy; decisions are kept in reviews.jsonl
      -> labels.csv / labels.parquet / labels.json (one row per ticket)
      -> themes within each category (the engine's theme synthesis)
      -> charts (categories: prevalence, by segment, over time) -> deck and reports

Each stage's result is persisted before the next; running the same triage again resumes
(a finished classification is not redone; review decisions are kept).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, cast

from subagents.findings import Evidence, Finding, Synthesis
from workbench.core.events import Event
from workbench.engines.registry import engine_info
from workbench.runs.fanout import idempotency_key
from workbench.triage.records import TicketLabel, apply_decision, finding_id, to_finding
from workbench.triage.request import NoIndex, TriageRequest, model_engine, triage_encoder

if TYPE_CHECKING:
    from retrieval.types import Document
    from subagents.offline.triage import FitReport

NOUN = "tickets"
OFFLINE_NOTE = (
    "Produced by the offline engine: no language model was used. Categories were predicted "
    "by a classifier learned from the team's labelled tickets; the quotes are the sentences "
    "that weighed most for the category; themes are clusters of ticket titles."
)


async def execute(req: TriageRequest) -> dict[str, Any]:
    from retrieval import Embedder
    from workbench.core.tracing import make_tracer
    from workbench.runs.budgets import BudgetTracker

    store, s = req.store, req.parts.settings
    req.control.bind_loop()
    req.control.attach(store)
    req.tracker = BudgetTracker(s.budgets, tasks_done_before=len(store.finished_tasks()))
    tracer, provider = make_tracer(store.dir / "trace.jsonl")
    encoder = triage_encoder(req)
    model = None
    try:
        with tracer.start_as_current_span("run triage"):
            docs = {d.id: d for d in req.tickets.documents}
            if engine_info(req.engine).uses_model:
                model, runner, note, short = model_engine(req, docs, tracer)
                with tracer.start_as_current_span("stage classify"):
                    from workbench.triage.model import classify_with_model

                    labels = await classify_with_model(req, docs, encoder, model)
            else:
                from workbench.engines.offline import ENGINE_SHORT, OfflineEngine

                note, short = OFFLINE_NOTE, ENGINE_SHORT
                store.update_manifest(engine_note=note)
                runner = OfflineEngine(
                    s, cast(Any, NoIndex()), Embedder(), docs, corpus_path=str(req.tickets.path)
                )
                with tracer.start_as_current_span("stage classify"):
                    labels = await _classify_offline(req, encoder)
            labels = _mark_labelled(req, labels)
            labels = _gate(req, labels, docs)
            with tracer.start_as_current_span("stage review"):
                labels = await _review(req, labels)
            from workbench.triage.report import write_tables

            write_tables(store, labels)
            with tracer.start_as_current_span("stage synthesize"):
                themes, theme_findings = await _themes(req, runner, labels, docs)
            result = await _outputs(req, labels, themes, theme_findings, note, short)
    finally:
        encoder.close()
        if model is not None:
            from workbench.orchestrator.orchestrate import _close

            _close(model)
        store.close()
        ledger = req.tracker.ledger.as_dict()
        store.update_manifest(
            cost_usd=float(req.tracker.ledger.cost_usd), tokens=ledger["tokens"], model_usage=ledger
        )
        provider.shutdown()
    return result


def _offline_key(req: TriageRequest) -> str:
    from subagents.offline.triage import TRIAGE_VERSION

    lab = req.labelled
    return idempotency_key(
        "classify",
        TRIAGE_VERSION,
        tickets=[d.content_hash for d in req.tickets.documents],
        groups=[str(d.metadata.get(lab.group_column or "", "")) for d in req.tickets.documents],
        labelled=[d.content_hash for d in lab.documents],
        labels=lab.labels,
        label_groups=lab.groups,
        columns=list(req.columns.columns),
        per_group=req.parts.settings.triage.per_group,
    )


async def _classify_offline(req: TriageRequest, encoder: Any) -> list[TicketLabel]:
    from workbench.triage.offline import OfflineTriager

    key = _offline_key(req)
    n = len(req.tickets.documents)
    done = req.store.load_task(key)
    if done is not None:
        req.emit(Event("note", "classify", f"classification of {n} {NOUN} already finished"))
        req.fit = done["fit"]
        return [TicketLabel.model_validate(x) for x in done["labels"]]
    lab = req.labelled
    req.emit(
        Event(
            "stage_started",
            "classify",
            f"learning {len(lab.categories)} categories from {len(lab.documents)} labelled "
            f"{NOUN}, then labelling {n} {NOUN}",
        )
    )
    await _checkpoint(req, "classify")
    triager = OfflineTriager(
        encoder,
        req.parts.settings.triage,
        columns=req.columns,
        group_column=lab.group_column,
    )
    t0 = time.perf_counter()
    report = await asyncio.to_thread(triager.fit, lab)
    labels = await asyncio.to_thread(triager.label, req.tickets.documents)
    req.fit = _fit_dict(report, time.perf_counter() - t0)
    # evidence for the tickets the team labelled already: quotes for their given category
    given = _given_labels(req)
    for i, label in enumerate(labels):
        cat = given.get(req.tickets.documents[i].content_hash)
        if cat is not None and cat != label.predicted and cat in lab.categories:
            ev = triager.explain(req.tickets.documents[i], cat)
            labels[i] = label.model_copy(update={"evidence": ev or label.evidence})
    req.store.save_task(
        key, {"labels": [x.model_dump(mode="json") for x in labels], "fit": req.fit}
    )
    req.emit(
        Event(
            "stage_done",
            "classify",
            f"{n} {NOUN} labelled; estimated on held-out labelled {NOUN}: macro F1 "
            f"{report.cv_f1:.2f}, accuracy {report.cv_accuracy:.2f}",
            done=n,
            total=n,
        )
    )
    return labels


def _fit_dict(report: FitReport, seconds: float) -> dict[str, Any]:
    return {
        "examples": report.n_examples,
        "categories": report.categories,
        "groups": report.groups,
        "cv_f1": report.cv_f1,
        "cv_accuracy": report.cv_accuracy,
        "cv_per_group": report.cv_per_group,
        "classifier": list(report.notes),  # the fine-tuned view: used, or why not
        "seconds": round(seconds, 2),
    }


def _given_labels(req: TriageRequest) -> dict[str, str]:
    lab = req.labelled
    return {d.content_hash: label for d, label in zip(lab.documents, lab.labels, strict=True)}


def _mark_labelled(req: TriageRequest, labels: list[TicketLabel]) -> list[TicketLabel]:
    """Tickets the team labelled already keep their label (it is not predicted again)."""
    given = _given_labels(req)
    out = []
    for doc, label in zip(req.tickets.documents, labels, strict=True):
        cat = given.get(doc.content_hash)
        if cat is None:
            out.append(label)
            continue
        out.append(
            label.model_copy(
                update={
                    "predicted": cat,
                    "confidence": 1.0,
                    "source": "labelled",
                    "reason": f"labelled {cat!r} by the team",
                }
            )
        )
    return out


def _gate(
    req: TriageRequest, labels: list[TicketLabel], docs: dict[str, Document]
) -> list[TicketLabel]:
    """Every quote verbatim in its ticket; a label without one gets the ticket's opening."""
    from subagents.verify import check_findings
    from workbench.triage.offline import evidence_of

    out = []
    failed = 0
    for label in labels:
        doc = docs[label.doc_id]
        good = [e for e in label.evidence if e.doc_id == doc.id]
        if good:
            probe = Finding(
                id="probe", task_key="gate", doc_id=doc.id, claim="x", evidence=good, confidence=0
            )
            bad = check_findings([probe], docs)
            if bad:
                good = _verbatim_only(good, doc)
        if len(good) < len(label.evidence):
            failed += 1
        if not good:
            flags = list(label.flags)
            if label.evidence:
                flags.append("its quotes were not verbatim in the ticket")
            out.append(
                label.model_copy(
                    update={
                        "evidence": evidence_of(doc, []),
                        "flags": flags,
                        "confidence": 0.0 if label.evidence else label.confidence,
                    }
                )
            )
        else:
            out.append(label.model_copy(update={"evidence": good}))
    req.store.update_manifest(
        quote_check={"checked": sum(len(x.evidence) for x in labels), "failed_labels": failed}
    )
    if failed:
        req.emit(Event("warning", "gate", f"{failed} {NOUN} had quotes that were not verbatim"))
    return out


def _verbatim_only(evidence: list[Evidence], doc: Document) -> list[Evidence]:
    keep = []
    for e in evidence:
        try:
            seg = doc.segment(e.segment_id)
        except KeyError:
            continue
        if e.quote and e.quote in seg.text:
            keep.append(e)
    return keep


async def _review(req: TriageRequest, labels: list[TicketLabel]) -> list[TicketLabel]:
    from workbench.core.errors import UserError
    from workbench.core.settings import ReviewSettings
    from workbench.runs.review import ReviewQueue

    s = req.parts.settings
    queue = ReviewQueue(
        req.store, ReviewSettings(threshold=req.threshold, policy=s.review.policy), req.control
    )
    cats = {c.lower(): c for c in req.labelled.categories}

    def check(text: str) -> str:
        name = text.split(":", 1)[0].strip() if text.lower() not in cats else text
        if name.lower() not in cats:
            raise UserError(
                f"{text!r} is not a category; give one of: {', '.join(req.labelled.categories)}"
            )
        return cats[name.lower()]

    queue.edit_check = check
    req.review = queue
    req.control.review = queue
    findings = [f for x in labels if x.source != "labelled" if (f := to_finding(x, "triage"))]
    flagged = {x.finding_id: x.flags for x in labels if x.flags and x.source != "labelled"}
    queue.propose(findings, force=flagged, reasons=flagged)
    pending = queue.pending()
    if pending:
        req.emit(
            Event(
                "review_queued",
                "review",
                f"{len(pending)} of {len(labels)} {NOUN} under the confidence threshold "
                f"{req.threshold:.2f} (or flagged) wait for review (policy: {s.review.policy})",
                data={"pending": len(pending)},
            )
        )
    await queue.settle()
    return [apply_decision(x, queue.decisions.get(x.finding_id)) for x in labels]


async def _themes(
    req: TriageRequest, runner: Any, labels: list[TicketLabel], docs: dict[str, Document]
) -> tuple[dict[str, Synthesis], dict[str, Finding]]:
    """Themes within each category, from each ticket's title (its own summary), verbatim."""
    from workbench.triage.offline import title_of

    s = req.parts.settings
    by_cat: dict[str, list[TicketLabel]] = {}
    for x in labels:
        if x.category is not None:
            by_cat.setdefault(x.category, []).append(x)
    about: dict[str, Finding] = {}
    out: dict[str, Synthesis] = {}
    version = runner.synthesis_version()
    for cat, members in sorted(by_cat.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if len(members) < s.triage.min_theme_tickets:
            continue
        fs = [f for x in members if (f := _about(docs[x.doc_id], title_of(docs[x.doc_id])))]
        about.update({f.id: f for f in fs})
        doc_ids = sorted(x.doc_id for x in members)
        question = f"What are the {cat} tickets about?"
        key = idempotency_key(
            "synthesize-category", version, category=cat, findings=sorted(f.id for f in fs)
        )
        done = req.store.load_task(key)
        if done is not None:
            out[cat] = Synthesis.model_validate(done["synthesis"])
            continue
        await _checkpoint(req, f"themes of {cat}")
        synthesis = await runner.synthesize(fs, doc_ids, noun=NOUN, question=question)
        req.store.save_task(key, {"synthesis": synthesis.model_dump(mode="json")})
        out[cat] = synthesis
        req.emit(
            Event(
                "stage_done",
                "synthesize",
                f"{cat}: {len(synthesis.themes)} themes in {len(members)} {NOUN}",
            )
        )
    req.store.write_json(
        "themes.json",
        {
            "themes": [t.model_dump(mode="json") for syn in out.values() for t in syn.themes],
            "categories": {c: syn.model_dump(mode="json") for c, syn in out.items()},
            "method": next(iter(out.values())).method if out else "",
        },
    )
    return out, about


def _about(doc: Document, title: str) -> Finding | None:
    """A ticket's own summary, verbatim: its title, else the opening of its first segment."""
    seg = next((x for x in doc.segments if x.attrs.get("field") == "title"), None)
    seg = seg or (doc.segments[0] if doc.segments else None)
    if seg is None or not seg.text.strip():
        return None
    quote = seg.text.strip()[:300]
    at = seg.text.index(quote)
    return Finding(
        id="about-" + finding_id(doc.id)[4:],
        task_key="triage-themes",
        doc_id=doc.id,
        claim=quote,
        evidence=[
            Evidence(
                doc_id=doc.id,
                segment_id=seg.id,
                quote=quote,
                speaker=seg.speaker,
                start_char=seg.start_char + at,
                end_char=seg.start_char + at + len(quote),
            )
        ],
        confidence=1.0,
    )


async def _checkpoint(req: TriageRequest, where: str) -> None:
    await req.control.checkpoint(where)


async def _outputs(
    req: TriageRequest,
    labels: list[TicketLabel],
    themes: dict[str, Synthesis],
    theme_findings: dict[str, Finding],
    note: str,
    short: str,
) -> dict[str, Any]:
    from workbench.outputs.charts import draw_charts
    from workbench.triage.report import (
        build_report,
        chart_data,
        method_rows,
        summary_lines,
        write_exports,
    )

    store = req.store
    docs = {d.id: d for d in req.tickets.documents}
    specs = chart_data(
        labels,
        req.tickets.documents,
        group_column=req.labelled.group_column,
        label_column=req.labelled.label_column,
        note=short,
    )
    await _checkpoint(req, "charts")
    req.emit(Event("stage_started", "charts", "drawing charts in the sandbox"))
    charts = await asyncio.to_thread(
        draw_charts,
        store.dir,
        specs,
        run_id=store.run_id,
        backend=req.parts.settings.sandbox,
    )
    req.emit(Event("stage_done", "charts", f"{len(charts)} charts"))
    summary = summary_lines(req, labels, note)
    assert req.tracker is not None
    spec = build_report(
        store=store,
        corpus_name=req.tickets.path.name,
        docs=docs,
        labels=labels,
        themes=themes,
        theme_findings=theme_findings,
        charts=charts,
        summary_lines=summary,
        method=method_rows(req),
        engine=req.engine,
        engine_note=note,
        cost_usd=float(req.tracker.ledger.cost_usd),
    )
    await _checkpoint(req, "export")
    outputs = await asyncio.to_thread(write_exports, store, spec)
    req.emit(Event("stage_done", "export", ", ".join(sorted(outputs))))
    from workbench.outputs.tables import write_findings_table

    findings = [f for x in labels if (f := to_finding(x, "triage"))]
    write_findings_table(store, findings, Synthesis(themes=[]), docs)
    return {"outputs": outputs, "summary": summary}
