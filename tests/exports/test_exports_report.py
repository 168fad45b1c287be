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
    check_spec_quotes,
    markdown_quotes,
    report_quotes,
)
from exports.clips import cut_clip
from exports.deck import build_deck
from exports.report import write_html, write_markdown
from exports.style import prevalence_label
from exports.text import appendix_groups

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


def test_html_quotes_show_the_prompt_and_their_turn_whole_with_speakers(
    ami: AmiRun, html: Path
) -> None:
    page = html.read_text()
    for t in ami.spec.themes:
        assert (
            f'data-theme-id="{t.id}">{prevalence_label(t.n_documents, t.total_documents)}' in page
        )
        for q in t.quotes:
            start = page.index(f'data-segment-id="{q.segment_id}"')
            block = page[page.rindex("<blockquote", 0, start) :]
            block = block[: block.index("</blockquote>")]
            assert f">{report_mod.html.escape(q.display)}</q>" in block  # as a reader sees it
            assert "<details><summary>Show in source" in block
            own = next(x for x in q.turns if x.quote_start is not None)
            assert f"<mark>{report_mod.html.escape(own.text)}</mark>" in block  # turn whole
            for turn in q.turns:  # the turns around it, each with its speaker
                assert (
                    f'<span class="who">{report_mod.html.escape(turn.speaker or "")}:</span>'
                    in block
                )
            if q.prompt and q.prompt_speaker == "Project Manager":
                assert '<div class="prompt">Asked by Project Manager: “' in block
    for markup in ("{vocalsound}", "{disfmarker}", "{gap}", "L_C_D_"):
        assert markup not in page
    assert_exports_ok(ami.spec, ami.sources, html=html)
    shown = sum(len(t.quotes) + sum(len(c.quotes) for c in t.codes) for t in ami.spec.themes)
    shown += sum(len(p.quotes) for p in ami.spec.parts)  # the question, part by part
    assert len(report_quotes(html)) == shown + len(ami.spec.findings)


def test_html_theme_sections_codes_flags_outside_and_method(ami: AmiRun, html: Path) -> None:
    page = html.read_text()
    e = report_mod.html.escape
    for t in ami.spec.themes:
        section = page[page.index(f'<section class="theme" id="theme-{t.id}">') :]
        section = section[: section.index("</section>")]
        assert f"{t.n_participants} of {t.total_participants} participants" in section
        assert f'<p class="description">{e(t.description)}</p>' in section
        assert f'id="chart-{t.chart_id}"' in section
        for c in t.codes:
            assert f"<b>{e(c.label)}</b>" in section
            assert f"{prevalence_label(c.n_documents, t.total_documents)} meetings" in section
        assert ('<div class="flags">' in section) == bool(t.flags)
    assert "Not analysed: 1 of 12 meetings" in page and "Réunion 7 (fr)" in page
    assert "Speaker roles: who was treated as interviewer" in page
    assert "<h3>Reviewer notes</h3>" in page and e(ami.spec.reviewer_notes[1]) in page
    # the full table, collapsed, with no Claim column when no finding has a claim
    appendix = page[page.index('<details class="appendix">') :]
    assert f"All {len(ami.spec.findings)} findings (also in findings.csv" in appendix
    assert "<th>Claim</th>" not in appendix and "<th>Asked</th>" in appendix
    spec = ami.spec.model_copy(deep=True)
    spec.findings[3].claim = "Fewer buttons, said the marketing expert."
    page = write_html(spec, ami.run_dir, ami.run_dir / "claims.html").read_text()
    assert "<th>Claim</th>" in page and "Fewer buttons, said the marketing expert." in page


def test_the_question_part_by_part_follows_the_summary(ami: AmiRun, html: Path) -> None:
    page = html.read_text()
    e = report_mod.html.escape
    at = page.index('<section class="parts" id="question-parts">')
    assert page.index("<h2>Executive summary</h2>") < at < page.index('<section class="theme"')
    section = page[at : page.index("</section>", at)]
    theme_of = {f.finding_id: f.theme_label for f in ami.spec.findings}
    for k, part in enumerate(ami.spec.parts, 1):
        assert f"<h3>{e(part.question)}</h3>" in section
        for i in part.theme_ids:
            assert f'href="#theme-{i}"' in section
        for n, q in enumerate(part.quotes, 1):
            block = section[section.index(f'id="q-part{k}-{n}"') :]
            block = block[: block.index("</blockquote>")]
            assert e(q.display) in block
            assert e(f"theme: {theme_of[q.finding_id]}") in block
    md = write_markdown(ami.spec, ami.run_dir, ami.run_dir / "parts.md").read_text()
    at = md.index("## The question, part by part")
    assert md.index("## Executive summary") < at < md.index(f"## {ami.spec.themes[0].label}")
    for part in ami.spec.parts:
        assert f"### {part.question}" in md
        assert all(f"> {q.display}" in md[at:] for q in part.quotes)
    assert "Themes that answer it most: “" in md


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
        assert f"{t.n_participants} of {t.total_participants} participants" in md
        for c in t.codes:
            assert f"- **{c.label}** ({prevalence_label(c.n_documents, t.total_documents)}" in md
        for q in t.quotes:
            assert f"> {q.display}" in md
            own = next(x for x in q.turns if x.quote_start is not None)
            assert f"**{own.speaker}:** **{report_mod.html.escape(own.text, quote=False)}**" in md
    for f in ami.spec.themes[3].flags:
        assert f"> **Reviewer:** {f}" in md
    for c in ami.spec.charts:
        assert f"]({c.png_path})" in md
    for markup in ("{vocalsound}", "{disfmarker}", "{gap}", "L_C_D_"):
        assert markup not in md
    assert "*Asked by Project Manager: “" in md
    assert "## Not analysed: 1 of 12 meetings" in md
    assert "## Method" in md and "### Speaker roles: who was treated as interviewer" in md
    # the appendix is bounded per theme; the full table is the CSV beside it
    assert "## Appendix: findings" in md and "are in findings.csv beside this report" in md
    assert "| Code | Document · speaker | Asked | Quote | Conf. |" in md and "Claim" not in md
    rows = [line for line in md.splitlines() if line.startswith("| Mentions of ")]
    assert len(rows) == sum(len(g.rows) for g in appendix_groups(ami.spec))
    path = ami.run_dir / "report.md"
    assert len(markdown_quotes(path)) == sum(len(t.quotes) for t in ami.spec.themes) + sum(
        len(p.quotes) for p in ami.spec.parts
    )
    # a quote inside its turn: the turn whole, the quote in bold, the words around it spaced
    spec = ami.spec.model_copy(deep=True)
    q = spec.themes[0].quotes[0]
    own = next(x for x in q.turns if x.quote_start is not None)
    own.text, own.quote_start, own.quote_end = f"Well, {q.display} Right.", 6, 6 + len(q.display)
    other = write_markdown(spec, ami.run_dir, ami.run_dir / "other.md").read_text()
    assert f"**{own.speaker}:** Well, **{q.display}** Right.  " in other
    assert_exports_ok(ami.spec, ami.sources, markdown=path)
    q = ami.spec.themes[2].quotes[0].display
    path.write_text(md.replace(f"> {q}", f"> {q[: len(q) // 2]} [sic] {q[len(q) // 2 :]}"))
    with pytest.raises(ExportCheckError, match="not verbatim"):
        assert_exports_ok(ami.spec, ami.sources, markdown=path)


def test_checks_catch_a_changed_quote_or_number(ami: AmiRun, html: Path, tmp_path: Path) -> None:
    deck = build_deck(ami.spec, ami.run_dir, tmp_path / "deck.pptx")
    prs = Presentation(str(deck))
    theme = ami.spec.themes[1]
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.name.startswith("Quote 1:"):  # the quote's paragraph, after its prompt
                para = next(p for p in shape.text_frame.paragraphs if p.text.startswith("“"))
                para.runs[1].text = para.runs[1].text.replace(" ", " really ", 1)
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
    escaped = report_mod.html.escape(t0.quotes[0].display)
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
    q = spec.themes[0].quotes[0]
    q.text += " and nobody ever said this"
    q.display += " and nobody ever said this"
    out = write_html(spec, ami.run_dir, tmp_path / "r.html")
    problems = check_report_quotes(out, ami.sources, spec)
    shown = sum(
        x is q for t in spec.themes for x in [*t.quotes, *(y for c in t.codes for y in c.quotes)]
    )
    shown += sum(x is q for p in spec.parts for x in p.quotes)
    # the theme's quote, and its code's and a question part's when it is the same
    assert len(problems) == shown
    assert all(f"verbatim text is not in {q.doc_id!r}" in p.message for p in problems)
    # without the spec, a quote shown without its markup cannot be traced: it is reported
    assert check_report_quotes(out, ami.sources)


def test_a_display_that_changes_words_or_a_quote_not_in_its_source_is_reported(
    ami: AmiRun, tmp_path: Path
) -> None:
    assert check_spec_quotes(ami.spec, ami.sources) == []
    marked = next(q for t in ami.spec.themes for q in t.quotes if "{" in q.text)
    assert "{" not in marked.display  # markup in the source, none shown
    spec = ami.spec.model_copy(deep=True)
    q = next(q for t in spec.themes for q in t.quotes if q.segment_id == marked.segment_id)
    words = q.display.split()
    q.display = " ".join([*words[:3], "never", *words[3:]])
    problems = check_spec_quotes(spec, ami.sources)
    assert problems and all("display changes words" in p.message for p in problems)
    out = write_html(spec, ami.run_dir, tmp_path / "r.html")
    assert any(
        "display changes its words" in p.message
        for p in check_report_quotes(out, ami.sources, spec)
    )
    spec = ami.spec.model_copy(deep=True)
    spec.findings[0].quote += " and something nobody said"
    assert any("not verbatim" in p.message for p in check_spec_quotes(spec, ami.sources))


def test_the_prompt_line_says_who_asked_and_keeps_the_end_of_a_long_prompt() -> None:
    from exports.spec import QuoteSpec
    from exports.text import prompt_line

    def line(prompt: str, who: str | None) -> str | None:
        q = QuoteSpec(text="x", doc_id="d", doc_title="P1", segment_id="s", prompt=prompt)
        return prompt_line(q.model_copy(update={"prompt_speaker": who}), {"P1": {"Dan"}})

    assert line("So, tell me more.", "Dan") == "Asked by Dan: “So, tell me more.”"
    assert line("Enough features?", "Marketing") == "Asked by Marketing: “Enough features?”"
    assert line("I think so.", "Marketing") == "In reply to Marketing: “I think so.”"
    assert line("Login fails after update", None) == "Re: “Login fails after update”"
    long = line("Thanks for joining. " * 30 + "How do you pick the plots to look at?", "Dan")
    assert long is not None and long.endswith("How do you pick the plots to look at?”")
    assert long.startswith("Asked by Dan: “…") and len(long) < 260


def test_candidate_codes_are_shown_apart_for_the_researcher_to_accept(
    ami: AmiRun, tmp_path: Path
) -> None:
    line = "\u201cBattery life\u201d, raised in 3 conversations: they ask how long it lasts"
    spec = ami.spec.model_copy(update={"candidate_codes": [line]})
    page = write_html(spec, ami.run_dir, tmp_path / "report.html").read_text()
    assert f"<h3>{report_mod.CANDIDATE_TITLE}</h3>" in page
    assert report_mod.html.escape(line, quote=False) in page
    md = write_markdown(spec, ami.run_dir, tmp_path / "report.md").read_text()
    assert f"### {report_mod.CANDIDATE_TITLE}" in md and "Battery life" in md
    deck = build_deck(spec, ami.run_dir, tmp_path / "deck.pptx")
    texts = [
        sh.text_frame.text if sh.has_text_frame else ""
        for slide in Presentation(str(deck)).slides
        for sh in slide.shapes
    ] + [
        cell.text
        for slide in Presentation(str(deck)).slides
        for sh in slide.shapes
        if sh.has_table
        for row in sh.table.rows
        for cell in row.cells
    ]
    assert any("Candidate codes" in t for t in texts) and any("Battery life" in t for t in texts)
    plain = ami.spec.model_copy(update={"candidate_codes": []})
    assert "Candidate codes" not in write_html(plain, ami.run_dir, tmp_path / "p.html").read_text()
