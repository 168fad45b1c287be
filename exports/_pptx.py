"""Low-level helpers for the deck: layouts, geometry, text boxes, and text-height estimates.

python-pptx cannot measure text, so pagination relies on a deliberately pessimistic
estimate (average glyph width 0.55 em, 1.2 line height); text boxes also carry
"shrink text on overflow" so a renderer that fits text itself (PowerPoint, LibreOffice)
has a safety net if the estimate is still short.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pptx.dml.color import RGBColor
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.presentation import Presentation as PresentationT
from pptx.slide import Slide, SlideLayout
from pptx.util import Emu, Inches, Pt

EMU_PER_PT = 12700
GLYPH_EM = 0.47  # average glyph width in em; Calibri/Carlito ~0.45, DejaVu Sans ~0.52
LINE = 1.2

_CONTENT_TYPES = {
    PP_PLACEHOLDER.BODY,
    PP_PLACEHOLDER.OBJECT,
    PP_PLACEHOLDER.PICTURE,
    PP_PLACEHOLDER.CHART,
    PP_PLACEHOLDER.TABLE,
    PP_PLACEHOLDER.SUBTITLE,
    PP_PLACEHOLDER.VERTICAL_BODY,
    PP_PLACEHOLDER.VERTICAL_OBJECT,
    PP_PLACEHOLDER.MEDIA_CLIP,
    PP_PLACEHOLDER.ORG_CHART,
    PP_PLACEHOLDER.BITMAP,
}
_TITLE_TYPES = {PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE}


def rgb(hex_colour: str) -> RGBColor:
    # python-pptx's constructors carry no type hints
    colour: RGBColor = RGBColor.from_string(hex_colour.lstrip("#").upper())  # type: ignore[no-untyped-call]
    return colour


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def right(self) -> int:
        return self.left + self.width


def _placeholders(layout: SlideLayout) -> list[Any]:
    phs: Any = layout.placeholders  # python-pptx's stubs mistype this collection's __iter__
    return list(phs)


def _types(layout: SlideLayout) -> list[Any]:
    return [ph.placeholder_format.type for ph in _placeholders(layout)]


@dataclass
class Layouts:
    title: SlideLayout  # a title slide: centre title (+ subtitle)
    title_only: SlideLayout  # a title and nothing else we must fill
    bullets: SlideLayout  # a title and one body placeholder
    has_title_only: bool


def pick_layouts(prs: PresentationT) -> Layouts:
    """Choose layouts by what their placeholders are, not by name (templates rename them)."""
    layouts = list(prs.slide_layouts)
    title = next((lo for lo in layouts if PP_PLACEHOLDER.CENTER_TITLE in _types(lo)), layouts[0])
    bullets = next(
        (
            lo
            for lo in layouts
            if any(t in _TITLE_TYPES for t in _types(lo))
            and sum(t in _CONTENT_TYPES for t in _types(lo)) == 1
            and lo is not title
        ),
        None,
    )
    title_only = next(
        (
            lo
            for lo in layouts
            if any(t in _TITLE_TYPES for t in _types(lo))
            and not any(t in _CONTENT_TYPES for t in _types(lo))
            and lo is not title
        ),
        None,
    )
    fallback = bullets or title_only or layouts[min(1, len(layouts) - 1)]
    return Layouts(
        title=title,
        title_only=title_only or fallback,
        bullets=bullets or fallback,
        has_title_only=title_only is not None,
    )


def placeholder_box(layout: SlideLayout, kinds: set[Any]) -> Box | None:
    for ph in _placeholders(layout):
        if ph.placeholder_format.type in kinds and ph.width and ph.height:
            return Box(int(ph.left), int(ph.top), int(ph.width), int(ph.height))
    return None


def title_placeholder(slide: Slide) -> Any | None:
    for ph in slide.placeholders:
        if ph.placeholder_format.type in _TITLE_TYPES:
            return ph
    return None


def body_placeholder(slide: Slide) -> Any | None:
    for ph in slide.placeholders:
        if ph.placeholder_format.type in _CONTENT_TYPES:
            return ph
    return None


def remove_shape(shape: Any) -> None:
    """Drop a shape (an unused placeholder) so it shows no 'Click to add text' prompt."""
    el = shape._element  # python-pptx has no public delete; removing the XML node is the way
    el.getparent().remove(el)


def remove_all_slides(prs: PresentationT) -> None:
    """Drop a template's own slides, keeping its masters, layouts and theme."""
    id_list = prs.slides._sldIdLst  # no public API for deleting slides in python-pptx 1.0
    for sld_id in list(id_list):
        prs.part.drop_rel(sld_id.rId)
        id_list.remove(sld_id)


def lines_needed(text: str, width_emu: int, size_pt: float, glyph_em: float = GLYPH_EM) -> int:
    chars_per_line = max(8, int(width_emu / EMU_PER_PT / (size_pt * glyph_em)))
    total = 0
    for para in text.split("\n") or [""]:
        words, line_len, lines = para.split(), 0, 1
        for word in words:
            need = len(word) + (1 if line_len else 0)
            if line_len + need > chars_per_line and line_len:
                lines += 1
                line_len = min(len(word), chars_per_line)
                lines += (len(word) - 1) // chars_per_line
            else:
                line_len += need
        total += lines
    return total


def text_height(
    paragraphs: Sequence[tuple[str, float]],
    width_emu: int,
    *,
    inset_emu: int = 0,
    glyph_em: float = GLYPH_EM,
) -> int:
    """Estimated height (EMU) of paragraphs given as (text, font size pt)."""
    usable = max(1, width_emu - 2 * inset_emu)
    pts = sum(lines_needed(t, usable, s, glyph_em) * s * LINE + s * 0.2 for t, s in paragraphs)
    return math.ceil(pts * EMU_PER_PT) + 2 * inset_emu


@dataclass(frozen=True)
class Run:
    text: str
    size: float | None = None
    bold: bool = False
    italic: bool = False
    colour: str | None = None


def add_textbox(
    slide: Slide,
    box: Box,
    paragraphs: Sequence[Sequence[Run]],
    *,
    name: str | None = None,
    align: Any = PP_ALIGN.LEFT,
    anchor: Any = MSO_ANCHOR.TOP,
    shrink: bool = True,
) -> Any:
    """A native, editable text box; each paragraph is a list of runs."""
    shape = slide.shapes.add_textbox(Emu(box.left), Emu(box.top), Emu(box.width), Emu(box.height))
    if name:
        shape.name = name
    tf = shape.text_frame
    tf.word_wrap = True
    tf.vertical_anchor = anchor
    tf.margin_left = tf.margin_right = Inches(0.05)
    tf.margin_top = tf.margin_bottom = Inches(0.03)
    for i, runs in enumerate(paragraphs):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.alignment = align
        for r in runs:
            fill_run(p.add_run(), r)
    if shrink:
        tf.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
    return shape


def fill_run(run: Any, r: Run) -> None:
    run.text = r.text
    f = run.font
    if r.size:
        f.size = Pt(r.size)
    if r.bold:
        f.bold = True
    if r.italic:
        f.italic = True
    if r.colour:
        f.color.rgb = rgb(r.colour)


def set_text(shape: Any, text: str, *, size: float | None = None) -> None:
    """Fill a placeholder, keeping the template's fonts (only the size is ever set)."""
    tf = shape.text_frame
    tf.text = text
    if size:
        for p in tf.paragraphs:
            for r in p.runs:
                r.font.size = Pt(size)


def table_pages(
    content: Box,
    head: list[str],
    rows: list[list[str]],
    fractions: list[float],
    *,
    header: bool,
    size: float,
    glyph: float = 0.44,
) -> list[list[int]]:
    """The rows of each page `add_table_slides` makes (by estimated row height)."""
    widths = [int(content.width * f) for f in fractions]
    pad = int(Inches(0.08))
    heights = [
        max(
            text_height([(cell, size)], wd - pad, glyph_em=glyph)
            for cell, wd in zip(row, widths, strict=True)
        )
        + pad
        for row in rows
    ]
    head_h = (
        max(text_height([(h, size)], wd - pad) for h, wd in zip(head, widths, strict=True)) + pad
        if header
        else 0
    )
    return paginate(heights, content.height - head_h)


def add_table_slides(
    new_slide: Callable[[str, Sequence[str]], Slide],
    content: Box,
    title: str,
    head: list[str],
    rows: list[list[str]],
    fractions: list[float],
    *,
    name: str,
    header: bool,
    size: float,
    glyph: float = 0.44,
) -> None:
    """Native tables, paginated by estimated row height, header repeated on every page.

    `glyph`: average glyph width (em) the pagination assumes; table text is small and
    dense, and rows grow to fit their text if it is short (see below)."""
    c = content
    widths = [int(c.width * f) for f in fractions]
    pad = int(Inches(0.08))
    pages = table_pages(c, head, rows, fractions, header=header, size=size, glyph=glyph)
    for k, idx in enumerate(pages):
        slide = new_slide(
            paged(title, k, len(pages)),
            [f"{title}: rows {idx[0] + 1}–{idx[-1] + 1} of {len(rows)}."],
        )
        n_rows = len(idx) + (1 if header else 0)
        # rows get one line as their height: PowerPoint and LibreOffice grow a row to fit
        # its text, and the pessimistic estimates above only decide the pagination
        line = text_height([("x", size)], c.width) + pad
        total_h = line * n_rows
        frame = slide.shapes.add_table(
            n_rows, len(head), Emu(c.left), Emu(c.top), Emu(c.width), Emu(total_h)
        )
        frame.name = name
        table = frame.table
        table.first_row = header
        for j, wd in enumerate(widths):
            table.columns[j].width = Emu(wd)
        body_rows = [head] if header else []
        body_rows += [rows[i] for i in idx]
        for r, cells in enumerate(body_rows):
            table.rows[r].height = Emu(line)
            for j, text in enumerate(cells):
                cell = table.cell(r, j)
                cell.text = text
                cell.margin_left = cell.margin_right = Inches(0.05)
                cell.margin_top = cell.margin_bottom = Inches(0.03)
                for p in cell.text_frame.paragraphs:
                    for run in p.runs:
                        run.font.size = Pt(size)
                        if not header and j == 0:
                            run.font.bold = True


def master_body_pt(prs: Any) -> float:
    """Level-1 body text size of the slide master (what a template's bullets render at)."""
    ns = {
        "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
        "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
    }
    rpr = prs.slide_master.element.find("p:txStyles/p:bodyStyle/a:lvl1pPr/a:defRPr", ns)
    size = rpr.get("sz") if rpr is not None else None
    return int(size) / 100 if size else 18.0


def paged(title: str, k: int, n: int) -> str:
    return title if n == 1 else f"{title} ({k + 1}/{n})"


def paginate(heights: Sequence[int], available: int) -> list[list[int]]:
    pages: list[list[int]] = [[]]
    used = 0
    for i, h in enumerate(heights):
        if pages[-1] and used + h > available:
            pages.append([])
            used = 0
        pages[-1].append(i)
        used += h
    return pages
