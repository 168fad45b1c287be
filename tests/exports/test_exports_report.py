"""The HTML and Markdown reports, and the checks that catch a changed quote or number."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pptx import Presentation

from exports import report as report_mod
from exports.checks import (
    ExportCheckError,
    assert_exports_ok,
    check_deck_numbers,
    check_deck_quotes,
    check_report_numbers,
    check_report_quotes,
    markdown_quotes,
    report_quotes,
)
from exports.clips import cut_clip
from exports.deck import build_deck
from exports.report import write_html, write_markdown
from exports.style import prevalence_label

from .exports_fixtures import AmiRun


@pytest.fixture(scope="module")
def html(ami: AmiRun) -> Path:
    return write_html(ami.spec, ami.run_dir, ami.run_dir / "report.html")


def test_html_is_self_contained_with_engine_note_first(ami: AmiRun, html: Path) -> None:
    page = html.read_text()
    body = page[page.index("<body>") :]
    assert body.index(ami.spec.engine_note) < body.index("<h1>")  # the first thing on the page
    assert 'http-equiv="Content-Security-Policy"' in page and "default-src 'none'" in page
    urls = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert urls and all(u.startswith(("data:", "#")) for u in urls)  # nothing to fetch
    assert "<script" not in page
    assert page.count('<img src="data:image/png;base64,') == len(ami.spec.charts)


def test_html_quotes_link_to_their_source_excerpt(ami: AmiRun, html: Path) -> None:
    page = html.read_text()
    for t in ami.spec.themes:
        assert (
            f'data-theme-id="{t.id}">{prevalence_label(t.n_documents, t.total_documents)}' in page
        )
        for q in t.quotes:
            block = page[page.index(f'data-segment-id="{q.segment_id}"') :]
            block = block[: block.index("</blockquote>")]
            assert "<details><summary>Show in source" in block
            assert "<mark>" in block
            if q.context_before:
                assert report_mod.html.escape(q.context_before) in block
    assert_exports_ok(ami.spec, ami.sources, html=html)
    assert len(report_quotes(html)) == sum(len(t.quotes) for t in ami.spec.themes) + len(
        ami.spec.findings
    )


def test_clips_embed_when_small_and_link_when_large(
    ami: AmiRun, sonnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    cut_clip(sonnet_dir / "sonnet001.wav", 2.68, 5.88, run / "clips" / "a.m4a")
    spec = ami.spec.model_copy(deep=True)
    spec.themes[0].quotes[0].media_path = "clips/a.m4a"
    page = write_html(spec, run, run / "report.html").read_text()
    assert '<audio class="clip" controls preload="metadata" src="data:audio/mp4;base64,' in page
    monkeypatch.setattr(report_mod, "EMBED_MEDIA_MAX_BYTES", 100)
    page = write_html(spec, run, run / "report.html").read_text()
    assert 'src="clips/a.m4a"' in page and "too large to embed" in page


def test_markdown_has_the_same_content(ami: AmiRun) -> None:
    md = write_markdown(ami.spec, ami.run_dir, ami.run_dir / "report.md").read_text()
    assert md.startswith(f"> **{ami.spec.engine_note}**")
    for t in ami.spec.themes:
        assert f"## {t.label}" in md
        assert prevalence_label(t.n_documents, t.total_documents) in md
        for q in t.quotes:
            assert f"> {q.text}" in md
    for c in ami.spec.charts:
        assert f"]({c.png_path})" in md
    assert "## Method" in md and "## Appendix: findings" in md
    path = ami.run_dir / "report.md"
    assert len(markdown_quotes(path)) == sum(len(t.quotes) for t in ami.spec.themes)
    assert_exports_ok(ami.spec, ami.sources, markdown=path)
    q = ami.spec.themes[2].quotes[0].text
    path.write_text(md.replace(f"> {q}", f"> {q[: len(q) // 2]} [sic] {q[len(q) // 2 :]}"))
    with pytest.raises(ExportCheckError, match="not verbatim"):
        assert_exports_ok(ami.spec, ami.sources, markdown=path)


def test_checks_catch_a_changed_quote_or_number(ami: AmiRun, html: Path, tmp_path: Path) -> None:
    deck = build_deck(ami.spec, ami.run_dir, tmp_path / "deck.pptx")
    prs = Presentation(str(deck))
    theme = ami.spec.themes[1]
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.name.startswith("Quote 1:"):
                run = shape.text_frame.paragraphs[0].runs[1]
                run.text = run.text.replace(" ", " really ", 1)
            if shape.name == f"Prevalence {theme.id}":
                shape.text_frame.paragraphs[0].runs[0].text = "5 of 12 (40%)"
    prs.save(str(tmp_path / "tampered.pptx"))
    quotes = check_deck_quotes(tmp_path / "tampered.pptx", ami.sources)
    numbers = check_deck_numbers(tmp_path / "tampered.pptx", ami.spec)
    assert quotes and all("not verbatim" in p.message for p in quotes)
    assert any("'5 of 12 (40%)'" in p.message for p in numbers)
    assert any(theme.id in p.message for p in numbers)

    page = html.read_text()
    t0 = ami.spec.themes[0]
    escaped = report_mod.html.escape(t0.quotes[0].text)
    assert escaped in page
    page = page.replace(escaped, escaped.upper(), 1)
    page = page.replace(prevalence_label(t0.n_documents, t0.total_documents), "7 of 12 (58%)", 1)
    bad = tmp_path / "bad.html"
    bad.write_text(page)
    assert check_report_quotes(bad, ami.sources)
    assert check_report_numbers(bad, ami.spec)
    with pytest.raises(ExportCheckError, match="problem"):
        assert_exports_ok(ami.spec, ami.sources, html=bad)


def test_a_quote_missing_from_its_source_is_reported(ami: AmiRun, tmp_path: Path) -> None:
    spec = ami.spec.model_copy(deep=True)
    spec.themes[0].quotes[0].text += " and nobody ever said this"
    out = write_html(spec, ami.run_dir, tmp_path / "r.html")
    problems = check_report_quotes(out, ami.sources)
    assert len(problems) == 1 and spec.themes[0].quotes[0].doc_id in problems[0].message
