"""report.md with hostile corpus and model text: nothing in it may become markup.

Every corpus- or model-derived string (quotes, context, summaries, labels, attributions,
titles, claims, keywords, the question) carries raw HTML, a javascript: link, a remote
image, a heading and NUL/ESC bytes. The Markdown, rendered by a CommonMark renderer
with raw HTML allowed (as GitHub or an IDE preview would), must show them as text; the
quotes must still be found verbatim.
"""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

from markdown_it import MarkdownIt

from exports.checks import check_quotes, markdown_quotes
from exports.report import write_markdown
from exports.spec import ReportSpec

from .exports_fixtures import AmiRun

HOSTILE = (
    '<img src=x onerror="alert(1)"> <a href="javascript:alert(2)">click</a> '
    "![pixel](http://evil.example/p.png) [link](javascript:alert(3)) <script>alert(4)</script>"
)
LINE_ATTACK = (
    "\n# INJECTED HEADING\n\n- item\n<iframe src=http://evil.example></iframe>\x00\x1b[31mred"
)


def _hostile_spec(ami: AmiRun) -> tuple[ReportSpec, dict[str, str]]:
    spec = ami.spec.model_copy(deep=True)
    sources = dict(ami.sources)
    evil = HOSTILE + LINE_ATTACK
    spec.question = evil
    spec.title = evil
    spec.corpus_name = evil
    spec.executive_summary = [evil]
    spec.unassigned = [evil]
    spec.reviewer_notes = [evil]
    for t in spec.themes:
        t.label = evil
        t.summary = evil
        t.description = evil
        t.keywords = [evil]
        t.flags = [evil]
        for c in t.codes:
            c.label = c.description = evil
    for part in spec.parts:
        part.question = evil
    q = spec.themes[0].quotes[0]  # a question part shows it too
    # a quote: it must be verbatim in its source, so the source holds it
    q.text = q.display = HOSTILE
    q.prompt, q.prompt_speaker = evil, evil
    for turn in q.turns:  # the turns around it, and its own turn with the quote marked
        turn.speaker, turn.text = evil, evil
        if turn.quote_start is not None:
            turn.text = f"{evil} {HOSTILE} {evil}"
            turn.quote_start = len(evil) + 1
            turn.quote_end = turn.quote_start + len(HOSTILE)
    q.speaker = evil
    q.doc_title = evil
    q.context_before = evil
    q.context_after = evil
    sources[q.doc_id] = sources[q.doc_id] + "\n" + HOSTILE
    for f in spec.findings:
        f.claim = evil
        f.doc_title = evil
    return spec, sources


class _Tags(HTMLParser):
    """Every element a renderer made, with its attributes and the headings' text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_heading = tag in ("h1", "h2", "h3", "h4", "h5", "h6")

    def handle_endtag(self, tag: str) -> None:
        self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings.append(data)


def _render(md: str) -> _Tags:
    parser = _Tags()
    parser.feed(MarkdownIt("commonmark", {"html": True}).render(md))
    return parser


def _assert_inert(tags: _Tags) -> None:
    for tag, attrs in tags.tags:
        assert tag not in ("script", "iframe", "object", "embed"), tag
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value.startswith(("javascript:", "http:", "https:", "/", "..")), (tag, value)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("charts/"), attrs
    assert not any(h.strip().startswith("INJECTED") for h in tags.headings)  # no new heading


def test_report_md_renders_hostile_strings_as_text(ami: AmiRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    spec, sources = _hostile_spec(ami)
    path = write_markdown(spec, run, run / "report.md")
    raw = path.read_bytes()
    assert b"\x00" not in raw and b"\x1b" not in raw
    _assert_inert(_render(raw.decode("utf-8")))
    # the quotes are still found, verbatim, by the checks
    found = markdown_quotes(path)
    assert any(HOSTILE in f.text for f in found)
    assert check_quotes(found, sources, spec) == []  # displays traced through the spec


def test_links_only_to_files_inside_the_run(ami: AmiRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    spec = ami.spec.model_copy(deep=True)
    spec.charts[0].png_path = "http://evil.example/track.png"
    spec.themes[0].quotes[0].media_path = "../../../etc/passwd"
    _assert_inert(_render(write_markdown(spec, run, run / "report.md").read_text()))


def test_deck_and_html_take_control_characters(ami: AmiRun, tmp_path: Path) -> None:
    import zipfile

    from exports.deck import build_deck
    from exports.report import write_html

    run = tmp_path / "run"
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    spec, _ = _hostile_spec(ami)
    deck = build_deck(spec, run, run / "deck.pptx")  # lxml refuses NUL: must not crash
    with zipfile.ZipFile(deck) as zf:
        xml = b"".join(zf.read(n) for n in zf.namelist() if n.endswith(".xml"))
    assert b"\x1b" not in xml and b"\x00" not in xml
    page = write_html(spec, run, run / "report.html").read_bytes()
    assert b"\x1b" not in page and b"\x00" not in page and b"<script>" not in page
