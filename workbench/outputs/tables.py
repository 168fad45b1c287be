"""Tables a run writes: the findings table (parquet + JSON) and segment comparisons."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from subagents.findings import Finding, Synthesis
from workbench.runs.corpus import Corpus
from workbench.runs.store import RunStore


def write_findings_table(
    store: RunStore, findings: Sequence[Finding], synthesis: Synthesis, by_id: dict[str, Any]
) -> None:
    import polars as pl

    store.write_json("findings.json", [f.model_dump(mode="json") for f in findings])
    theme_of = {fid: t for t in synthesis.themes for fid in t.finding_ids}
    rows = []
    for f in findings:
        ev = f.evidence[0]
        t = theme_of.get(f.id)
        rows.append(
            {
                "finding_id": f.id,
                "doc_id": f.doc_id,
                "doc_title": by_id[f.doc_id].title,
                "claim": f.claim,
                "quote": ev.quote,
                "speaker": ev.speaker,
                "segment_id": ev.segment_id,
                "start_char": ev.start_char,
                "end_char": ev.end_char,
                "start_time": ev.start_time,
                "end_time": ev.end_time,
                "confidence": f.confidence,
                "sentiment": f.sentiment,
                "theme_id": t.id if t else None,
                "theme_label": t.label if t else None,
                "engine": f.engine,
                "task_key": f.task_key,
            }
        )
    schema = {
        "start_char": pl.Int64,
        "end_char": pl.Int64,
        "start_time": pl.Float64,
        "end_time": pl.Float64,
        "speaker": pl.Utf8,
        "theme_id": pl.Utf8,
        "theme_label": pl.Utf8,
    }
    df = (
        pl.DataFrame(rows, schema_overrides=schema)
        if rows
        else pl.DataFrame(schema={"finding_id": pl.Utf8})
    )
    tmp = store.dir / ".findings.parquet.tmp"
    df.write_parquet(tmp)
    tmp.replace(store.dir / "findings.parquet")


def segment_of(corpus: Corpus) -> tuple[str, dict[str, str]] | None:
    """A document attribute to compare by: the first metadata column with 2-12 values."""
    keys = sorted({k for d in corpus.documents for k in d.metadata})
    for key in keys:
        values = {d.id: str(d.metadata[key]) for d in corpus.documents if key in d.metadata}
        if len(values) == len(corpus.documents) and 2 <= len(set(values.values())) <= 12:
            return key, values
    return None


def compare_segments(
    store: RunStore, corpus: Corpus, findings: Sequence[Finding], synthesis: Synthesis
) -> dict[str, Any]:
    """Prevalence of each theme within each segment (n of N documents of that segment)."""
    seg = segment_of(corpus)
    if seg is None:
        out: dict[str, Any] = {"by": None, "note": "no document attribute with 2-12 values"}
        store.write_json("segments.json", out)
        return out
    key, value_of = seg
    totals: dict[str, int] = defaultdict(int)
    for v in value_of.values():
        totals[v] += 1
    themes = []
    for t in synthesis.themes:
        counts: dict[str, int] = defaultdict(int)
        for d in t.doc_ids:
            counts[value_of[d]] += 1
        themes.append(
            {
                "theme": t.label,
                "segments": {v: {"n": counts.get(v, 0), "of": totals[v]} for v in sorted(totals)},
            }
        )
    out = {"by": key, "segments": dict(sorted(totals.items())), "themes": themes}
    store.write_json("segments.json", out)
    return out
