"""HTML fragments: the panel's sections and the rich reprs of result objects.

Pure functions of plain data (`PanelState` parts, `Finding`, `Theme`, ...): no widgets,
no I/O, so the same HTML serves the live panel, the static reprs that papermill keeps
in an executed notebook, and the tests. Every value that came from a corpus or a
person is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.ui.state import FindingRow, PanelState, ReviewRow, SteerRow

if TYPE_CHECKING:
    from subagents.findings import Finding, Theme
    from workbench.runs.run import Run

e = html.escape

CSS = """
<style>
.wb-panel {font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px;}
.wb-panel table, .wb-repr table {border-collapse: collapse; width: 100%;}
.wb-panel th, .wb-panel td, .wb-repr th, .wb-repr td {
  border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top;}
.wb-panel th, .wb-repr th {background: #f3f4f6; position: sticky; top: 0;}
.wb-quote {color: #334; font-style: italic;}
.wb-muted {color: #667; font-size: 12px;}
.wb-badge {display: inline-block; padding: 1px 7px; border-radius: 9px; color: #fff;
  font-size: 11px; background: #6b7280;}
.wb-running {background: #2563eb;} .wb-done {background: #16a34a;}
.wb-failed {background: #dc2626;} .wb-paused, .wb-waiting-approval {background: #d97706;}
.wb-cancelled {background: #6b7280;}
.wb-scroll {max-height: 320px; overflow-y: auto; border: 1px solid #e5e7eb;}
</style>
"""


def badge(status: str) -> str:
    return f'<span class="wb-badge wb-{e(status)}">{e(status)}</span>'


def header(st: PanelState) -> str:
    note = f'<div class="wb-muted">{e(st.engine_note)}</div>' if st.engine_note else ""
    err = f'<div style="color:#b91c1c">{e(st.error)}</div>' if st.error else ""
    return (
        f'{CSS}<div class="wb-panel"><b>Run {e(st.run_id or "(starting)")}</b> '
        f"{badge(st.status)} <span class=wb-muted>{st.elapsed:.1f}s</span>"
        f"<div>{e(st.question)}</div>{note}{err}</div>"
    )


def plan_html(plan: Mapping[str, Any] | None, status: str) -> str:
    if not plan:
        return '<div class="wb-panel wb-muted">No plan yet.</div>'
    rows = []
    for s in plan.get("stages", []):
        name = s.get("id") or s.get("name", "")
        agent = s.get("subagent") or s.get("agent", "")
        fan = s.get("fan_out", "")
        deps = ", ".join(s.get("depends_on", []))
        goal = s.get("goal", "")
        rows.append(
            f"<tr><td>{e(str(name))}</td><td>{e(str(agent))}</td><td>{e(str(fan))}</td>"
            f"<td>{e(deps)}</td><td>{e(str(goal))}</td></tr>"
        )
    title = plan.get("recipe") or plan.get("source") or "plan"
    return (
        f'<div class="wb-panel"><b>Plan</b> ({e(str(title))}) {badge(status)}'
        "<table><tr><th>stage</th><th>sub-agent</th><th>fan-out</th><th>after</th>"
        f"<th>goal</th></tr>{''.join(rows)}</table></div>"
    )


def findings_page(rows: Sequence[FindingRow], start: int, size: int, total: int) -> str:
    """One page of the findings table: a bounded DOM however many findings there are."""
    body = "".join(
        f"<tr><td>{e(r.doc_id)}</td><td>{e(r.claim)}"
        f'<div class="wb-quote">“{e(r.quote)}”'
        f"{' — ' + e(r.speaker) if r.speaker else ''}</div></td>"
        f"<td>{r.confidence:.2f}</td><td>{e(r.sentiment)}</td></tr>"
        for r in rows[start : start + size]
    )
    shown = f"{start + 1}-{min(start + size, len(rows))} of {len(rows)}" if rows else "0"
    more = f" (filtered from {total})" if total != len(rows) else ""
    return (
        f'<div class="wb-panel"><div class="wb-muted">findings {shown}{more}</div>'
        '<div class="wb-scroll"><table><tr><th>document</th><th>finding and quote</th>'
        f"<th>conf.</th><th>sentiment</th></tr>{body}</table></div></div>"
    )


def review_row_html(r: ReviewRow) -> str:
    why = ", ".join(r.reasons)
    done = f" {badge(r.decision)}" if r.decision else ""
    claim = e(r.edited_claim or r.claim)
    return (
        f'<div class="wb-panel"><b>{e(r.finding_id)}</b> <span class="wb-muted">'
        f"{e(r.doc_id)} · score {r.score:.2f} ({e(why)})</span>{done}<br>{claim}"
        f'<div class="wb-quote">“{e(r.quote)}”</div></div>'
    )


def steering_html(rows: Iterable[SteerRow]) -> str:
    items = "".join(
        f"<li>{e(r.text)} <span class=wb-muted>({e(r.source)}; "
        f"{'applied at ' + e(r.applied_where) if r.applied_where else 'pending'})</span></li>"
        for r in rows
    )
    return f'<div class="wb-panel"><ul>{items}</ul></div>' if items else ""


def log_html(lines: Sequence[str], last: int = 8) -> str:
    return (
        '<div class="wb-panel wb-muted" style="white-space: pre-wrap">'
        + e("\n".join(lines[-last:]))
        + "</div>"
    )


# -- rich reprs of result objects ---------------------------------------------------------
def finding_html(f: Any) -> str:
    ev = f.evidence[0]
    where = " · ".join(
        p
        for p in (
            ev.speaker or "",
            f.doc_id,
            f"{ev.start_time:.0f}s" if ev.start_time is not None else "",
        )
        if p
    )
    more = f" (+{len(f.evidence) - 1} more quotes)" if len(f.evidence) > 1 else ""
    return (
        f'{CSS}<div class="wb-repr"><b>Finding {e(f.id)}</b> '
        f'<span class="wb-muted">confidence {f.confidence:.2f} · {e(f.sentiment)} · '
        f"{e(f.engine)} engine</span><div>{e(f.claim)}</div>"
        f'<blockquote class="wb-quote">“{e(ev.quote)}”</blockquote>'
        f'<div class="wb-muted">— {e(where)}{more}</div></div>'
    )


def theme_html(t: Any) -> str:
    share = t.n_documents / t.total_documents if t.total_documents else 0.0
    kw = ", ".join(t.keywords[:8])
    return (
        f'{CSS}<div class="wb-repr"><b>{e(t.label)}</b> — {t.n_documents} of '
        f"{t.total_documents} documents ({share:.0%})"
        f'<div style="background:#e5e7eb;height:6px;width:240px"><div style="background:#2563eb;'
        f'height:6px;width:{240 * share:.0f}px"></div></div>'
        f"<div>{e(t.summary)}</div>"
        f'<div class="wb-muted">{len(t.finding_ids)} findings'
        f"{' · keywords: ' + e(kw) if kw else ''}</div></div>"
    )


def themes_table(themes: Sequence[Any]) -> str:
    rows = "".join(
        f"<tr><td>{e(t.label)}</td><td>{t.n_documents} of {t.total_documents}</td>"
        f"<td>{e(t.summary)}</td></tr>"
        for t in themes
    )
    return "<table><tr><th>theme</th><th>prevalence</th><th>summary</th></tr>" + rows + "</table>"


def quote_cards(themes: Sequence[Theme], findings: Sequence[Finding]) -> str:
    """Each theme's two representative quotes, with speaker and document."""
    by_id = {f.id: f for f in findings}
    cards = []
    for t in themes:
        for fid in t.representative_finding_ids[:2]:
            f = by_id.get(fid)
            if f is not None:
                ev = f.evidence[0]
                cards.append(
                    f"<div><b>{e(t.label)}</b>: <span class='wb-quote'>“{e(ev.quote)}”</span>"
                    f" <span class='wb-muted'>— {e(ev.speaker or 'unknown')}, {e(f.doc_id)}"
                    "</span></div>"
                )
    return "<div class='wb-panel'>" + "".join(cards) + "</div>"


def run_html(run: Run) -> str:
    m = run.record
    n_tokens = sum((m.tokens or {}).values())
    links = "".join(
        f"<li>{e(k)}: <code>{e(str(run.dir / str(v)))}</code></li>" for k, v in m.outputs.items()
    )
    return (
        f'{CSS}<div class="wb-repr"><b>Run {e(run.id)}</b> {badge(run.status)}'
        f'<div class="wb-muted">{e(m.engine_note)}</div>'
        f"<div>Question: {e(m.question)}</div>"
        f"<div>{m.documents} documents · {m.findings} findings · "
        f"{len(run.themes)} themes · {n_tokens} tokens · ${m.cost_usd:.4f}</div>"
        f"{themes_table(run.themes)}<ul>{links}</ul></div>"
    )


def corpus_html(corpus: Any) -> str:
    docs = corpus.documents
    rows = "".join(
        f"<tr><td>{e(d.title)}</td><td>{e(d.kind)}</td><td>{len(d.segments)}</td></tr>"
        for d in docs[:15]
    )
    more = f'<div class="wb-muted">… and {len(docs) - 15} more</div>' if len(docs) > 15 else ""
    skipped = (
        '<div class="wb-muted">Skipped: '
        + "; ".join(e(f"{s.path} ({s.reason})") for s in corpus.skipped[:10])
        + "</div>"
        if corpus.skipped
        else ""
    )
    return (
        f'{CSS}<div class="wb-repr"><b>Corpus {e(corpus.name)}</b>: {len(docs)} '
        f"{e(corpus.noun)}, {sum(len(d.segments) for d in docs)} segments"
        f"<table><tr><th>document</th><th>kind</th><th>segments</th></tr>{rows}</table>"
        f"{more}{skipped}</div>"
    )


def images_html(pngs: Sequence[tuple[str, str]], width: int = 220) -> str:
    """`pngs`: (caption, base64 PNG) pairs, shown as a row of thumbnails."""
    cells = "".join(
        f'<figure style="display:inline-block;margin:4px"><img width="{width}" '
        f'src="data:image/png;base64,{b64}" style="border:1px solid #ccc">'
        f'<figcaption class="wb-muted">{e(cap)}</figcaption></figure>'
        for cap, b64 in pngs
    )
    return f'<div class="wb-repr">{cells}</div>'
