"""A 10,000-character question (or theme label) does not become a 10,000-character
slide title or page heading: titles are cut at a word, the full text stays in the body
and the speaker notes."""

from __future__ import annotations

import shutil
from pathlib import Path

from pptx import Presentation

from exports.deck import build_deck
from exports.report import write_html, write_markdown

from .exports_fixtures import AmiRun

LONG = " ".join(f"word{i}" for i in range(1700))  # ~10,000 characters


def test_long_question_and_labels_make_short_titles(ami: AmiRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    spec = ami.spec.model_copy(deep=True)
    spec.question = LONG
    spec.title = f"{spec.corpus_name}: {LONG}"
    spec.themes[0].label = LONG[:3000]
    prs = Presentation(str(build_deck(spec, run, run / "deck.pptx")))
    for slide in prs.slides:
        title = slide.shapes.title
        text = title.text_frame.text if title is not None else ""
        assert len(text) <= 120, text[:200]
        for shape in slide.shapes:
            if shape.has_text_frame and shape is not title:
                assert len(shape.text_frame.text) <= 2000 or "word1699" not in shape.text_frame.text
    notes = prs.slides[0].notes_slide.notes_text_frame.text
    assert "word1699" in notes  # the whole question is kept, in the notes
    html = write_html(spec, run, run / "report.html").read_text()
    head = html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert len(head) <= 130 and "word1699" in html  # the body keeps the question
    md = write_markdown(spec, run, run / "report.md").read_text()
    h1 = next(line for line in md.splitlines() if line.startswith("# "))
    assert len(h1) <= 130 and "word1699" in md
