"""The deck: structure, engine note everywhere, verbatim quotes, numbers, pagination, templates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches

from exports import ExportError, QuoteSpec, ThemeSpec
from exports.checks import assert_exports_ok, deck_quotes
from exports.deck import MAX_QUOTES_PER_THEME, build_deck
from exports.style import prevalence_label
from exports.text import appendix_groups
from subagents.offline.text import clean

from .exports_fixtures import AmiRun, build_spec


@pytest.fixture(scope="module")
def deck(ami: AmiRun) -> Path:
    return build_deck(ami.spec, ami.run_dir, ami.run_dir / "deck.pptx")


def _titles(prs) -> list[str]:
    out = []
    for s in prs.slides:
        t = s.shapes.title
        out.append(t.text_frame.text if t is not None else "")
    return out


def _texts(slide) -> str:
    return "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


def _cells(prs, name: str) -> list[list[str]]:
    return [
        [c.text for c in row.cells]
        for sl in prs.slides
        for s in sl.shapes
        if getattr(s, "has_table", False) and s.name == name
        for row in s.table.rows
    ]


def test_deck_has_every_part_in_order(ami: AmiRun, deck: Path) -> None:
    prs = Presentation(str(deck))
    titles = _titles(prs)
    assert titles[0] == ami.spec.title
    assert titles[1] == "Executive summary"
    assert titles[2:4] == [p.question for p in ami.spec.parts]  # the question, part by part
    assert titles[4] == "Themes at a glance"
    assert titles[5] == "Sentiment of the findings in each theme"  # charts across themes
    for t in ami.spec.themes:
        k = titles.index(t.label)
        assert titles[k + 1] == f"{t.label}: in their words"
    outside = titles.index("Documents that fit no theme: 0 of 12; not analysed: 1")
    assert outside > max(titles.index(t.label) for t in ami.spec.themes)
    assert titles.index("Method") > outside
    appendix = [i for i, x in enumerate(titles) if x.startswith("Appendix: ")]
    assert appendix and min(appendix) > titles.index("Method")
    assert titles[-1].startswith("Appendix: ")


def test_engine_note_on_title_slide_and_in_footer_and_notes_of_every_slide(
    ami: AmiRun, deck: Path
) -> None:
    note = ami.spec.engine_note
    prs = Presentation(str(deck))
    first = prs.slides[0]
    assert any(s.name == "Engine note" and s.text_frame.text == note for s in first.shapes)
    for n, slide in enumerate(prs.slides, 1):
        footers = [s for s in slide.shapes if s.name == "Footer"]
        assert len(footers) == 1 and note in footers[0].text_frame.text, n
        assert note in slide.notes_slide.notes_text_frame.text, n


def _theme_slides(prs, theme: ThemeSpec) -> tuple[object, list[object]]:
    slides = list(prs.slides)
    titles = _titles(prs)
    overview = slides[titles.index(theme.label)]
    quotes = [
        sl for sl, t in zip(slides, titles, strict=True) if t.startswith(f"{theme.label}: in")
    ]
    return overview, quotes


def test_theme_overview_shows_prevalence_participants_codes_flags_and_its_own_chart(
    ami: AmiRun, deck: Path
) -> None:
    prs = Presentation(str(deck))
    pictures = []
    for theme in ami.spec.themes:
        overview, _ = _theme_slides(prs, theme)
        names = {s.name: s for s in overview.shapes}
        stat = names[f"Prevalence {theme.id}"].text_frame.text
        assert stat.startswith(prevalence_label(theme.n_documents, theme.total_documents))
        assert " meetings" in stat  # the documents' own noun
        assert f"{theme.n_participants} of {theme.total_participants} participants" in stat
        assert names["Description"].text_frame.text == theme.description
        codes = names[f"Codes {theme.id}"].text_frame.text
        for c in theme.codes:
            assert f"{c.label}: {prevalence_label(c.n_documents, theme.total_documents)}" in codes
        flags = names.get("Reviewer notes")
        if theme.flags:
            assert flags is not None and theme.flags[0] in flags.text_frame.text
        else:
            assert flags is None
        pics = [s for s in overview.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert [p.name for p in pics] == [f"Chart {theme.chart_id}"]
        pictures.append(pics[0].image.sha1)
    assert len(set(pictures)) == len(pictures)  # not the same chart on every theme


def test_quotes_show_clean_text_the_prompt_and_attribution(ami: AmiRun, deck: Path) -> None:
    prs = Presentation(str(deck))
    for theme in ami.spec.themes:
        overview, quote_slides = _theme_slides(prs, theme)
        quotes = [s for sl in quote_slides for s in sl.shapes if s.name.startswith("Quote ")]
        # a quote may be split over two frames: count quotes, not boxes
        assert 2 <= len({s.name.split(":")[0] for s in quotes}) <= MAX_QUOTES_PER_THEME
        for shape in quotes:
            q = theme.quotes[int(shape.name.split(":")[0].removeprefix("Quote ")) - 1]
            paras = [p.text for p in shape.text_frame.paragraphs]
            quote = next(t for t in paras if t.startswith("“"))
            assert quote.strip("“”") in q.display  # as a reader sees it, maybe in parts
            assert q.speaker and q.speaker in shape.text_frame.text  # attribution
            assert q.doc_title in shape.text_frame.text
            if paras[0] != quote:  # the prompt that drew it, and who said it
                assert q.prompt and q.prompt_speaker
                assert paras[0].startswith((f"Asked by {q.prompt_speaker}: “", "In reply to "))
        assert any(not s.text_frame.paragraphs[0].text.startswith("“") for s in quotes)
        notes = overview.notes_slide.notes_text_frame.text
        for q in theme.quotes:
            assert q.segment_id in notes and f"confidence {q.confidence:.2f}" in notes
            assert q.display in notes
        for c in theme.codes:
            assert f"Code: {c.label}" in notes
    everything = "\n".join(_texts(sl) for sl in prs.slides)
    assert "Asked by Project Manager: “" in everything  # the moderator's question
    assert any(q.text != q.display for t in ami.spec.themes for q in t.quotes)
    for markup in ("{vocalsound}", "{disfmarker}", "{gap}", "L_C_D_"):
        assert markup not in everything


def test_each_part_of_the_question_has_its_themes_and_best_quotes(ami: AmiRun, deck: Path) -> None:
    prs = Presentation(str(deck))
    titles = _titles(prs)
    labels = {t.id: t for t in ami.spec.themes}
    theme_of = {f.finding_id: f.theme_label for f in ami.spec.findings}
    for part in ami.spec.parts:
        slide = list(prs.slides)[titles.index(part.question)]
        names = {s.name: s for s in slide.shapes}
        lead = names["Lead"].text_frame.text
        first = labels[part.theme_ids[0]]
        assert lead.startswith(
            f"Themes that answer it most: “{first.label}” "
            f"({first.n_documents} of {first.total_documents} meetings)"
        )
        assert all(f"“{labels[i].label}”" in lead for i in part.theme_ids)
        shown = [s for s in slide.shapes if s.name.startswith("Quote ")]
        assert len(shown) == len(part.quotes)  # short quotes: all on the one slide
        for shape in shown:
            q = part.quotes[int(shape.name.split(":")[0].removeprefix("Quote ")) - 1]
            text = shape.text_frame.text
            assert f"“{q.display}”" in text and q.doc_title in text
            assert f"theme: {theme_of[q.finding_id]}" in text  # which theme it is in
        notes = slide.notes_slide.notes_text_frame.text
        assert f"Part of the question: {part.question}" in notes
        assert all(q.segment_id in notes for q in part.quotes)
    # a part nothing answers still gets its slide, saying so
    spec = ami.spec.model_copy(deep=True)
    spec.parts[1].quotes, spec.parts[1].theme_ids = [], []
    prs = Presentation(str(build_deck(spec, ami.run_dir, ami.run_dir / "parts.pptx")))
    slide = list(prs.slides)[_titles(prs).index(spec.parts[1].question)]
    assert "No finding answers this part of the question." in _texts(slide)
    assert all(s.name != "Lead" for s in slide.shapes)


def test_charts_across_themes_are_in_the_deck_with_what_they_show(ami: AmiRun, deck: Path) -> None:
    prs = Presentation(str(deck))
    titles = _titles(prs)
    slide = list(prs.slides)[titles.index("Sentiment of the findings in each theme")]
    names = {s.name: s for s in slide.shapes}
    assert "Chart sentiment_by_theme" in names
    assert names["Caption"].text_frame.text == "Each bar: one theme's findings."


def test_appendix_is_bounded_per_theme_and_has_no_claim_column(ami: AmiRun, deck: Path) -> None:
    prs = Presentation(str(deck))
    tables = [
        (sl, s)
        for sl in prs.slides
        for s in sl.shapes
        if getattr(s, "has_table", False) and s.name == "Appendix table"
    ]
    assert tables
    per_theme: dict[str, int] = {}
    for slide, table in tables:
        head = [c.text for c in table.table.rows[0].cells]
        assert "Claim" not in head and head[-2] == "Quote"
        title = slide.shapes.title.text_frame.text
        theme = title.removeprefix("Appendix: ").split(" (")[0]
        per_theme[theme] = per_theme.get(theme, 0) + len(table.table.rows) - 1
        note = next(s for s in slide.shapes if s.name == "Appendix note").text_frame.text
        assert "findings.csv beside this deck" in note or note.startswith("All ")
    groups = {g.title: g for g in appendix_groups(ami.spec)}
    assert set(per_theme) == {t.label for t in ami.spec.themes} == set(groups)
    for label, n in per_theme.items():  # bounded: at most 8, about a slide's worth
        assert n == len(groups[label].rows) and 3 <= n <= 8 < groups[label].total
    titles = [t for t in _titles(prs) if t.startswith("Appendix: ")]
    assert len(titles) == len(per_theme)  # one slide per theme, no near-empty second page


def test_a_claim_column_only_when_a_finding_has_a_claim(ami: AmiRun, tmp_path: Path) -> None:
    spec = ami.spec.model_copy(deep=True)
    spec.findings[0].claim = "The team wants fewer buttons than the old remote had."
    out = build_deck(spec, ami.run_dir, tmp_path / "claims.pptx")
    head = _cells(Presentation(str(out)), "Appendix table")[0]
    assert head == ["Code", "Document · speaker", "Asked", "Quote", "Claim", "Conf."]
    assert_exports_ok(spec, ami.sources, deck=out)


def test_documents_outside_the_themes_and_the_method_say_why(ami: AmiRun, tmp_path: Path) -> None:
    spec = ami.spec.model_copy(deep=True)
    spec.unassigned = ["Meeting X1", "Meeting X2"]
    spec.unassigned_reasons = {"Meeting X1": "its findings fit no theme"}
    out = build_deck(spec, ami.run_dir, tmp_path / "d.pptx")
    prs = Presentation(str(out))
    outside = _cells(prs, "Outside table")
    assert outside == [
        ["Document", "Why it is outside the themes"],
        ["Meeting X1", "its findings fit no theme"],
        ["Meeting X2", "fits no theme"],
        ["Réunion 7 (fr)", "not analysed: written in another language (fr)"],
    ]
    assert "Documents that fit no theme: 2 of 12; not analysed: 1" in _titles(prs)
    method = {r[0]: r[1] for r in _cells(prs, "Method table")}
    roles = method["Who was treated as interviewer"]
    assert "Meeting ES2002a" in roles and "interviewer Project Manager" in roles
    assert spec.reviewer_notes[0] in method["Reviewer notes"]
    # roles that differ from document to document get a table of their own
    for k, r in enumerate(spec.speaker_roles):
        r.how = f"read as the moderator ({k} questions)"
    out = build_deck(spec, ami.run_dir, tmp_path / "roles.pptx")
    rows = _cells(Presentation(str(out)), "Roles table")
    assert rows[0] == ["Documents", "Interviewer", "Participants", "How it was decided"]
    body = [r for r in rows if r != rows[0]]  # the header repeats on every page
    assert len(body) == len(spec.speaker_roles)


def test_quotes_are_verbatim_and_numbers_match_the_spec(ami: AmiRun, deck: Path) -> None:
    assert len(deck_quotes(deck)) >= 2 * len(ami.spec.themes)
    assert_exports_ok(ami.spec, ami.sources, deck=deck)


def test_text_and_tables_are_native_and_shape_ids_unique(ami: AmiRun, deck: Path) -> None:
    prs = Presentation(str(deck))
    tables = 0
    for slide in prs.slides:
        ids = [s.shape_id for s in slide.shapes]
        assert len(ids) == len(set(ids))  # duplicate ids are what makes PowerPoint "repair" a file
        for s in slide.shapes:
            if s.shape_type == MSO_SHAPE_TYPE.PICTURE:
                assert s.name.startswith("Chart ")  # the only pictures are charts
            tables += bool(getattr(s, "has_table", False))
    assert tables >= 2  # method + appendix
    rows = sum(
        len(s.table.rows) - 1 for sl in prs.slides for s in sl.shapes if s.name == "Appendix table"
    )
    assert rows == sum(len(g.rows) for g in appendix_groups(ami.spec)) < len(ami.spec.findings)


def _inside(prs, slide) -> None:
    w, h = prs.slide_width, prs.slide_height
    for s in slide.shapes:
        assert s.left >= 0 and s.top >= 0, s.name
        assert s.left + s.width <= w and s.top + s.height <= h, (s.name, s.top + s.height, h)


def test_long_quotes_and_many_themes_paginate_without_leaving_the_slide(
    make_ami: Callable[..., AmiRun],
) -> None:
    run = make_ami(long_quotes=True)
    spec = run.spec
    # one very long verbatim quote: ninety consecutive turns of one meeting
    doc = next(iter(run.sources))
    turns = run.sources[doc].split("\n")
    long_text = " ".join(turns[100:190])
    assert len(long_text) > 2500
    spec.themes[0].quotes.insert(
        0,
        QuoteSpec(
            text=long_text,
            display=clean(long_text),
            speaker="Several",
            doc_id=doc,
            doc_title=f"Meeting {doc}",
            segment_id=f"{doc}#t100-139",
        ),
    )
    base = spec.themes[1]
    for k in range(24):
        spec.themes.append(
            base.model_copy(update={"id": f"extra{k}", "label": f"{base.label} #{k}"})
        )
    out = build_deck(spec, run.run_dir, run.run_dir / "long.pptx")
    prs = Presentation(str(out))
    for slide in prs.slides:
        _inside(prs, slide)
    titles = _titles(prs)
    assert any("(cont." in t for t in titles)
    assert sum(1 for t in titles if t.startswith(base.label)) >= 25
    parts = [q.text for q in deck_quotes(out) if q.where and q.doc_id == doc]
    shown = clean(long_text)
    assert any(len(p) < len(shown) and p in shown for p in parts)  # split, each part the quote's
    assert_exports_ok(spec, run.sources, deck=out)


def _template(path: Path) -> Path:
    prs = Presentation()  # 4:3, like many corporate masters
    master = prs.slide_master
    ns = {
        "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
        "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
    }
    for style in ("p:titleStyle", "p:bodyStyle"):
        rpr = master._element.find(f"p:txStyles/{style}/a:lvl1pPr/a:defRPr", ns)
        latin = etree.SubElement(rpr, f"{{{ns['a']}}}latin")
        latin.set("typeface", "Georgia")
    for layout in prs.slide_layouts:
        layout.name = "ACME " + layout.name  # names are not how layouts are chosen
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    slide.shapes.title.text_frame.text = "TEMPLATE SAMPLE SLIDE"
    prs.save(str(path))
    return path


def test_a_users_template_is_honoured(ami: AmiRun, tmp_path: Path) -> None:
    template = _template(tmp_path / "acme.pptx")
    out = build_deck(ami.spec, ami.run_dir, tmp_path / "deck.pptx", template=template)
    prs = Presentation(str(out))
    assert (prs.slide_width, prs.slide_height) == (Inches(10), Inches(7.5))
    assert all(s.slide_layout.name.startswith("ACME ") for s in prs.slides)
    assert "TEMPLATE SAMPLE SLIDE" not in _titles(prs)
    master_xml = etree.tostring(prs.slide_master._element).decode()
    assert 'typeface="Georgia"' in master_xml
    for slide in prs.slides:
        # no font face set on any run: text takes the template's fonts
        assert b"<a:latin" not in etree.tostring(slide._element)
        _inside(prs, slide)
    assert_exports_ok(ami.spec, ami.sources, deck=out)


def test_bad_template_and_missing_chart_are_user_errors(ami: AmiRun, tmp_path: Path) -> None:
    bogus = tmp_path / "t.pptx"
    bogus.write_text("not a deck")
    with pytest.raises(ExportError, match=r"save it as \.pptx"):
        build_deck(ami.spec, ami.run_dir, tmp_path / "d.pptx", template=bogus)
    spec = ami.spec.model_copy(deep=True)
    spec.themes[0] = spec.themes[0].model_copy(update={"chart_id": "nope"})
    with pytest.raises(ExportError, match=r"not in spec\.charts"):
        build_deck(spec, ami.run_dir, tmp_path / "d.pptx")


def test_unassigned_documents_are_listed(tmp_path: Path) -> None:
    spec, _ = build_spec(tmp_path)
    spec.unassigned = [f"Meeting X{k}" for k in range(40)]
    spec.n_documents = 52
    spec.themes.append(
        ThemeSpec(id="q0", label="No quotes here", summary="s", n_documents=1, total_documents=52)
    )
    out = build_deck(spec, tmp_path, tmp_path / "d.pptx")
    prs = Presentation(str(out))
    listed = [row[0] for row in _cells(prs, "Outside table")]
    assert all(d in listed for d in spec.unassigned)  # paginated, every one listed
    assert "40 of 52" in " ".join(_titles(prs))
    quoteless = list(prs.slides)[_titles(prs).index("No quotes here: in their words")]
    assert "No verbatim quote was kept for this theme." in _texts(quoteless)
    for slide in prs.slides:
        _inside(prs, slide)


def test_a_minimal_spec_still_renders_everything(ami: AmiRun, tmp_path: Path) -> None:
    from exports.report import write_html, write_markdown

    spec = ami.spec.model_copy(deep=True)
    spec.charts, spec.findings, spec.executive_summary = [], [], []
    spec.themes = [t.model_copy(update={"chart_id": None}) for t in spec.themes[:2]]
    deck = build_deck(spec, tmp_path, tmp_path / "deck.pptx")
    prs = Presentation(str(deck))
    assert not [s for sl in prs.slides for s in sl.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
    for slide in prs.slides:
        _inside(prs, slide)
    html = write_html(spec, tmp_path, tmp_path / "r.html")
    md = write_markdown(spec, tmp_path, tmp_path / "r.md")
    assert_exports_ok(spec, ami.sources, deck=deck, html=html, markdown=md)
    empty = spec.model_copy(update={"themes": [], "unassigned": []})
    assert_exports_ok(
        empty,
        ami.sources,
        deck=build_deck(empty, tmp_path, tmp_path / "e.pptx"),
        html=write_html(empty, tmp_path, tmp_path / "e.html"),
    )


def test_title_slide_and_captions_read_cleanly(ami: AmiRun, tmp_path: Path) -> None:
    from exports._pptx import text_height

    spec = ami.spec.model_copy(update={"title": f"AMI meetings: {ami.spec.question}"})
    prs = Presentation(str(build_deck(spec, ami.run_dir, tmp_path / "t.pptx")))
    first = _texts(prs.slides[0])
    assert first.count(spec.question) == 1  # the title says it; the subtitle does not again
    assert "AMI meetings (samples) · 12 meetings" in first
    other = Presentation(str(build_deck(ami.spec, ami.run_dir, tmp_path / "o.pptx")))
    assert ami.spec.question in _texts(other.slides[0])  # a title that does not say it
    # a caption's box is as tall as its text with the frame's margins: no viewer shrinks it
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.name == "Caption":
                size = shape.text_frame.paragraphs[0].runs[0].font.size.pt
                need = text_height([(shape.text_frame.text, size)], shape.width, inset_emu=0)
                need += int(Inches(0.06))  # the frame's top and bottom margins
                assert shape.height >= need, (shape.text_frame.text, shape.height, need)


def test_the_method_table_gets_smaller_before_it_spills_onto_a_second_slide(
    ami: AmiRun, tmp_path: Path
) -> None:
    from exports._pptx import table_pages
    from exports.deck import _Deck
    from exports.text import method_rows

    def pages(spec: object, pt: float) -> int:
        d = _Deck(spec, ami.run_dir, None)  # type: ignore[arg-type]
        rows = [list(r) for r in method_rows(d.spec)]
        rows += [["", n] for n in d.spec.reviewer_notes] + [["", "x"]] * 2
        return len(table_pages(d.content, ["", ""], rows, [0.22, 0.78], header=False, size=pt))

    spec = ami.spec.model_copy(deep=True)
    note = "Reviewer: a theme carried by one speaker in one meeting, worth a second look."
    while pages(spec, 12.0) == 1:  # notes until 12 pt needs a second slide
        spec.reviewer_notes.append(note)
    assert pages(spec, 10.0) == 1
    prs = Presentation(str(build_deck(spec, ami.run_dir, tmp_path / "m.pptx")))
    titles = _titles(prs)
    assert "Method" in titles and not any(t.startswith("Method (") for t in titles)
    spec.reviewer_notes += [note] * 40  # too many for one slide at any size: paginated
    prs = Presentation(str(build_deck(spec, ami.run_dir, tmp_path / "m2.pptx")))
    assert any(t.startswith("Method (1/") for t in _titles(prs))
