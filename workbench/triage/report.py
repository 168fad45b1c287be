"""What a triage run shows: the labels table, charts of categories, the deck and reports.

Charts (numbers from the final labels, every count with its denominator):
- `category_prevalence`: tickets per category (n of N);
- `categories_by_segment`: the share of each segment's tickets in each category (the
  group column, else the first ticket attribute with 2-12 values);
- `categories_over_time`: the share of each period's tickets in each category, when the
  tickets carry a date (`created_at`, `date`, ...), by month, quarter or year.
At most `MAX_CHART_CATEGORIES` categories are drawn; the rest are summed as "other".
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exports.spec import ChartSpec, FindingRow, QuoteSpec, ReportSpec, ThemeSpec
from subagents.findings import Synthesis
from workbench.outputs.reporting import quote_spec, verify_spec
from workbench.runs.store import now_iso
from workbench.triage.records import TicketLabel

if TYPE_CHECKING:
    from retrieval.types import Document
    from workbench.runs.store import RunStore
    from workbench.triage.request import TriageRequest

MAX_CHART_CATEGORIES = 12
MAX_REVIEW_ROWS = 300
NO_CATEGORY = "no category"
DATE_KEYS = ("created_at", "created", "date", "opened_at", "submitted_at", "month", "period")
_DATE = re.compile(r"^(\d{4})-(\d{2})")


def final_category(label: TicketLabel) -> str:
    return label.category if label.category is not None else NO_CATEGORY


def category_id(category: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")[:40] or "category"
    import hashlib

    return f"cat-{slug}-{hashlib.sha256(category.encode()).hexdigest()[:6]}"


def _chart_categories(labels: Sequence[TicketLabel]) -> tuple[list[str], dict[str, str]]:
    """The categories drawn, most tickets first, and each category's row in the charts."""
    counts = Counter(final_category(lab) for lab in labels)
    ordered = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(ordered) <= MAX_CHART_CATEGORIES:
        return ordered, {c: c for c in ordered}
    shown = ordered[: MAX_CHART_CATEGORIES - 1]
    other = f"other ({len(ordered) - len(shown)} categories)"
    return [*shown, other], {c: (c if c in shown else other) for c in ordered}


def segment_values(
    docs: Sequence[Document], group_column: str | None, exclude: set[str]
) -> tuple[str, dict[str, str]] | None:
    """The attribute to compare by: the group column, else one with 2-12 values."""
    keys = [group_column] if group_column else []
    keys += sorted({k for d in docs for k in d.metadata} - exclude - {"ticket_id", *DATE_KEYS})
    for key in keys:
        if key is None:
            continue
        values = {d.id: str(d.metadata[key]) for d in docs if d.metadata.get(key) not in (None, "")}
        if len(values) == len(docs) and 2 <= len(set(values.values())) <= 12:
            return key, values
    return None


def periods_of(docs: Sequence[Document]) -> tuple[str, dict[str, str]] | None:
    """Each ticket's period (month, quarter or year: at most 24 of them), from its date."""
    for key in DATE_KEYS:
        months: dict[str, tuple[int, int]] = {}
        for d in docs:
            m = _DATE.match(str(d.metadata.get(key, "")).strip())
            if m:
                months[d.id] = (int(m.group(1)), int(m.group(2)))
        if len(months) < max(2, len(docs) // 2):
            continue
        for unit in ("month", "quarter", "year"):
            out = {d: _period(y, mo, unit) for d, (y, mo) in months.items()}
            if len(set(out.values())) <= 24:
                break
        if len(set(out.values())) >= 2:
            return key, out
    return None


def _period(year: int, month: int, unit: str) -> str:
    if unit == "month":
        return f"{year}-{month:02d}"
    if unit == "quarter":
        return f"{year}-Q{(month - 1) // 3 + 1}"
    return str(year)


def chart_data(
    labels: Sequence[TicketLabel],
    docs: Sequence[Document],
    *,
    group_column: str | None,
    label_column: str,
    note: str,
) -> list[tuple[str, str, str, dict[str, Any]]]:
    total = len(labels)
    if not total:
        return []
    shown, row_of = _chart_categories(labels)
    counts = Counter(row_of[final_category(lab)] for lab in labels)
    out: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "category_prevalence",
            "prevalence",
            "How many tickets fall in each category",
            {
                "themes": [{"label": c, "n": counts[c], "total": total} for c in shown],
                "note": note,
            },
        )
    ]
    cat_of = {lab.doc_id: row_of[final_category(lab)] for lab in labels}
    seg = segment_values(docs, group_column, {label_column})
    if seg is not None:
        key, value_of = seg
        names = sorted(set(value_of.values()))
        seg_totals = Counter(value_of[d] for d in cat_of if d in value_of)
        grid = [[0] * len(names) for _ in shown]
        for d, c in cat_of.items():
            if d in value_of:
                grid[shown.index(c)][names.index(value_of[d])] += 1
        out.append(
            (
                "categories_by_segment",
                "heatmap",
                f"Categories by {key}",
                {
                    "themes": shown,
                    "segments": names,
                    "segment_totals": [seg_totals[n] for n in names],
                    "counts": grid,
                    "note": note,
                },
            )
        )
    per = periods_of(docs)
    if per is not None:
        _, period_of = per
        periods = sorted(set(period_of.values()))
        totals = Counter(period_of.values())
        series = []
        for c in shown:
            n = Counter(period_of[d] for d, cc in cat_of.items() if cc == c and d in period_of)
            series.append({"label": c, "n": [n[p] for p in periods]})
        out.append(
            (
                "categories_over_time",
                "timeline",
                "Categories over time",
                {
                    "periods": periods,
                    "period_totals": [totals[p] for p in periods],
                    "series": series,
                    "note": note,
                },
            )
        )
    return out


def write_tables(store: RunStore, labels: Sequence[TicketLabel]) -> None:
    """labels.json (everything), labels.csv and labels.parquet (one row per ticket)."""
    import polars as pl

    store.write_json("labels.json", [lab.model_dump(mode="json") for lab in labels])
    rows = [
        {
            "doc_id": lab.doc_id,
            "ticket_id": lab.ticket_id,
            "title": lab.title,
            "group": lab.group,
            "category": lab.category,
            "status": lab.status,
            "predicted": lab.predicted,
            "confidence": lab.confidence,
            "evidence": " | ".join(e.quote for e in lab.evidence),
            "segment_ids": " ".join(e.segment_id for e in lab.evidence),
            "flags": "; ".join(lab.flags),
            "reviewed_by": lab.reviewed_by,
            "source": lab.source,
        }
        for lab in labels
    ]
    schema: dict[str, Any] = {
        k: pl.Utf8 for k in ("group", "category", "predicted", "reviewed_by", "flags", "evidence")
    }
    schema["confidence"] = pl.Float64
    df = pl.DataFrame(rows, schema_overrides=schema) if rows else pl.DataFrame()
    df.write_csv(store.dir / "labels.csv")
    df.write_parquet(store.dir / "labels.parquet")


def build_report(
    *,
    store: RunStore,
    corpus_name: str,
    docs: dict[str, Document],
    labels: Sequence[TicketLabel],
    themes: dict[str, Synthesis],
    theme_findings: dict[str, Any],
    charts: Sequence[ChartSpec],
    summary_lines: list[str],
    method: dict[str, Any],
    engine: str,
    engine_note: str,
    cost_usd: float,
) -> ReportSpec:
    total = len(labels)
    by_cat: dict[str, list[TicketLabel]] = defaultdict(list)
    for lab in labels:
        by_cat[final_category(lab)].append(lab)
    order = sorted(by_cat, key=lambda c: (c == NO_CATEGORY, -len(by_cat[c]), c))
    specs: list[ThemeSpec] = []
    for cat in order:
        members = by_cat[cat]
        best = sorted(members, key=lambda lab: (-lab.confidence, lab.doc_id))[:3]
        quotes: list[QuoteSpec] = [
            quote_spec(lab.evidence[0], docs[lab.doc_id], lab.confidence)
            for lab in best
            if lab.evidence
        ]
        inside = themes.get(cat)
        named = ", ".join(f"\u201c{t.label}\u201d" for t in inside.themes[:4]) if inside else ""
        queued = sum(1 for lab in members if lab.status in ("accepted", "relabelled"))
        specs.append(
            ThemeSpec(
                id=category_id(cat),
                label=f"Category: {cat}",
                summary=(
                    f"{len(members)} of {total} tickets"
                    + (f"; {queued} of them decided in review" if queued else "")
                    + (f". Themes inside: {named}." if named else ".")
                ),
                n_documents=len(members),
                total_documents=total,
                quotes=quotes,
                chart_id="category_prevalence" if charts else None,
                confidence=round(sum(lab.confidence for lab in members) / len(members), 3),
            )
        )
        if inside is None:
            continue
        for t in inside.themes:
            reps = [theme_findings[i] for i in t.representative_finding_ids if i in theme_findings]
            specs.append(
                ThemeSpec(
                    id=t.id,
                    label=f"{cat} \u203a {t.label}",
                    summary=t.summary,
                    n_documents=t.n_documents,
                    total_documents=t.total_documents,
                    quotes=[quote_spec(f.evidence[0], docs[f.doc_id], None) for f in reps[:3]],
                    keywords=t.keywords,
                )
            )
    review_rows = [lab for lab in labels if lab.status in ("accepted", "relabelled", "rejected")]
    rows = [
        FindingRow(
            finding_id=lab.finding_id,
            theme_id=category_id(final_category(lab)),
            doc_title=docs[lab.doc_id].title,
            claim=f"{lab.predicted or NO_CATEGORY} \u2192 {final_category(lab)} ({lab.status})",
            quote=lab.evidence[0].quote,
            confidence=lab.confidence,
            doc_id=lab.doc_id,
        )
        for lab in review_rows[:MAX_REVIEW_ROWS]
        if lab.evidence
    ]
    spec = ReportSpec(
        title=f"{corpus_name}: tickets triaged into the team's categories",
        question="Which of the team's categories does each ticket belong to, and what is in each?",
        engine=engine,
        engine_note=engine_note,
        created_at=now_iso(),
        run_id=store.run_id,
        corpus_name=corpus_name,
        n_documents=total,
        executive_summary=summary_lines,
        themes=specs,
        unassigned=[lab.title for lab in by_cat.get(NO_CATEGORY, [])][:200],
        charts=list(charts),
        findings=rows,
        method=method,
        cost_usd=cost_usd,
    )
    verify_spec(spec, docs)
    return spec


def write_exports(store: RunStore, spec: ReportSpec) -> dict[str, str]:
    from exports.deck import build_deck
    from exports.report import write_html, write_markdown

    run_dir = Path(store.dir)
    store.write_json("report_spec.json", spec.model_dump(mode="json"))
    deck = build_deck(spec, run_dir, run_dir / "deck.pptx")
    html = write_html(spec, run_dir, run_dir / "report.html")
    md = write_markdown(spec, run_dir, run_dir / "report.md")
    return {
        "deck": deck.name,
        "report_html": html.name,
        "report_md": md.name,
        "labels_csv": "labels.csv",
        "labels_parquet": "labels.parquet",
    }


def counts(labels: list[TicketLabel]) -> dict[str, Any]:
    status = Counter(x.status for x in labels)
    return {
        "categories": dict(Counter(final_category(x) for x in labels).most_common()),
        "status": dict(status),
        "reviewed": status["accepted"] + status["relabelled"] + status["rejected"],
    }


def summary_lines(req: TriageRequest, labels: list[TicketLabel], note: str) -> list[str]:
    total = len(labels)
    c = counts(labels)
    lab = req.labelled
    lines = [
        f"{total} {'tickets'} sorted into the team's {len(lab.categories)} categories, learned from "
        f"{len(lab.documents)} labelled {'tickets'}"
        + (f" (by {lab.group_column})" if lab.group_column else "")
        + "."
    ]
    for cat, n in list(c["categories"].items())[:5]:
        lines.append(
            f"\u201c{cat}\u201d: {n} of {total} {'tickets'} ({100 * n / max(1, total):.0f}%)."
        )
    lines.append(
        f"{c['reviewed']} of {total} {'tickets'} were under the confidence threshold "
        f"{req.threshold:.2f} or flagged, and went to review: "
        f"{c['status'].get('accepted', 0)} accepted, {c['status'].get('relabelled', 0)} "
        f"relabelled, {c['status'].get('rejected', 0)} rejected."
    )
    if req.fit.get("cv_f1") is not None:
        lines.append(
            f"On labelled {'tickets'} held out while learning (cross-validation), the classifier "
            f"scored macro F1 {req.fit['cv_f1']:.2f} and accuracy {req.fit['cv_accuracy']:.2f}."
        )
    lines.extend(str(n) for n in req.fit.get("classifier", [])[:2])
    lines.extend(lab.notes()[:4])
    lines.append(note)
    return lines


def method_rows(req: TriageRequest) -> dict[str, Any]:
    lab = req.labelled
    rows: dict[str, Any] = {
        "Labelled examples": f"{len(lab.documents)} from {lab.path.name}, column "
        f"{lab.label_column!r}: " + ", ".join(f"{k} ({v})" for k, v in lab.counts().items()),
        "Review": f"confidence under {req.threshold:.2f}, or flagged; batch policy "
        f"{req.parts.settings.review.policy}",
        "Evidence": "every quote verified verbatim against its ticket",
    }
    if req.engine == "offline":
        rows["Classifier"] = (
            "calibrated stack of logistic regressions on MiniLM embeddings and layer "
            "states, TF-IDF words and characters, and the tickets' shape (template headings, code, traces)"
            + (f", per {lab.group_column} and pooled" if lab.group_column else "")
        )
    else:
        rows["Classifier"] = (
            "the ticket-analyst in batches, with the categories' definitions and labelled "
            "examples chosen by similarity"
        )
    return rows
