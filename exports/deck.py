"""The editable slide deck (python-pptx), rendered from a `ReportSpec`.

Slides: title, executive summary, themes at a glance (the prevalence chart), one slide
per theme (prevalence n of N, insight, chart, up to three verbatim quotes with
attribution; speaker notes with full citations and confidence), method, an appendix
table of findings, and the documents that fit no theme. Everything is native text and
native tables. Overflow paginates onto "(cont.)" slides; a quote too long for one slide
is split at word boundaries, every part still a verbatim substring.

Every slide carries the engine note in its footer and in its speaker notes. With a
user's template, its layouts (picked by placeholder type), slide size, theme and fonts
are used; its own slides are dropped; no font name is ever set, so text takes the
template's theme fonts.

Shape names are part of the contract with `exports.checks`: "Quote <i>: <doc_id>",
"Prevalence <theme_id>", "Footer", "Appendix table", "Method table".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.exc import PackageNotFoundError
from pptx.slide import Slide
from pptx.util import Emu, Inches, Pt

from exports._pptx import (
    Box,
    Run,
    add_table_slides,
    add_textbox,
    body_placeholder,
    master_body_pt,
    paged,
    paginate,
    pick_layouts,
    placeholder_box,
    remove_all_slides,
    remove_shape,
    set_text,
    text_height,
    title_placeholder,
)
from exports.errors import ExportInputError
from exports.paths import inside
from exports.spec import ChartSpec, QuoteSpec, ReportSpec, ThemeSpec
from exports.style import ACCENT, MUTED, prevalence_label
from exports.text import attribution, citation, confidence_text, headline, method_rows

TITLE_CHARS = 100  # longest slide title; longer ones are cut at a word (full text in notes)

__all__ = ["MAX_QUOTES_PER_THEME", "build_deck"]

MAX_QUOTES_PER_THEME = 3
MIN_SPLIT_CHARS = 120  # split a quote across frames only if this much of it fits
QUOTE_PT = 15.0
ATTR_PT = 11.0
BODY_PT = 16.0
TABLE_PT = 10.0


class _Deck:
    def __init__(self, spec: ReportSpec, run_dir: Path, template: Path | None) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.templated = template is not None
        if template is not None:
            if not template.is_file():
                raise ExportInputError(
                    f"deck template {template} does not exist; pass a .pptx file"
                )
            try:
                self.prs = Presentation(str(template))
            except (PackageNotFoundError, KeyError, ValueError) as exc:
                raise ExportInputError(
                    f"deck template {template} is not a readable .pptx ({exc}); "
                    "open it in PowerPoint and save it as .pptx (not .potx)"
                ) from exc
            remove_all_slides(self.prs)
        else:
            self.prs = Presentation()
            self.prs.slide_width, self.prs.slide_height = Inches(13.333), Inches(7.5)
        self.layouts = pick_layouts(self.prs)
        w, h = int(self.prs.slide_width or 0), int(self.prs.slide_height or 0)
        self.w, self.h = w, h
        margin = int(w * 0.045)
        default_title = Box(margin, int(h * 0.05), w - 2 * margin, int(h * 0.12))
        self.title_box = default_title
        if self.templated:
            tb = placeholder_box(self.layouts.title_only, {PP_PLACEHOLDER.TITLE})
            self.title_box = tb or default_title
        footer_top = h - int(Inches(0.42))
        body = placeholder_box(self.layouts.bullets, {PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT})
        top = self.title_box.bottom + int(Inches(0.12))
        if self.templated and body is not None:
            self.content = Box(body.left, max(body.top, top), body.width, 0)
        else:
            self.content = Box(margin, top, w - 2 * margin, 0)
        bottom = min(footer_top - int(Inches(0.08)), h)
        if self.templated and body is not None:
            bottom = min(bottom, body.bottom)
        self.content = Box(
            self.content.left, self.content.top, self.content.width, bottom - self.content.top
        )
        self.footer = Box(margin, footer_top, w - 2 * margin, int(Inches(0.34)))
        self.charts: dict[str, ChartSpec] = {c.id: c for c in spec.charts}
        self.template_body_pt = master_body_pt(self.prs)

    # ---- slide scaffolding -------------------------------------------------------------

    def new_slide(self, title: str, notes: Sequence[str], *, bullets: bool = False) -> Slide:
        title = headline(title, TITLE_CHARS)  # a theme label may be a paragraph
        layout = self.layouts.bullets if bullets else self.layouts.title_only
        slide: Slide = self.prs.slides.add_slide(layout)
        ph = title_placeholder(slide)
        if ph is None:  # a template whose layouts have no title: add our own
            add_textbox(slide, self.title_box, [[Run(title, size=28, bold=True)]], name="Title")
        else:
            if not self.templated:
                ph.left, ph.top = Emu(self.title_box.left), Emu(self.title_box.top)
                ph.width, ph.height = Emu(self.title_box.width), Emu(self.title_box.height)
            set_text(
                ph,
                title,
                size=None if self.templated and len(title) < 50 else self._title_pt(title),
            )
            ph.text_frame.word_wrap = True
        if not bullets:
            for extra in [p for p in slide.placeholders if ph is None or p.shape_id != ph.shape_id]:
                remove_shape(extra)
        self._footer(slide)
        self._notes(slide, notes)
        return slide

    def _title_pt(self, title: str) -> float:
        return 30 if len(title) < 45 else 26 if len(title) < 70 else 22

    def _footer(self, slide: Slide) -> None:
        page = len(self.prs.slides)
        add_textbox(
            slide,
            self.footer,
            [
                [
                    Run(
                        f"{self.spec.engine_note}  ·  run {self.spec.run_id}  ·  {page}",
                        size=10,
                        colour=MUTED,
                    )
                ]
            ],
            name="Footer",
            anchor=MSO_ANCHOR.MIDDLE,
        )

    def _notes(self, slide: Slide, notes: Sequence[str]) -> None:
        lines = [
            *notes,
            "",
            self.spec.engine_note,
            f"Run {self.spec.run_id}, created {self.spec.created_at}.",
        ]
        frame = slide.notes_slide.notes_text_frame
        if frame is not None:  # None only for a notes master without a body placeholder
            frame.text = "\n".join(lines).strip()

    def picture(self, slide: Slide, chart: ChartSpec, box: Box) -> Any:
        path = inside(self.run_dir, chart.png_path, f"chart {chart.id!r}")
        if not path.is_file():
            raise ExportInputError(
                f"chart {chart.id!r}: {path} does not exist; render the chart before the deck "
                "(ChartSpec.png_path is relative to the run directory)"
            )
        with Image.open(path) as im:
            iw, ih = im.size
        scale = min(box.width / iw, box.height / ih)
        pw, ph = int(iw * scale), int(ih * scale)
        pic = slide.shapes.add_picture(
            str(path), Emu(box.left + (box.width - pw) // 2), Emu(box.top), Emu(pw), Emu(ph)
        )
        pic.name = f"Chart {chart.id}"
        return pic

    # ---- slides ------------------------------------------------------------------------

    def title_slide(self) -> None:
        s = self.spec
        slide = self.prs.slides.add_slide(self.layouts.title)
        ph = title_placeholder(slide)
        subtitle = next(
            (p for p in slide.placeholders if p.placeholder_format.type == PP_PLACEHOLDER.SUBTITLE),
            None,
        )
        if not self.templated:  # the default master's title layout is laid out for 4:3
            c = self.content
            for shape, top, height in ((ph, 0.26, 0.24), (subtitle, 0.52, 0.18)):
                if shape is not None:
                    shape.left, shape.width = Emu(c.left), Emu(c.width)
                    shape.top, shape.height = Emu(int(self.h * top)), Emu(int(self.h * height))
        title = headline(s.title, TITLE_CHARS)  # the whole question is in the notes
        if ph is not None:
            set_text(ph, title, size=None if self.templated else 40)
        else:
            add_textbox(slide, self.title_box, [[Run(title, size=36, bold=True)]], name="Title")
        sub = (
            f"{headline(s.question, 3 * TITLE_CHARS)}\n{headline(s.corpus_name, TITLE_CHARS)} · "
            f"{s.n_documents} documents · {s.created_at[:10]}"
        )
        if subtitle is not None:
            set_text(subtitle, sub, size=None if self.templated else 20)
        else:
            box = Box(self.content.left, self.h // 2, self.content.width, int(Inches(1.2)))
            add_textbox(
                slide, box, [[Run(line, size=20)] for line in sub.split("\n")], name="Subtitle"
            )
        keep = {p.shape_id for p in (ph, subtitle) if p is not None}
        for extra in [p for p in slide.placeholders if p.shape_id not in keep]:
            remove_shape(extra)
        box = Box(
            self.content.left,
            self.footer.top - int(Inches(0.75)),
            self.content.width,
            int(Inches(0.6)),
        )
        add_textbox(
            slide,
            box,
            [[Run(s.engine_note, size=16, bold=True, colour=ACCENT)]],
            name="Engine note",
            align=PP_ALIGN.CENTER,
            anchor=MSO_ANCHOR.MIDDLE,
        )
        self._footer(slide)
        self._notes(
            slide,
            [f"Question: {s.question}", f"Corpus: {s.corpus_name} ({s.n_documents} documents)."],
        )

    def bullet_slides(self, title: str, items: Sequence[str], notes: Sequence[str]) -> None:
        # the largest size at which everything fits one slide; else the smallest, paginated.
        # A template's body style decides its own size: paginate at that size.
        sizes = (self.template_body_pt,) if self.templated else (24.0, 20.0, BODY_PT + 2)
        for size in sizes:
            heights = [text_height([(t, size)], self.content.width) for t in items]
            if sum(heights) <= self.content.height:
                break
        pages = paginate(heights, self.content.height)
        for k, idx in enumerate(pages):
            slide = self.new_slide(paged(title, k, len(pages)), notes, bullets=True)
            body = body_placeholder(slide)
            if body is None:
                add_textbox(slide, self.content, [[Run("• " + items[i], size=size)] for i in idx])
                continue
            if not self.templated:
                body.left, body.top = Emu(self.content.left), Emu(self.content.top)
                body.width, body.height = Emu(self.content.width), Emu(self.content.height)
            tf = body.text_frame
            for j, i in enumerate(idx):
                p = tf.paragraphs[0] if j == 0 else tf.add_paragraph()
                run = p.add_run()
                run.text = items[i]
                if not self.templated:  # a template's body style decides its own size
                    run.font.size = Pt(size)

    def overview_slide(self) -> None:
        chart = self._prevalence_chart()
        lines = [
            f"{t.label}: {prevalence_label(t.n_documents, t.total_documents)}"
            for t in self.spec.themes
        ]
        if chart is None:
            self.bullet_slides(
                "Themes at a glance",
                lines,
                ["Prevalence = documents with the theme / documents analysed."],
            )
            return
        slide = self.new_slide(
            "Themes at a glance", ["Prevalence of each theme (n of N documents):", *lines]
        )
        self.picture(slide, chart, self.content)

    def _prevalence_chart(self) -> ChartSpec | None:
        for c in self.spec.charts:
            if c.id == "theme_prevalence":
                return c
        return next((c for c in self.spec.charts if "prevalence" in c.id), None)

    def theme_slides(self, theme: ThemeSpec) -> None:
        if theme.chart_id and theme.chart_id not in self.charts:
            raise ExportInputError(
                f"theme {theme.id!r} names chart {theme.chart_id!r}, which is not in spec.charts; "
                "add its ChartSpec or clear ThemeSpec.chart_id"
            )
        chart = self.charts.get(theme.chart_id or "") or self._prevalence_chart()
        c = self.content
        gap = int(Inches(0.3))
        left_w = c.width if chart is None else int(c.width * 0.5) - gap // 2
        right = Box(c.left + left_w + gap, c.top, c.width - left_w - gap, c.height)
        notes = self._theme_notes(theme)
        slide = self.new_slide(theme.label, notes)
        stat = prevalence_label(theme.n_documents, theme.total_documents)
        stat_h = text_height([(stat + " documents", 24)], left_w)
        add_textbox(
            slide,
            Box(c.left, c.top, left_w, stat_h),
            [
                [
                    Run(stat, size=24, bold=True, colour=ACCENT),
                    Run(" documents", size=18, colour=MUTED),
                ]
            ],
            name=f"Prevalence {theme.id}",
        )
        y = c.top + stat_h
        summary = [theme.summary, f"Confidence: {confidence_text(theme.confidence)}"]
        sum_h = text_height([(summary[0], BODY_PT), (summary[1], 12)], left_w)
        add_textbox(
            slide,
            Box(c.left, y, left_w, sum_h),
            [[Run(summary[0], size=BODY_PT)], [Run(summary[1], size=12, colour=MUTED)]],
            name="Insight",
        )
        y += sum_h + int(Inches(0.15))
        # quotes fill the left column under the insight, then the right column under the chart,
        # then full-width continuation slides
        frames = [Box(c.left, y, left_w, c.bottom - y)]
        if chart is not None:
            pic = self.picture(
                slide, chart, Box(right.left, right.top, right.width, int(c.height * 0.55))
            )
            below = int(pic.top + pic.height) + int(Inches(0.2))
            frames.append(Box(right.left, below, right.width, c.bottom - below))
        quotes = theme.quotes[:MAX_QUOTES_PER_THEME]
        if not quotes:
            note = Run(
                "No verbatim quote was kept for this theme.", size=12, italic=True, colour=MUTED
            )
            add_textbox(slide, Box(c.left, y, left_w, int(Inches(0.5))), [[note]])
            return
        page, k, f = slide, 1, 0
        y = frames[0].top
        for i, q in enumerate(quotes, 1):
            rest = q.text
            while rest:
                frame = frames[f]
                whole = self._quote_height(rest, q, False, frame.width)
                if y + whole <= frame.bottom:
                    part, h = rest, whole
                else:
                    # as much of the quote as fits here; every part is a verbatim substring
                    empty_page = frame == c and y == frame.top
                    part, h = self._fit(rest, q, frame.width, frame.bottom - y, force=empty_page)
                    if not part:
                        f += 1
                        if f == len(frames):
                            k += 1
                            more = "" if k == 2 else f" {k - 1}"
                            page = self.new_slide(f"{theme.label} (cont.{more})", notes)
                            frames.append(c)
                        y = frames[f].top
                        continue
                rest = rest[len(part) :].lstrip()
                self._quote_box(page, Box(frame.left, y, frame.width, h), q, part, bool(rest), i)
                y += h + int(Inches(0.15))

    def _quote_height(self, part: str, q: QuoteSpec, cont: bool, width: int) -> int:
        attr = attribution(q) + (" (quote continues)" if cont else "")
        return text_height(
            [("“" + part + "”", QUOTE_PT), (attr, ATTR_PT)], width, inset_emu=int(Inches(0.05))
        )

    def _fit(
        self, text: str, q: QuoteSpec, width: int, avail: int, *, force: bool
    ) -> tuple[str, int]:
        """The longest word-boundary prefix of `text` that fits in `avail`; "" when too little
        of it fits to be worth splitting here (unless `force`: an empty continuation slide)."""
        ends = [m.end() for m in re.finditer(r"\S+", text)]
        lo, hi = 0, len(ends)  # invariant: text[: ends[lo - 1]] fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._quote_height(text[: ends[mid - 1]], q, True, width) <= avail:
                lo = mid
            else:
                hi = mid - 1
        # leave a tail worth its own box: back off while the remainder would be tiny
        while 0 < lo < len(ends) and len(text) - ends[lo - 1] < MIN_SPLIT_CHARS // 2:
            lo -= 1
        if lo == 0 or ends[lo - 1] < min(MIN_SPLIT_CHARS, len(text)):
            if not force:
                return "", 0
            lo = max(lo, 1)
        part = text[: ends[lo - 1]]
        return part, min(avail, self._quote_height(part, q, True, width))

    def _quote_box(
        self, slide: Slide, box: Box, q: QuoteSpec, part: str, cont: bool, i: int
    ) -> None:
        attr = attribution(q) + (" (quote continues)" if cont else "")
        add_textbox(
            slide,
            box,
            [
                [
                    Run("“", size=QUOTE_PT, italic=True),
                    Run(part, size=QUOTE_PT, italic=True),
                    Run("”", size=QUOTE_PT, italic=True),
                ],
                [Run(attr, size=ATTR_PT, colour=MUTED)],
            ],
            name=f"Quote {i}: {q.doc_id}",
        )

    def _theme_notes(self, theme: ThemeSpec) -> list[str]:
        lines = [
            f"Theme: {theme.label} ({theme.id})",
            f"Prevalence: {prevalence_label(theme.n_documents, theme.total_documents)} documents.",
            f"Confidence: {confidence_text(theme.confidence)}",
            f"Insight: {theme.summary}",
        ]
        if theme.keywords:
            lines.append("Keywords: " + ", ".join(theme.keywords))
        lines.append("Citations:")
        for i, q in enumerate(theme.quotes, 1):
            lines.append(f"[{i}] “{q.text}” — {citation(q)}")
        if not theme.quotes:
            lines.append("(none)")
        return lines

    def method_slides(self) -> None:
        self.table_slides(
            "Method",
            ["", ""],
            [list(r) for r in method_rows(self.spec)],
            [0.25, 0.75],
            name="Method table",
            header=False,
            size=14,
        )

    def appendix_slides(self) -> None:
        labels = {t.id: t.label for t in self.spec.themes}
        rows = [
            [
                labels.get(f.theme_id or "", f.theme_id or "—"),
                f.doc_title,
                f.claim or "",
                f.quote,
                f"{f.confidence:.2f}",
            ]
            for f in self.spec.findings
        ]
        if not rows:
            return
        self.table_slides(
            "Appendix: findings",
            ["Theme", "Document", "Claim", "Quote", "Conf."],
            rows,
            [0.14, 0.12, 0.22, 0.44, 0.08],
            name="Appendix table",
            header=True,
            size=TABLE_PT,
        )

    def table_slides(
        self,
        title: str,
        head: list[str],
        rows: list[list[str]],
        fractions: list[float],
        *,
        name: str,
        header: bool,
        size: float,
    ) -> None:
        add_table_slides(
            self.new_slide,
            self.content,
            title,
            head,
            rows,
            fractions,
            name=name,
            header=header,
            size=size,
        )

    def unassigned_slides(self) -> None:
        docs = self.spec.unassigned
        title = f"Documents that fit no theme: {len(docs)} of {self.spec.n_documents}"
        if not docs:
            self.bullet_slides(title, ["Every document analysed fits at least one theme."], [title])
            return
        self.bullet_slides(title, docs, [title, *docs])


def build_deck(
    spec: ReportSpec, run_dir: Path, out_path: Path, template: Path | None = None
) -> Path:
    """Write the deck for `spec` to `out_path` and return it.

    `run_dir` is where the spec's relative paths (charts, clips) resolve. `template` is a
    user's .pptx whose layouts, theme, fonts and slide size are used.
    """
    run_dir, out_path = Path(run_dir), Path(out_path)
    deck = _Deck(spec, run_dir, Path(template) if template is not None else None)
    deck.title_slide()
    if spec.executive_summary:
        deck.bullet_slides(
            "Executive summary", spec.executive_summary, ["Executive summary, as in the report."]
        )
    if spec.themes:
        deck.overview_slide()
    for theme in spec.themes:
        deck.theme_slides(theme)
    deck.method_slides()
    deck.appendix_slides()
    deck.unassigned_slides()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    deck.prs.save(str(out_path))
    return out_path
