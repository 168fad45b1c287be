"""The deck's theme slides and chart slides (see `exports.deck` for the whole deck).

A theme gets two kinds of slide:

- its overview: prevalence "n of N <documents>" with participants when known, the
  description, the codes with their prevalence, the reviewer's (critic's) notes on the
  theme, and the theme's own chart with a line saying how to read it;
- "in their words": up to `MAX_QUOTES_PER_THEME` quotes as a reader sees them (transcript
  markup removed), each with the prompt that drew it ("Asked by Dan: …") and its
  attribution; a quote too long for the space left is split at word boundaries onto
  "(cont.)" slides, every part still a piece of the quote.

A part of a several-part question ("… and what worries them?") gets the same quote layout
under a line naming the themes that answer it most, each quote tagged with its theme.

Shape names are part of the contract with `exports.checks`: "Quote <i>: <doc_id>" (its
first paragraph that opens with “ is the quote), "Prevalence <theme_id>", "Codes
<theme_id>".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pptx.slide import Slide
from pptx.util import Inches

from exports._pptx import Box, Run, add_textbox, text_height
from exports.spec import ChartSpec, PartSpec, QuoteSpec, ThemeSpec
from exports.style import ACCENT, MUTED, prevalence_label
from exports.text import (
    attribution,
    citation,
    confidence_text,
    part_lead,
    people,
    prompt_line,
    shorten,
    theme_of_quote,
)

if TYPE_CHECKING:
    from exports.deck import _Deck

MAX_QUOTES_PER_THEME = 4
MIN_SPLIT_CHARS = 120  # split a quote across frames only if this much of it fits
QUOTE_PT = 15.0
PROMPT_PT = 11.0
ATTR_PT = 11.0
BODY_PT = 16.0
LEAD_PT = 14.0  # the line above a question part's quotes
FLAG_COLOUR = "#B45F06"  # the reviewer's notes: dark orange, readable on white
MAX_CODES_SHOWN = 8
CODE_DESCRIPTION_CHARS = 120  # on the slide; whole in the notes and the report


def _gap(inches: float) -> int:
    return int(Inches(inches))


class ThemeSlides:
    """Lays out one theme's slides on a `_Deck`."""

    def __init__(self, deck: _Deck) -> None:
        self.deck = deck
        self.interviewers = {r.doc_title: set(r.interviewers) for r in deck.spec.speaker_roles}
        self.code_of = {
            (f.doc_id, f.quote): f.code_label for f in deck.spec.findings if f.code_label
        }

    # ---- chart slides (across themes) -----------------------------------------------------

    def chart_slide(self, chart: ChartSpec, title: str | None = None) -> None:
        d = self.deck
        c = d.content
        caption = chart.caption
        # the box as tall as its text with the frame's margins, the gap above it kept free
        # (a box smaller than its text gets its text shrunk by the viewer)
        cap_h = text_height([(caption, 14)], c.width, inset_emu=_gap(0.05)) if caption else 0
        slide = d.new_slide(
            title or chart.title, [chart.title, caption, chart.alt_text, _chart_source(chart)]
        )
        room = c.height - (cap_h + _gap(0.05) if caption else 0)
        pic = d.picture(slide, chart, Box(c.left, c.top, c.width, room))
        if caption:
            top = int(pic.top + pic.height) + _gap(0.05)
            add_textbox(
                slide,
                Box(c.left, top, c.width, min(cap_h, c.bottom - top)),
                [[Run(caption, size=14, colour=MUTED)]],
                name="Caption",
            )

    # ---- one theme ---------------------------------------------------------------------------

    def slides(self, theme: ThemeSpec) -> None:
        self.overview(theme)
        self.quotes(theme)

    def overview(self, theme: ThemeSpec) -> None:
        d = self.deck
        chart = d.theme_chart(theme)
        c = d.content
        gap = _gap(0.3)
        left_w = c.width if chart is None else int(c.width * 0.46) - gap // 2
        right = Box(c.left + left_w + gap, c.top, c.width - left_w - gap, c.height)
        slide = d.new_slide(theme.label, self.notes(theme))
        noun = d.noun
        stat = prevalence_label(theme.n_documents, theme.total_documents)
        who = people(theme.n_participants, theme.total_participants)
        stat_runs = [Run(stat, size=24, bold=True, colour=ACCENT), Run(f" {noun}", size=18)]
        paras = [stat_runs]
        if who:
            paras.append([Run(who, size=16, colour=MUTED)])
        stat_h = text_height(
            [(stat + f" {noun}", 24), *([(who, 16)] if who else [])], left_w, inset_emu=_gap(0.05)
        )
        add_textbox(slide, Box(c.left, c.top, left_w, stat_h), paras, name=f"Prevalence {theme.id}")
        y = c.top + stat_h + _gap(0.1)
        text = theme.description or theme.summary
        flags = [f"Reviewer: {f}" for f in theme.flags]
        code_lines = self._code_lines(theme)
        # the largest sizes at which description, codes and flags fit under the stat
        tiers = [(BODY_PT, 13.0), (14.0, 12.0), (13.0, 11.0), (12.0, 10.0)]
        options = [(b, sm, True) for b, sm in tiers] + [(12.0, 10.0, False)]
        for body, small, with_desc in options:
            parts = [(text, body)]
            parts += [
                (line, small if k == 0 else small - 1)
                for code in code_lines
                for k, line in enumerate(code[: 2 if with_desc else 1])
            ]
            parts += [(f, small) for f in flags]
            need = text_height(parts, left_w, inset_emu=_gap(0.05)) + _gap(0.4)
            if need <= c.bottom - y:
                break
        desc_h = text_height([(text, body)], left_w, inset_emu=_gap(0.05))
        add_textbox(
            slide, Box(c.left, y, left_w, desc_h), [[Run(text, size=body)]], name="Description"
        )
        y += desc_h + _gap(0.12)
        if code_lines:
            paras = [[Run("Codes", size=small, bold=True, colour=MUTED)]]
            heights = [("Codes", small)]
            for code in code_lines:
                paras.append([Run(code[0], size=small, bold=True)])
                heights.append((code[0], small))
                if with_desc and len(code) > 1:
                    paras.append([Run(code[1], size=small - 1, colour=MUTED)])
                    heights.append((code[1], small - 1))
            flags_h = text_height([(f, small) for f in flags], left_w) if flags else 0
            codes_h = min(
                text_height(heights, left_w, inset_emu=_gap(0.05)), c.bottom - y - flags_h
            )
            add_textbox(slide, Box(c.left, y, left_w, codes_h), paras, name=f"Codes {theme.id}")
            y += codes_h + _gap(0.08)
        if flags:
            add_textbox(
                slide,
                Box(c.left, y, left_w, max(_gap(0.3), c.bottom - y)),
                [[Run(f, size=small, colour=FLAG_COLOUR)] for f in flags],
                name="Reviewer notes",
            )
        if chart is not None:
            cap = chart.caption
            cap_h = text_height([(cap, 12)], right.width, inset_emu=_gap(0.05)) if cap else 0
            room = right.height - (cap_h + _gap(0.05) if cap else 0)
            pic = d.picture(slide, chart, Box(right.left, right.top, right.width, room))
            if cap:
                top = int(pic.top + pic.height) + _gap(0.05)
                add_textbox(
                    slide,
                    Box(right.left, top, right.width, min(cap_h, c.bottom - top)),
                    [[Run(cap, size=12, colour=MUTED)]],
                    name="Caption",
                )

    def _code_lines(self, theme: ThemeSpec) -> list[list[str]]:
        """Per code: its label with prevalence, and its description."""
        noun = self.deck.noun
        lines = []
        for code in theme.codes[:MAX_CODES_SHOWN]:
            n = prevalence_label(code.n_documents, theme.total_documents)
            who = f", {code.n_participants} participants" if code.n_participants else ""
            head = f"{code.label}: {n} {noun}{who}"
            desc = shorten(code.description, CODE_DESCRIPTION_CHARS)
            lines.append([head, desc] if desc else [head])
        if len(theme.codes) > MAX_CODES_SHOWN:
            lines.append([f"and {len(theme.codes) - MAX_CODES_SHOWN} more codes (in the report)"])
        return lines

    def quotes(self, theme: ThemeSpec) -> None:
        self.quote_slides(
            f"{theme.label}: in their words",
            theme.quotes[:MAX_QUOTES_PER_THEME],
            self.notes(theme),
            empty="No verbatim quote was kept for this theme.",
        )

    def part(self, part: PartSpec) -> None:
        """One part of the question: the themes that answer it most, then its best quotes
        (each tagged with its theme)."""
        d = self.deck
        lead = part_lead(part, d.spec.themes, d.noun)
        notes = [f"Part of the question: {part.question}"]
        notes += [lead] if lead else []
        notes.append("Citations:")
        notes += [f"[{i}] “{q.shown}” — {citation(q)}" for i, q in enumerate(part.quotes, 1)] or [
            "(none)"
        ]
        self.quote_slides(
            part.question,
            part.quotes[:MAX_QUOTES_PER_THEME],
            notes,
            empty="No finding answers this part of the question.",
            lead=lead,
            tag="theme",
        )

    def quote_slides(
        self,
        title: str,
        quotes: Sequence[QuoteSpec],
        notes: Sequence[str],
        *,
        empty: str,
        lead: str | None = None,
        tag: str = "code",
    ) -> None:
        """`quotes` in two balanced columns under an optional `lead` line, split onto
        "(cont.)" slides when they do not fit; each attributed with its code or theme."""
        d = self.deck
        c = d.content
        slide = d.new_slide(title, notes)
        top = c.top
        if lead:
            lead_h = text_height([(lead, LEAD_PT)], c.width, inset_emu=_gap(0.05))
            add_textbox(
                slide,
                Box(c.left, top, c.width, lead_h),
                [[Run(lead, size=LEAD_PT, colour=MUTED)]],
                name="Lead",
            )
            top += lead_h + _gap(0.15)
        if not quotes:
            note = Run(empty, size=14, italic=True, colour=MUTED)
            add_textbox(slide, Box(c.left, top, c.width, _gap(0.6)), [[note]])
            return
        gap = _gap(0.35)
        col = (c.width - gap) // 2
        lefts = [c.left, c.left + col + gap]
        ys = [top, top]  # how far down each column of this slide is filled
        page, k = slide, 1
        for i, q in enumerate(quotes, 1):
            rest, first = q.shown, True
            while rest:
                prompt = self.prompt(q) if first else None
                whole = self._height(rest, q, prompt, False, col, tag)
                roomiest = min(range(2), key=lambda j: (ys[j], j))
                fits = [
                    j
                    for j in sorted(range(2), key=lambda j: (ys[j], j))
                    if ys[j] + whole <= c.bottom
                ]
                if fits:
                    j, part, h = fits[0], rest, whole
                else:
                    # as much of the quote as fits in the roomier column, every part a piece
                    # of the quote; at the top of an empty column it must be split there
                    j = roomiest
                    empty_col = ys[j] == top
                    part, h = self._fit(rest, q, prompt, col, c.bottom - ys[j], empty_col, tag)
                    if not part:
                        k += 1
                        more = "" if k == 2 else f" {k - 1}"
                        page = d.new_slide(f"{title} (cont.{more})", notes)
                        top = c.top
                        ys = [top, top]
                        continue
                rest = rest[len(part) :].lstrip()
                self._quote_box(
                    page, Box(lefts[j], ys[j], col, h), q, prompt, part, bool(rest), i, tag
                )
                ys[j] = c.bottom if rest else ys[j] + h + _gap(0.2)
                first = False

    def prompt(self, q: QuoteSpec) -> str | None:
        return prompt_line(q, self.interviewers)

    def _attr(self, q: QuoteSpec, cont: bool, tag: str = "code") -> str:
        if tag == "code":
            label = self.code_of.get((q.doc_id, q.text))
        else:
            label = theme_of_quote(self.deck.spec, q)
        return (
            attribution(q)
            + (f" · {tag}: {label}" if label else "")
            + (" (quote continues)" if cont else "")
        )

    def _height(
        self,
        part: str,
        q: QuoteSpec,
        prompt: str | None,
        cont: bool,
        width: int,
        tag: str = "code",
    ) -> int:
        paras = [("“" + part + "”", QUOTE_PT), (self._attr(q, cont, tag), ATTR_PT)]
        if prompt:
            paras.insert(0, (prompt, PROMPT_PT))
        return text_height(paras, width, inset_emu=_gap(0.05))

    def _fit(
        self,
        text: str,
        q: QuoteSpec,
        prompt: str | None,
        width: int,
        avail: int,
        force: bool,
        tag: str = "code",
    ) -> tuple[str, int]:
        """The longest word-boundary prefix of `text` that fits in `avail`; "" when too little
        of it fits to be worth splitting here (unless `force`: an empty continuation slide)."""
        ends = [m.end() for m in re.finditer(r"\S+", text)]
        lo, hi = 0, len(ends)  # invariant: text[: ends[lo - 1]] fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._height(text[: ends[mid - 1]], q, prompt, True, width, tag) <= avail:
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
        return part, min(avail, self._height(part, q, prompt, True, width, tag))

    def _quote_box(
        self,
        slide: Slide,
        box: Box,
        q: QuoteSpec,
        prompt: str | None,
        part: str,
        cont: bool,
        i: int,
        tag: str = "code",
    ) -> None:
        paras = [
            [
                Run("“", size=QUOTE_PT, italic=True),
                Run(part, size=QUOTE_PT, italic=True),
                Run("”", size=QUOTE_PT, italic=True),
            ],
            [Run(self._attr(q, cont, tag), size=ATTR_PT, colour=MUTED)],
        ]
        if prompt:
            paras.insert(0, [Run(prompt, size=PROMPT_PT, colour=MUTED)])
        add_textbox(slide, box, paras, name=f"Quote {i}: {q.doc_id}")

    def notes(self, theme: ThemeSpec) -> list[str]:
        noun = self.deck.noun
        who = people(theme.n_participants, theme.total_participants)
        lines = [
            f"Theme: {theme.label} ({theme.id})",
            f"Prevalence: {prevalence_label(theme.n_documents, theme.total_documents)} {noun}"
            + (f"; {who}" if who else "")
            + ".",
            f"Confidence: {confidence_text(theme.confidence)}",
        ]
        if theme.description:
            lines.append(f"Description: {theme.description}")
        lines.append(f"Insight: {theme.summary}")
        if theme.keywords:
            lines.append("Keywords: " + ", ".join(theme.keywords))
        for code in theme.codes:
            lines.append(
                f"Code: {code.label}: "
                f"{prevalence_label(code.n_documents, theme.total_documents)} {noun}"
                + (f", {code.n_participants} participants" if code.n_participants else "")
                + (f". {code.description}" if code.description else "")
            )
            lines += [f"    “{q.shown}” — {citation(q)}" for q in code.quotes]
        lines += [f"Reviewer: {f}" for f in theme.flags]
        lines.append("Citations:")
        for i, q in enumerate(theme.quotes, 1):
            asked = prompt_line(q, self.interviewers, None)
            lines.append(f"[{i}] “{q.shown}” — {citation(q)}" + (f" ({asked})" if asked else ""))
        if not theme.quotes:
            lines.append("(none)")
        return lines


def _chart_source(chart: ChartSpec) -> str:
    how = [f"drawn by {chart.code_path}" if chart.code_path else ""]
    how.append(f"from {chart.data_path}" if chart.data_path else "")
    return ", ".join(h for h in how if h)


def theme_chart_ids(themes: Sequence[ThemeSpec]) -> set[str]:
    return {t.chart_id for t in themes if t.chart_id}
