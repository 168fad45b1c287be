"""The editable slide deck (python-pptx), rendered from a `ReportSpec`.

Slides: title, executive summary, themes at a glance (the prevalence chart), the charts
across themes (sentiment, themes by segment, over time), per theme an overview and
"in their words" (see `exports.deck_themes`), the documents that fit no theme (and why),
those not analysed (another language), method (with who was treated as interviewer in
each document, and the reviewer's notes), and an appendix bounded per theme (the full
table is `spec.findings_csv`, beside the deck). Everything is native text and native
tables; overflow paginates onto "(cont.)" or "(k/n)" slides. No column repeats the
quote: a Claim column appears only when some finding has a claim of its own.

Every slide carries the engine note in its footer and in its speaker notes. With a
user's template, its layouts (picked by placeholder type), slide size, theme and fonts
are used; its own slides are dropped; no font name is ever set, so text takes the
template's theme fonts.

Shape names are part of the contract with `exports.checks`: "Quote <i>: <doc_id>",
"Prevalence <theme_id>", "Codes <theme_id>", "Footer", "Appendix table", "Method table".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    table_pages,
    text_height,
    title_placeholder,
)
from exports.deck_themes import MAX_QUOTES_PER_THEME, ThemeSlides, theme_chart_ids
from exports.errors import ExportInputError
from exports.paths import inside
from exports.spec import ChartSpec, ReportSpec, ThemeSpec
from exports.style import ACCENT, MUTED, prevalence_label
from exports.text import (
    appendix_cells,
    appendix_groups,
    appendix_head,
    has_claims,
    headline,
    method_rows,
    role_rows,
)

TITLE_CHARS = 100  # longest slide title; longer ones are cut at a word (full text in notes)

__all__ = ["MAX_QUOTES_PER_THEME", "build_deck"]

BODY_PT = 16.0
TABLE_PT = 10.0
ROLE_ROWS_IN_METHOD = 2  # roles that read the same way in this few groups: method rows
# the appendix' quotes are long: paginate them at a glyph width nearer the theme fonts'
# (Calibri/Carlito measure ~0.37 em at 10 pt); rows still grow to fit their text
APPENDIX_GLYPH = 0.40


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
        self.noun = spec.noun
        self.themes = ThemeSlides(self)

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
        sub = f"{headline(s.corpus_name, TITLE_CHARS)} · {s.n_documents} {s.noun} · {s.created_at[:10]}"
        if s.question not in title:  # a title that says the question: not said twice
            sub = f"{headline(s.question, 3 * TITLE_CHARS)}\n{sub}"
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
            [f"Question: {s.question}", f"Corpus: {s.corpus_name} ({s.n_documents} {s.noun})."],
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
            f"{t.label}: {prevalence_label(t.n_documents, t.total_documents)} {self.noun}"
            for t in self.spec.themes
        ]
        if chart is None:
            self.bullet_slides(
                "Themes at a glance",
                lines,
                [f"Prevalence = {self.noun} with the theme / {self.noun} analysed."],
            )
            return
        self.themes.chart_slide(chart, "Themes at a glance")

    def _prevalence_chart(self) -> ChartSpec | None:
        for c in self.spec.charts:
            if c.id == "theme_prevalence":
                return c
        return next((c for c in self.spec.charts if "prevalence" in c.id), None)

    def theme_chart(self, theme: ThemeSpec) -> ChartSpec | None:
        if theme.chart_id and theme.chart_id not in self.charts:
            raise ExportInputError(
                f"theme {theme.id!r} names chart {theme.chart_id!r}, which is not in spec.charts; "
                "add its ChartSpec or clear ThemeSpec.chart_id"
            )
        return self.charts.get(theme.chart_id or "") or self._prevalence_chart()

    def chart_slides(self) -> None:
        """The charts across themes besides the prevalence chart: sentiment, segments, time."""
        overview = self._prevalence_chart()
        own = theme_chart_ids(self.spec.themes)
        for chart in self.spec.charts:
            if chart.id not in own and (overview is None or chart.id != overview.id):
                self.themes.chart_slide(chart)

    def method_slides(self) -> None:
        """The method table; who was treated as interviewer (as rows of it when the roles
        read the same in most documents, else a table of its own); the reviewer's notes."""
        s = self.spec
        rows = [list(r) for r in method_rows(s)]
        if not s.unassigned and not s.not_analysed:  # no slide of its own for "none"
            rows.append(["Fits no theme", f"0 of {s.n_documents} {s.noun}: every one fits a theme"])
        roles = role_rows(s)
        if 0 < len(roles) <= ROLE_ROWS_IN_METHOD:
            rows += [
                [
                    "Who was treated as interviewer",
                    f"{docs}: {'interviewer ' + who if who != 'none' else 'no interviewer'}; "
                    f"participants {parts}. {how}",
                ]
                for docs, who, parts, how in roles
            ]
        rows += [
            ["Candidate codes (not in your codebook)" if k == 0 else "", c]
            for k, c in enumerate(s.candidate_codes)
        ]
        rows += [["Reviewer notes" if k == 0 else "", n] for k, n in enumerate(s.reviewer_notes)]
        # one slide at 12 pt, else at 11 or 10 pt, rather than a second slide of two rows
        fractions = [0.22, 0.78]
        size = next(
            (
                pt
                for pt in (12.0, 11.0, 10.0)
                if len(table_pages(self.content, ["", ""], rows, fractions, header=False, size=pt))
                == 1
            ),
            12.0,
        )
        self.table_slides(
            "Method", ["", ""], rows, fractions, name="Method table", header=False, size=size
        )
        if len(roles) > ROLE_ROWS_IN_METHOD:
            self.table_slides(
                "Speaker roles: who was treated as interviewer",
                ["Documents", "Interviewer", "Participants", "How it was decided"],
                roles,
                [0.2, 0.14, 0.26, 0.4],
                name="Roles table",
                header=True,
                size=12,
            )

    def appendix_slides(self) -> None:
        claims = has_claims(self.spec)
        csv = self.spec.findings_csv
        for g in appendix_groups(self.spec):
            asked = any(f.prompt for f in g.rows)
            head = appendix_head(claims, asked)
            widths = {"Code": 0.13, "Document · speaker": 0.12, "Asked": 0.2, "Quote": 0.49}
            widths |= {"Claim": 0.18, "Conf.": 0.06}
            total = sum(widths[h] for h in head)
            fractions = [widths[h] / total for h in head]
            where = f"in {csv} beside this deck" if csv else "in the report"
            note = (
                f"All {len(g.rows)} findings of this group."
                if len(g.rows) == g.total
                else f"The {len(g.rows)} most confident (one per document first); "
                f"all {g.total} {where}."
            )
            add_table_slides(
                self._noted_slide(note),
                self._below_note(note),
                f"Appendix: {g.title}",
                head,
                [appendix_cells(f, claims, asked) for f in g.rows],
                fractions,
                name="Appendix table",
                header=True,
                size=TABLE_PT,
                glyph=APPENDIX_GLYPH,
            )

    def _below_note(self, note: str) -> Box:
        c = self.content
        h = text_height([(note, 12)], c.width) + int(Inches(0.05))
        return Box(c.left, c.top + h, c.width, c.height - h)

    def _noted_slide(self, note: str) -> Callable[[str, Sequence[str]], Slide]:
        def make(title: str, notes: Sequence[str]) -> Slide:
            slide = self.new_slide(title, [*notes, note])
            c = self.content
            box = Box(c.left, c.top, c.width, text_height([(note, 12)], c.width))
            add_textbox(slide, box, [[Run(note, size=12, colour=MUTED)]], name="Appendix note")
            return slide

        return make

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
        """The documents outside the themes, each with why: those that fit no theme, then
        those not analysed (another language). None: said in the method table instead."""
        s = self.spec
        docs = s.unassigned
        if not docs and not s.not_analysed:
            return
        title = f"Documents that fit no theme: {len(docs)} of {s.n_documents}"
        if s.not_analysed:
            title += f"; not analysed: {len(s.not_analysed)}"
        rows = [[d, s.unassigned_reasons.get(d) or "fits no theme"] for d in docs]
        rows += [[d, f"not analysed: {why}"] for d, why in s.not_analysed.items()]
        self.table_slides(
            title,
            ["Document", "Why it is outside the themes"],
            rows,
            [0.3, 0.7],
            name="Outside table",
            header=True,
            size=14,
        )


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
    for part in spec.parts:  # the question answered part by part
        deck.themes.part(part)
    if spec.themes:
        deck.overview_slide()
        deck.chart_slides()
    for theme in spec.themes:
        deck.themes.slides(theme)
    deck.unassigned_slides()
    deck.method_slides()
    deck.appendix_slides()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    deck.prs.save(str(out_path))
    return out_path
