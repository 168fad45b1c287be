"""The report: one self-contained HTML file, and a Markdown version, from a `ReportSpec`.

HTML: charts are embedded as PNG data URIs, each with a line saying how to read it.
After the summary, a question of several parts is answered part by part (the themes that
answer each part most, linked, and its best quotes). Per theme: its prevalence (with participants when known), description, the reviewer's
flags, its own chart, its codes (each with its prevalence and quotes), and its quotes.
Every quote is a `<q class="verbatim">` showing what was said as a reader sees it
(transcript markup removed; the checks trace it to the verbatim text), the prompt that
drew it ("Asked by Dan: …"), and a native `<details>` (no script) that shows the quote's
own turn whole, the quote marked, with the turns around it and their speakers; clip
players for quotes with a media clip. Then the documents outside the themes and why, the
method with who was treated as interviewer and the reviewer's notes, and the full
findings table, collapsed. A Content-Security-Policy meta tag forbids every network
request, so even a stray URL in the corpus text cannot make the file phone home. The
engine note is the first thing on the page and is repeated in the footer.

Clips: embedded as data URIs when small (each up to `EMBED_MEDIA_MAX_BYTES`, all together
up to `EMBED_MEDIA_TOTAL_BYTES`), so the file still works when mailed on its own; a clip
over the limits is referenced by its path relative to the report (the run directory
layout), and the player says so — a 50 MB video in base64 would make the page unusable.

Markdown: the same content, charts and clips as relative links (it lives in the run dir,
and only paths inside it become links), every corpus or model string escaped (`md_text`);
its appendix is bounded per theme like the deck's, the full table being the CSV beside it.
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
    APPENDIX_PER_THEME,
    appendix_cells,
    appendix_groups,
    appendix_head,
    attribution,
    citation,
    clean_text,
    confidence_text,
    has_claims,
    headline,
    interviewers_by_doc,
    md_lines,
    md_text,
    method_rows,
    part_lead,
    people,
    prompt_line,
    role_rows,
    tail,
    theme_of_quote,
)

__all__ = ["EMBED_MEDIA_MAX_BYTES", "EMBED_MEDIA_TOTAL_BYTES", "write_html", "write_markdown"]

EMBED_MEDIA_MAX_BYTES = 4_000_000
EMBED_MEDIA_TOTAL_BYTES = 40_000_000

CANDIDATE_TITLE = "Candidate codes (not in your codebook: add them to it to accept)"
PROMPT_CHARS_HTML = 400  # a long prompt's end; the whole turn is in "Show in source"

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
.excerpt p.turn { margin: .25rem 0; white-space: normal; } .excerpt p.own { font-weight: 500; }
.who { font-weight: 700; }
.prompt { color: var(--muted); font-size: .9rem; margin-bottom: .2rem; }
.description { font-size: 1.1rem; }
.flags { background: #fdf0e4; border-left: 4px solid #B45F06; padding: .4rem .8rem; color: #7a3f00; }
.flags p { margin: .2rem 0; }
.code { margin: .6rem 0; } .code .n { color: var(--muted); } .code p { margin: .15rem 0; }
.code blockquote.quote { margin: .4rem 0 .4rem 1rem; }
td.prompt-cell { color: var(--muted); }
section.theme figure img { max-width: 44rem; display: block; margin: 0 auto; }
details.appendix table { font-size: .82rem; } details.appendix td.quote-cell { min-width: 24rem; }
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
        f"<figcaption>{_e(chart.title)}{'. ' + _e(chart.caption) if chart.caption else ''}"
        f"{' — ' + ', '.join(how) if how else ''}</figcaption></figure>"
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


def _source_html(q: QuoteSpec) -> str:
    """The quote's own turn whole, with the turns around it and their speakers; the quote
    marked. Without turns (an older spec), the raw context around the quote."""
    if not q.turns:
        return f"{_e(q.context_before)} <mark>{_e(q.text)}</mark> {_e(q.context_after)}".strip()
    parts = []
    for t in q.turns:
        own = t.quote_start is not None and t.quote_end is not None
        if own:
            a, b = t.quote_start or 0, t.quote_end or 0
            body = f"{_e(t.text[:a])}<mark>{_e(t.text[a:b])}</mark>{_e(t.text[b:])}"
        else:
            body = _e(t.text)
        who = f'<span class="who">{_e(t.speaker)}:</span> ' if t.speaker else ""
        parts.append(f'<p class="turn{" own" if own else ""}">{who}{body}</p>')
    return "".join(parts)


def _quote_html(
    q: QuoteSpec,
    anchor: str,
    media: _Media,
    interviewers: dict[str, set[str]] | None = None,
    tag: str = "",
) -> str:
    asked = prompt_line(q, interviewers or {}, PROMPT_CHARS_HTML)
    return (
        f'<blockquote class="quote" id="{_e(anchor)}">'
        + (f'<div class="prompt">{_e(asked)}</div>' if asked else "")
        + f'<q class="verbatim" data-doc-id="{_e(q.doc_id)}" data-segment-id="{_e(q.segment_id)}">'
        f"{_e(q.shown)}</q>"
        f'<div class="attr">{_e(attribution(q) + tag)}</div>'
        f"{_player_html(q, media)}"
        f"<details><summary>Show in source ({_e(q.doc_title)}, segment {_e(q.segment_id)})</summary>"
        f'<div class="excerpt">{_source_html(q)}</div><div class="attr">{_e(citation(q))}</div></details>'
        "</blockquote>"
    )


def _codes_html(t: ThemeSpec, noun: str, media: _Media, who: dict[str, set[str]]) -> str:
    if not t.codes:
        return ""
    parts = ["<h3>Codes</h3>"]
    for k, c in enumerate(t.codes, 1):
        people_n = f" · {c.n_participants} participants" if c.n_participants else ""
        quotes = "".join(
            _quote_html(q, f"q-{t.id}-c{k}-{i}", media, who) for i, q in enumerate(c.quotes, 1)
        )
        parts.append(
            f'<div class="code"><b>{_e(c.label)}</b> <span class="n">'
            f"{_e(prevalence_label(c.n_documents, t.total_documents))} {_e(noun)}{_e(people_n)}</span>"
            + (f"<p>{_e(c.description)}</p>" if c.description else "")
            + (
                f"<details><summary>{len(c.quotes)} quote{'s' if len(c.quotes) > 1 else ''}"
                f"</summary>{quotes}</details>"
                if c.quotes
                else ""
            )
            + "</div>"
        )
    return "".join(parts)


def _theme_html(
    t: ThemeSpec,
    charts: dict[str, ChartSpec],
    media: _Media,
    noun: str = "documents",
    who: dict[str, set[str]] | None = None,
) -> str:
    who = who or {}
    participants = people(t.n_participants, t.total_participants)
    parts = [
        f'<section class="theme" id="theme-{_e(t.id)}"><h2>{_e(t.label)}</h2>',
        f'<p class="stat" data-theme-id="{_e(t.id)}">{_e(prevalence_label(t.n_documents, t.total_documents))}'
        f" <small>{_e(noun)}" + (f" · {_e(participants)}" if participants else "") + "</small></p>",
    ]
    # the description (drawn from the evidence), else the summary; both are in the notes
    parts.append(f'<p class="description">{_e(t.description or t.summary)}</p>')
    if t.flags:
        parts.append(
            '<div class="flags">' + "".join(f"<p>Reviewer: {_e(f)}</p>" for f in t.flags) + "</div>"
        )
    if t.chart_id and t.chart_id in charts:
        parts.append(_chart_html(charts[t.chart_id], media))
    parts.append(_codes_html(t, noun, media, who))
    parts.append("<h3>In their words</h3>" if t.quotes else "")
    for i, q in enumerate(t.quotes, 1):
        parts.append(_quote_html(q, f"q-{t.id}-{i}", media, who))
    if not t.quotes:
        parts.append('<p class="meta">No verbatim quote was kept for this theme.</p>')
    parts.append(
        f'<p class="meta">Confidence: {_e(confidence_text(t.confidence))}'
        + (f" · Keywords: {_e(', '.join(t.keywords))}" if t.keywords else "")
        + "</p>"
    )
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _parts_html(spec: ReportSpec, media: _Media, who: dict[str, set[str]]) -> str:
    """The question answered part by part: the themes that answer each part most, and the
    quotes that answer it best."""
    if not spec.parts:
        return ""
    out = ['<section class="parts" id="question-parts"><h2>The question, part by part</h2>']
    for k, p in enumerate(spec.parts, 1):
        out.append(f"<h3>{_e(p.question)}</h3>")
        lead = part_lead(
            p,
            spec.themes,
            _e(spec.noun),
            lambda t: f'<a href="#theme-{_e(t.id)}">“{_e(t.label)}”</a>',
        )
        if lead:
            out.append(f'<p class="meta">{lead}</p>')
        out += [
            _quote_html(q, f"q-part{k}-{i}", media, who, _theme_tag(spec, q))
            for i, q in enumerate(p.quotes, 1)
        ]
        if not p.quotes:
            out.append('<p class="meta">No finding answers this part of the question.</p>')
    return "\n".join([*out, "</section>"])


def _theme_tag(spec: ReportSpec, q: QuoteSpec) -> str:
    """' · theme: <label>' for a quote of a question part (the theme its finding is in)."""
    label = theme_of_quote(spec, q)
    return f" · theme: {label}" if label else ""


def _outside_html(spec: ReportSpec) -> list[str]:
    """Documents that fit no theme (and why), and documents not analysed."""
    head = f"<h2>Documents that fit no theme: {len(spec.unassigned)} of {spec.n_documents}</h2>"
    if not spec.unassigned:
        out = [head + f"<p>Every one of the {_e(spec.noun)} analysed fits a theme.</p>"]
    elif any(spec.unassigned_reasons.get(d) for d in spec.unassigned):
        out = [
            head
            + "<table><tr><th>Document</th><th>Why it fits no theme</th></tr>"
            + "".join(
                f"<tr><td>{_e(d)}</td><td>{_e(spec.unassigned_reasons.get(d, ''))}</td></tr>"
                for d in spec.unassigned
            )
            + "</table>"
        ]
    else:
        out = [head + "<ul>" + "".join(f"<li>{_e(d)}</li>" for d in spec.unassigned) + "</ul>"]
    if spec.not_analysed:
        out.append(
            f"<h2>Not analysed: {len(spec.not_analysed)} of {spec.n_documents} {_e(spec.noun)}</h2>"
            "<table><tr><th>Document</th><th>Why it was not analysed</th></tr>"
            + "".join(
                f"<tr><td>{_e(d)}</td><td>{_e(why)}</td></tr>"
                for d, why in spec.not_analysed.items()
            )
            + "</table>"
        )
    return out


def _method_html(spec: ReportSpec) -> list[str]:
    out = [
        "<h2>Method</h2><table>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in method_rows(spec))
        + "</table>"
    ]
    roles = role_rows(spec)
    if roles:
        out.append(
            "<h3>Speaker roles: who was treated as interviewer</h3><table><tr><th>Documents</th>"
            "<th>Interviewer</th><th>Participants</th><th>How it was decided</th></tr>"
            + "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in roles)
            + "</table>"
        )
    if spec.candidate_codes:
        out.append(
            f"<h3>{_e(CANDIDATE_TITLE)}</h3><ul>"
            + "".join(f"<li>{_e(c)}</li>" for c in spec.candidate_codes)
            + "</ul>"
        )
    if spec.reviewer_notes:
        out.append(
            "<h3>Reviewer notes</h3><ul>"
            + "".join(f"<li>{_e(n)}</li>" for n in spec.reviewer_notes)
            + "</ul>"
        )
    return out


def _appendix_html(spec: ReportSpec) -> str:
    claims = has_claims(spec)
    labels = {t.id: t.label for t in spec.themes}
    beside = f" (also in {_e(spec.findings_csv)} beside this report)" if spec.findings_csv else ""
    head = ["Theme", "Code", "Document", "Speaker", "Asked", "Quote"]
    head += ["Claim", "Confidence"] if claims else ["Confidence"]
    rows = []
    for f in spec.findings:
        cells = [
            f"<td>{_e(labels.get(f.theme_id or '', f.theme_id or '—'))}</td>",
            f"<td>{_e(f.code_label or '—')}</td><td>{_e(f.doc_title)}</td>",
            f"<td>{_e(f.speaker or '')}</td>",
            f'<td class="prompt-cell">{_e(tail(f.prompt, PROMPT_CHARS_HTML) if f.prompt else "")}</td>',
            f"<td class='quote-cell' data-doc-id=\"{_e(f.doc_id or '')}\">{_e(f.display or f.quote)}</td>",
        ]
        if claims:
            cells.append(f"<td>{_e(f.claim or '')}</td>")
        cells.append(f"<td>{f.confidence:.2f}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<h2>Appendix: findings</h2><details class="appendix"><summary>All {len(spec.findings)} '
        f"findings{beside}</summary><table><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table></details>"
    )


def write_html(spec: ReportSpec, run_dir: Path, out_path: Path) -> Path:
    """Write the self-contained HTML report and return its path."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    media = _Media(run_dir, out_path.parent)
    charts = {c.id: c for c in spec.charts}
    theme_charts = {t.chart_id for t in spec.themes if t.chart_id}
    who = interviewers_by_doc(spec)
    # the question under the title, unless the title says it already
    title = headline(spec.title, 120)
    asked = "" if spec.question in title else f"Question: {_e(spec.question)}<br>"
    body = [
        f'<div class="engine" id="engine-note">{_e(spec.engine_note)}</div>',
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="meta">{asked}{_e(spec.corpus_name)} · {spec.n_documents} {_e(spec.noun)}'
        f" · run {_e(spec.run_id)} · {_e(spec.created_at)}</p></header>",
        "<h2>Executive summary</h2><ul>"
        + "".join(f"<li>{_e(b)}</li>" for b in spec.executive_summary)
        + "</ul>",
    ]
    if spec.parts:
        body.append(_parts_html(spec, media, who))
    overview = [c for c in spec.charts if c.id not in theme_charts]
    if overview:
        body.append("<h2>Charts</h2>" + "".join(_chart_html(c, media) for c in overview))
    body += [_theme_html(t, charts, media, spec.noun, who) for t in spec.themes]
    body += _outside_html(spec)
    body += _method_html(spec)
    if spec.findings:
        body.append(_appendix_html(spec))
    body.append(
        f"<footer>{_e(spec.engine_note)} Run {_e(spec.run_id)}, {_e(spec.created_at)}.</footer>"
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="research-workbench exports">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n"
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


def _md_image(alt: str, target: str | None) -> list[str]:
    link = _md_link(target)
    if link is None:
        return [f"(chart {md_text(alt)}: its file is outside the run directory, not linked)", ""]
    return [f"![{md_text(alt)}]({link})", ""]


def _md_piece(text: str) -> str:
    """`md_text` of a piece of a line, keeping a space at either end (a marked quote sits
    between the two halves of its turn)."""
    if not text.strip():
        return " " if text else ""
    lead = " " if text[0].isspace() else ""
    trail = " " if text[-1].isspace() else ""
    return lead + md_text(text) + trail


def _md_source(q: QuoteSpec) -> list[str]:
    """The quote's own turn whole (the quote in bold) with the turns around it, one line
    each with its speaker; without turns, the raw context around the quote."""
    if not q.turns:
        before, after = md_text(q.context_before), md_text(q.context_after)
        return [f"{before} **{md_text(q.text)}** {after}".strip()]
    lines = []
    for t in q.turns:
        text = t.text
        if t.quote_start is not None and t.quote_end is not None:
            a, b = t.quote_start, t.quote_end
            body = f"{_md_piece(text[:a])}**{md_text(text[a:b])}**{_md_piece(text[b:])}"
        else:
            body = md_text(text)
        who = f"**{md_text(t.speaker)}:** " if t.speaker else ""
        lines.append(f"{who}{body}  ")
    return lines


def _md_quote(
    q: QuoteSpec, interviewers: dict[str, set[str]] | None = None, tag: str = ""
) -> list[str]:
    asked = prompt_line(q, interviewers or {}, PROMPT_CHARS_HTML)
    lines = [f"*{md_text(asked)}*", ""] if asked else []
    lines += [
        *(f"> {line}" for line in md_lines(q.shown)),
        ">",
        f"> {md_text(attribution(q) + tag)}",
        "",
    ]
    clip = _md_link(q.media_path)
    if clip:
        lines += [f"[▶ Play clip]({clip})", ""]
    elif q.media_path:
        lines += ["(clip outside the run directory: not linked)", ""]
    lines += [
        # raw HTML: one line, so no blank line can end the block and start Markdown
        f"<details><summary>Show in source: {html.escape(' '.join(clean_text(citation(q)).split()))}"
        "</summary>",
        "",
        *_md_source(q),
        "",
        "</details>",
        "",
    ]
    return lines


def _md_theme(t: ThemeSpec, spec: ReportSpec, charts: dict[str, ChartSpec]) -> list[str]:
    t_ = md_text
    who = interviewers_by_doc(spec)
    participants = people(t.n_participants, t.total_participants)
    md = [
        f"## {t_(t.label)}",
        "",
        f"**{prevalence_label(t.n_documents, t.total_documents)}** {t_(spec.noun)}"
        + (f" · {participants}" if participants else ""),
        "",
    ]
    md += [t_(t.description or t.summary), ""]
    md += [f"> **Reviewer:** {t_(f)}" for f in t.flags] + ([""] if t.flags else [])
    if t.chart_id and t.chart_id in charts:
        md += _md_image(charts[t.chart_id].title, charts[t.chart_id].png_path)
    if t.codes:
        md += ["### Codes", ""]
        for c in t.codes:
            n = f"{prevalence_label(c.n_documents, t.total_documents)} {t_(spec.noun)}"
            n += f", {c.n_participants} participants" if c.n_participants else ""
            md.append(
                f"- **{t_(c.label)}** ({n})" + (f": {t_(c.description)}" if c.description else "")
            )
        md.append("")
    if t.quotes:
        md += ["### In their words", ""]
    for q in t.quotes:
        md += _md_quote(q, who)
    md += [f"Confidence: {confidence_text(t.confidence)}", ""]
    if t.keywords:
        md += [f"Keywords: {t_(', '.join(t.keywords))}", ""]
    return md


def _md_parts(spec: ReportSpec) -> list[str]:
    if not spec.parts:
        return []
    who = interviewers_by_doc(spec)
    md = ["## The question, part by part", ""]
    for p in spec.parts:
        md += [f"### {md_text(p.question)}", ""]
        lead = part_lead(p, spec.themes, spec.noun)
        md += [md_text(lead), ""] if lead else []
        for q in p.quotes:
            md += _md_quote(q, who, _theme_tag(spec, q))
        if not p.quotes:
            md += ["No finding answers this part of the question.", ""]
    return md


def _md_outside(spec: ReportSpec) -> list[str]:
    t_ = md_text
    md = [f"## Documents that fit no theme: {len(spec.unassigned)} of {spec.n_documents}", ""]
    if not spec.unassigned:
        md += [f"Every one of the {t_(spec.noun)} analysed fits a theme.", ""]
    elif any(spec.unassigned_reasons.get(d) for d in spec.unassigned):
        md += ["| Document | Why it fits no theme |", "|---|---|"]
        md += [f"| {t_(d)} | {t_(spec.unassigned_reasons.get(d, ''))} |" for d in spec.unassigned]
        md.append("")
    else:
        md += [f"- {t_(d)}" for d in spec.unassigned] + [""]
    if spec.not_analysed:
        md += [
            f"## Not analysed: {len(spec.not_analysed)} of {spec.n_documents} {t_(spec.noun)}",
            "",
            "| Document | Why it was not analysed |",
            "|---|---|",
        ]
        md += [f"| {t_(d)} | {t_(why)} |" for d, why in spec.not_analysed.items()] + [""]
    return md


def _md_method(spec: ReportSpec) -> list[str]:
    t_ = md_text
    md = ["## Method", "", "| | |", "|---|---|"]
    md += [f"| {t_(k)} | {t_(v)} |" for k, v in method_rows(spec)]
    roles = role_rows(spec)
    if roles:
        md += [
            "",
            "### Speaker roles: who was treated as interviewer",
            "",
            "| Documents | Interviewer | Participants | How it was decided |",
            "|---|---|---|---|",
        ]
        md += ["| " + " | ".join(t_(c) for c in row) + " |" for row in roles]
    if spec.candidate_codes:
        md += ["", f"### {CANDIDATE_TITLE}", ""] + [f"- {t_(c)}" for c in spec.candidate_codes]
    if spec.reviewer_notes:
        md += ["", "### Reviewer notes", ""] + [f"- {t_(n)}" for n in spec.reviewer_notes]
    return [*md, ""]


def _md_appendix(spec: ReportSpec) -> list[str]:
    """Bounded per theme, like the deck's; the whole table is the CSV beside the report."""
    claims = has_claims(spec)
    csv = spec.findings_csv
    md = ["## Appendix: findings", ""]
    md += [
        f"Up to {APPENDIX_PER_THEME} findings per theme, the most confident first (one per "
        "document first)"
        + (f"; all {len(spec.findings)} are in {md_text(csv)} beside this report." if csv else "."),
        "",
    ]
    for g in appendix_groups(spec):
        asked = any(f.prompt for f in g.rows)
        head = appendix_head(claims, asked)
        md += [
            f"### {md_text(g.title)} ({len(g.rows)} shown, {g.total} in all)",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        md += [
            "| " + " | ".join(md_text(c) for c in appendix_cells(f, claims, asked)) + " |"
            for f in g.rows
        ]
        md.append("")
    return md


def write_markdown(spec: ReportSpec, run_dir: Path, out_path: Path) -> Path:
    """Write the Markdown report (charts and clips as links relative to the run dir).

    Every string from the corpus or a model goes through `md_text` (markup escaped,
    control characters dropped), and only paths inside the run dir become links.
    """
    t_ = md_text
    run_dir, out_path = Path(run_dir), Path(out_path)
    charts = {c.id: c for c in spec.charts}
    theme_charts = {t.chart_id for t in spec.themes if t.chart_id}
    title = headline(spec.title, 120)
    md = [
        f"> **{t_(spec.engine_note)}**",
        "",
        f"# {t_(title)}",
        "",
        *([] if spec.question in title else [f"Question: {t_(spec.question)}  "]),
        f"{t_(spec.corpus_name)} · {spec.n_documents} {t_(spec.noun)} · "
        f"run {t_(spec.run_id)} · {t_(spec.created_at)}",
        "",
        "## Executive summary",
        "",
    ]
    md += [f"- {t_(b)}" for b in spec.executive_summary] + [""]
    md += _md_parts(spec)
    for c in spec.charts:
        if c.id not in theme_charts:
            md += _md_image(c.alt_text or c.title, c.png_path)
            md += [f"*{t_(c.caption)}*", ""] if c.caption else []
    for t in spec.themes:
        md += _md_theme(t, spec, charts)
    md += _md_outside(spec)
    md += _md_method(spec)
    if spec.findings:
        md += _md_appendix(spec)
    md += ["---", f"{t_(spec.engine_note)} Run {t_(spec.run_id)}, {t_(spec.created_at)}.", ""]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(md), encoding="utf-8")
    return out_path
