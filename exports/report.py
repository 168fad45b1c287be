"""The report: one self-contained HTML file, and a Markdown version, from a `ReportSpec`.

HTML: charts are embedded as PNG data URIs; every quote is a `<q class="verbatim">` that
expands (a native `<details>`, no script) to show its source excerpt, the quote marked
between its context before and after; clip players for quotes with a media clip. A
Content-Security-Policy meta tag forbids every network request, so even a stray URL in
the corpus text cannot make the file phone home. The engine note is the first thing on
the page and is repeated in the footer.

Clips: embedded as data URIs when small (each up to `EMBED_MEDIA_MAX_BYTES`, all together
up to `EMBED_MEDIA_TOTAL_BYTES`), so the file still works when mailed on its own; a clip
over the limits is referenced by its path relative to the report (the run directory
layout), and the player says so — a 50 MB video in base64 would make the page unusable.

Markdown: the same content, charts and clips as relative links (it lives in the run dir).
"""

from __future__ import annotations

import base64
import html
import mimetypes
from pathlib import Path
from urllib.parse import quote

from exports.errors import ExportInputError
from exports.paths import inside, is_relative_inside
from exports.spec import ChartSpec, QuoteSpec, ReportSpec, ThemeSpec
from exports.style import prevalence_label
from exports.text import (
    attribution,
    citation,
    clean_text,
    confidence_text,
    headline,
    md_lines,
    md_text,
    method_rows,
)

__all__ = ["EMBED_MEDIA_MAX_BYTES", "EMBED_MEDIA_TOTAL_BYTES", "write_html", "write_markdown"]

EMBED_MEDIA_MAX_BYTES = 4_000_000
EMBED_MEDIA_TOTAL_BYTES = 40_000_000

CSP = "default-src 'none'; img-src data:; media-src data: 'self'; style-src 'unsafe-inline'"

CSS = """
:root { --ink:#222; --muted:#666; --accent:#0072B2; --rule:#ddd; --soft:#f4f6f8; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); max-width: 60rem; margin: 0 auto; padding: 1.5rem; line-height: 1.5; }
.engine { background: #fff4d6; border-left: 4px solid #E69F00; padding: .6rem 1rem; font-weight: 600; }
h1 { font-size: 2rem; margin: 1rem 0 .25rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid var(--rule); }
.meta { color: var(--muted); font-size: .95rem; }
.stat { font-size: 1.4rem; font-weight: 700; color: var(--accent); }
.stat small { font-size: 1rem; color: var(--muted); font-weight: 400; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: .85rem; }
blockquote.quote { margin: 1rem 0; padding: .6rem 1rem; border-left: 4px solid var(--accent); background: var(--soft); }
q.verbatim { font-style: italic; font-size: 1.05rem; }
.attr { color: var(--muted); font-size: .9rem; margin-top: .25rem; }
details { margin-top: .4rem; } summary { cursor: pointer; color: var(--accent); font-size: .9rem; }
.excerpt { background: #fff; border: 1px solid var(--rule); padding: .5rem .75rem; white-space: pre-wrap; }
.excerpt mark { background: #cfe6f7; }
audio, video { display: block; margin-top: .4rem; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid var(--rule); padding: .35rem .5rem; vertical-align: top; text-align: left; }
th { background: var(--soft); }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; border-top: 1px solid var(--rule); padding-top: .5rem; }
"""


def _e(text: object) -> str:
    return html.escape(clean_text(text), quote=True)


class _Media:
    def __init__(self, run_dir: Path, out_dir: Path) -> None:
        self.run_dir, self.out_dir, self.embedded = run_dir, out_dir, 0

    def data_uri(self, path: Path, limit: int | None = None) -> str | None:
        size = path.stat().st_size
        if limit is not None and (size > limit or self.embedded + size > EMBED_MEDIA_TOTAL_BYTES):
            return None
        self.embedded += size
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")

    def relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.out_dir.resolve()).as_posix()
        except ValueError:
            return path.resolve().as_uri()


def _chart_html(chart: ChartSpec, media: _Media) -> str:
    path = inside(media.run_dir, chart.png_path, f"chart {chart.id!r}")
    if not path.is_file():
        raise ExportInputError(f"chart {chart.id!r}: {path} does not exist; render the chart first")
    uri = media.data_uri(path)
    how = []
    if chart.code_path:
        how.append(f"drawn by <code>{_e(chart.code_path)}</code>")
    if chart.data_path:
        how.append(f"from <code>{_e(chart.data_path)}</code>")
    return (
        f'<figure id="chart-{_e(chart.id)}"><img src="{uri}" alt="{_e(chart.alt_text or chart.title)}">'
        f"<figcaption>{_e(chart.title)}{' — ' + ', '.join(how) if how else ''}</figcaption></figure>"
    )


def _player_html(q: QuoteSpec, media: _Media) -> str:
    if not q.media_path:
        return ""
    path = inside(media.run_dir, q.media_path, f"clip of quote {q.segment_id!r}")
    if not path.is_file():
        return f'<p class="attr">Clip missing: {_e(q.media_path)}</p>'
    mime = mimetypes.guess_type(path.name)[0] or ""
    tag = "video" if mime.startswith("video") else "audio"
    uri = media.data_uri(path, EMBED_MEDIA_MAX_BYTES)
    if uri is not None:
        return f'<{tag} class="clip" controls preload="metadata" src="{uri}"></{tag}>'
    rel = media.relative(path)
    return (
        f'<{tag} class="clip" controls preload="none" src="{_e(rel)}"></{tag}>'
        f'<p class="attr">Clip too large to embed; it plays from <code>{_e(rel)}</code> beside this report.</p>'
    )


def _quote_html(q: QuoteSpec, anchor: str, media: _Media) -> str:
    excerpt = f"{_e(q.context_before)} <mark>{_e(q.text)}</mark> {_e(q.context_after)}".strip()
    return (
        f'<blockquote class="quote" id="{_e(anchor)}">'
        f'<q class="verbatim" data-doc-id="{_e(q.doc_id)}" data-segment-id="{_e(q.segment_id)}">{_e(q.text)}</q>'
        f'<div class="attr">{_e(attribution(q))}</div>'
        f"{_player_html(q, media)}"
        f"<details><summary>Show in source ({_e(q.doc_title)}, segment {_e(q.segment_id)})</summary>"
        f'<div class="excerpt">{excerpt}</div><div class="attr">{_e(citation(q))}</div></details>'
        "</blockquote>"
    )


def _theme_html(t: ThemeSpec, charts: dict[str, ChartSpec], media: _Media) -> str:
    parts = [
        f'<section class="theme" id="theme-{_e(t.id)}"><h2>{_e(t.label)}</h2>',
        f'<p class="stat" data-theme-id="{_e(t.id)}">{_e(prevalence_label(t.n_documents, t.total_documents))}'
        " <small>documents</small></p>",
        f"<p>{_e(t.summary)}</p>",
        f'<p class="meta">Confidence: {_e(confidence_text(t.confidence))}'
        + (f" · Keywords: {_e(', '.join(t.keywords))}" if t.keywords else "")
        + "</p>",
    ]
    if t.chart_id and t.chart_id in charts:
        parts.append(_chart_html(charts[t.chart_id], media))
    for i, q in enumerate(t.quotes, 1):
        parts.append(_quote_html(q, f"q-{t.id}-{i}", media))
    if not t.quotes:
        parts.append('<p class="meta">No verbatim quote was kept for this theme.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def write_html(spec: ReportSpec, run_dir: Path, out_path: Path) -> Path:
    """Write the self-contained HTML report and return its path."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    media = _Media(run_dir, out_path.parent)
    charts = {c.id: c for c in spec.charts}
    theme_charts = {t.chart_id for t in spec.themes if t.chart_id}
    labels = {t.id: t.label for t in spec.themes}
    body = [
        f'<div class="engine" id="engine-note">{_e(spec.engine_note)}</div>',
        f"<header><h1>{_e(headline(spec.title, 120))}</h1>",
        f'<p class="meta">Question: {_e(spec.question)}<br>{_e(spec.corpus_name)} · {spec.n_documents} documents'
        f" · run {_e(spec.run_id)} · {_e(spec.created_at)}</p></header>",
        "<h2>Executive summary</h2><ul>"
        + "".join(f"<li>{_e(b)}</li>" for b in spec.executive_summary)
        + "</ul>",
    ]
    overview = [c for c in spec.charts if c.id not in theme_charts]
    if overview:
        body.append("<h2>Charts</h2>" + "".join(_chart_html(c, media) for c in overview))
    body += [_theme_html(t, charts, media) for t in spec.themes]
    body.append(
        f"<h2>Documents that fit no theme: {len(spec.unassigned)} of {spec.n_documents}</h2>"
        + (
            "<ul>" + "".join(f"<li>{_e(d)}</li>" for d in spec.unassigned) + "</ul>"
            if spec.unassigned
            else "<p>Every document analysed fits at least one theme.</p>"
        )
    )
    body.append(
        "<h2>Method</h2><table>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in method_rows(spec))
        + "</table>"
    )
    if spec.findings:
        body.append(
            "<h2>Appendix: findings</h2><table><tr><th>Theme</th><th>Document</th><th>Claim</th>"
            "<th>Quote</th><th>Confidence</th></tr>"
            + "".join(
                f"<tr><td>{_e(labels.get(f.theme_id or '', f.theme_id or '—'))}</td><td>{_e(f.doc_title)}</td>"
                f"<td>{_e(f.claim)}</td><td class='quote-cell'>{_e(f.quote)}</td><td>{f.confidence:.2f}</td></tr>"
                for f in spec.findings
            )
            + "</table>"
        )
    body.append(
        f"<footer>{_e(spec.engine_note)} Run {_e(spec.run_id)}, {_e(spec.created_at)}.</footer>"
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="research-workbench exports">'
        f"<title>{_e(headline(spec.title, 120))}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    out_path.write_text(page, encoding="utf-8")
    return out_path


def _md_link(target: str | None) -> str | None:
    """A link target inside the run dir, URL-quoted; None for anything else."""
    if not target or not is_relative_inside(target):
        return None
    return quote(target, safe="/._-")


def _md_quote(q: QuoteSpec) -> list[str]:
    lines = [*(f"> {line}" for line in md_lines(q.text)), ">", f"> {md_text(attribution(q))}", ""]
    clip = _md_link(q.media_path)
    if clip:
        lines += [f"[▶ Play clip]({clip})", ""]
    elif q.media_path:
        lines += ["(clip outside the run directory: not linked)", ""]
    before, after = md_text(q.context_before), md_text(q.context_after)
    ctx = f"{before} **{md_text(q.text)}** {after}".strip()
    lines += [
        # raw HTML: one line, so no blank line can end the block and start Markdown
        f"<details><summary>Show in source: {html.escape(' '.join(clean_text(citation(q)).split()))}"
        "</summary>",
        "",
        ctx,
        "",
        "</details>",
        "",
    ]
    return lines


def _md_image(alt: str, target: str | None) -> list[str]:
    link = _md_link(target)
    if link is None:
        return [f"(chart {md_text(alt)}: its file is outside the run directory, not linked)", ""]
    return [f"![{md_text(alt)}]({link})", ""]


def write_markdown(spec: ReportSpec, run_dir: Path, out_path: Path) -> Path:
    """Write the Markdown report (charts and clips as links relative to the run dir).

    Every string from the corpus or a model goes through `md_text` (markup escaped,
    control characters dropped), and only paths inside the run dir become links.
    """
    run_dir, out_path = Path(run_dir), Path(out_path)
    t_ = md_text
    labels = {t.id: t.label for t in spec.themes}
    charts = {c.id: c for c in spec.charts}
    theme_charts = {t.chart_id for t in spec.themes if t.chart_id}
    md = [
        f"> **{t_(spec.engine_note)}**",
        "",
        f"# {t_(headline(spec.title, 120))}",
        "",
        f"Question: {t_(spec.question)}  ",
        f"{t_(spec.corpus_name)} · {spec.n_documents} documents · "
        f"run {t_(spec.run_id)} · {t_(spec.created_at)}",
        "",
        "## Executive summary",
        "",
    ]
    md += [f"- {t_(b)}" for b in spec.executive_summary] + [""]
    for c in spec.charts:
        if c.id not in theme_charts:
            md += _md_image(c.alt_text or c.title, c.png_path)
    for t in spec.themes:
        md += [
            f"## {t_(t.label)}",
            "",
            f"**{prevalence_label(t.n_documents, t.total_documents)}** documents",
            "",
            t_(t.summary),
            "",
            f"Confidence: {confidence_text(t.confidence)}",
            "",
        ]
        if t.keywords:
            md += [f"Keywords: {t_(', '.join(t.keywords))}", ""]
        if t.chart_id and t.chart_id in charts:
            md += _md_image(charts[t.chart_id].title, charts[t.chart_id].png_path)
        for q in t.quotes:
            md += _md_quote(q)
    md += [f"## Documents that fit no theme: {len(spec.unassigned)} of {spec.n_documents}", ""]
    md += [f"- {t_(d)}" for d in spec.unassigned] or [
        "Every document analysed fits at least one theme."
    ]
    md += ["", "## Method", "", "| | |", "|---|---|"]
    md += [f"| {t_(k)} | {t_(v)} |" for k, v in method_rows(spec)]
    if spec.findings:
        md += [
            "",
            "## Appendix: findings",
            "",
            "| Theme | Document | Claim | Quote | Confidence |",
            "|---|---|---|---|---|",
        ]
        md += [
            f"| {t_(labels.get(f.theme_id or '', f.theme_id or '—'))} | {t_(f.doc_title)} | "
            f"{t_(f.claim or '')} | {t_(f.quote)} | {f.confidence:.2f} |"
            for f in spec.findings
        ]
    md += ["", "---", f"{t_(spec.engine_note)} Run {t_(spec.run_id)}, {t_(spec.created_at)}.", ""]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(md), encoding="utf-8")
    return out_path
