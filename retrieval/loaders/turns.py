"""Speaker turns from lines of text, in the layouts transcription and QDA tools write.

One parser for every line-based transcript (plain text, Word, PDF text), so that a
format is recognised the same way whatever file carries it:

    Dana: Mostly CSV.                        inline label (optionally [00:01:10] before
    [00:01:10] Dana: Mostly CSV.             the name or (00:01:10) after it)
    Dana Kerrigan  0:03                      Otter, Teams .docx: name and time on a line,
    Mostly CSV, and it keeps breaking.       the turn's text on the lines below
    Speaker 1 (00:00:03):                    Rev: name, (time), colon, text below
    [Dana Kerrigan] 10:02:33                 Zoom's text export
    Dana:                                    QDA tools' PDF export: the label alone, the
        Mostly CSV, and it keeps             text below, wrapped over several lines
    0:0:0.0 --> 0:0:5.120                    older Teams .docx: a cue time, the name on
    Dana Kerrigan                            its own line, then the text
    Mostly CSV.

A label is trusted as a speaker when it carries a time, recurs in the document, or is a
short capitalised name; otherwise the line is text (so "the plan was:" at the end of a
wrapped line never becomes a speaker). Lines that continue a turn are joined with a
space, or with nothing after a word broken at a hyphen ("multi-" + "dimensional").
`parse_turns` returns None when the lines do not read as a transcript.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from retrieval.loaders._build import Part

TS = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
# a name starts with a letter; then letters, digits, spaces and . ' ’ - (up to 40 characters)
_NAME = r"[^\W\d_][\w.'’\- ]{0,40}?"
INLINE = re.compile(
    rf"^\s*(?:[\[(]?(?P<ts1>{TS})[\])]?\s+)?(?P<speaker>{_NAME})\s*"
    rf"(?:[\[(](?P<ts2>{TS})[\])])?\s*:\s+(?P<text>\S.*)$"
)
# a label line: "[Name] time", "Name  time", "Name (time):", "Name:" (commas only with a time:
# "Kerrigan, Dana  0:03" as Teams writes enterprise names)
HEADER = re.compile(
    rf"^\s*(?:\[(?P<bracketed>[^\]\n]{{1,60}})\]|(?P<name>[^\W\d_][\w.,'’\- ]{{0,50}}?))\s*"
    rf"(?:[\[(]?(?P<ts>{TS})[\])]?)?\s*(?P<colon>:)?\s*$"
)
# cue times: WebVTT/SRT write 00:00:01.000; older Teams transcripts write 0:0:1.0
_CUE_TS = r"(?:\d{1,2}:)?\d{1,2}:\d{1,2}(?:[.,]\d{1,3})?"
CUE_TIME = re.compile(
    rf"^\s*(?P<a>{_CUE_TS})\s*-->\s*(?P<b>{_CUE_TS})(?:\s.*)?$"
)  # settings may follow
_BARE_NAME = re.compile(rf"^\s*(?P<name>{_NAME})\s*$")
_HYPHEN_BREAK = re.compile(r"[^\W\d_]-$")


def parse_timestamp(value: str) -> float:
    value = value.replace(",", ".")
    seconds = 0.0
    for p in value.split(":"):
        seconds = seconds * 60 + float(p)
    return seconds


@dataclass
class Line:
    """A line of text and where it came from (a PDF page, a paragraph)."""

    text: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Label:
    kind: str  # "inline" | "header" | "cue"
    speaker: str
    time: float | None
    text: str = ""  # inline: the turn's first text


@dataclass
class TurnParse:
    parts: list[Part]
    speaker_turns: int
    speakers: Counter[str]
    lines: int


def _name_ok(name: str) -> bool:
    words = name.split()
    return 0 < len(words) <= 5 and len(name) <= 50


def _classify(lines: list[Line]) -> list[_Label | None]:
    out: list[_Label | None] = []
    pending_cue: float | None = None
    for i, line in enumerate(lines):
        text = line.text
        cue = CUE_TIME.match(text)
        if cue:
            pending_cue = parse_timestamp(cue.group("a"))
            out.append(None)
            continue
        if pending_cue is not None:
            bare = _BARE_NAME.match(text)
            nxt = lines[i + 1].text if i + 1 < len(lines) else ""
            if bare and nxt and not CUE_TIME.match(nxt) and _name_ok(bare.group("name")):
                out.append(_Label("cue", bare.group("name").strip(), pending_cue))
                pending_cue = None
                continue
            pending_cue = None
        m = INLINE.match(text)
        if m and _name_ok(m.group("speaker")):
            ts = m.group("ts1") or m.group("ts2")
            out.append(
                _Label(
                    "inline",
                    m.group("speaker").strip(),
                    parse_timestamp(ts) if ts else None,
                    m.group("text").strip(),
                )
            )
            continue
        h = HEADER.match(text)
        if h and (h.group("ts") or h.group("colon")):
            name = (h.group("bracketed") or h.group("name") or "").strip()
            if name and _name_ok(name) and ("," not in name or h.group("ts")):
                ts = h.group("ts")
                out.append(_Label("header", name, parse_timestamp(ts) if ts else None))
                continue
        out.append(None)
    return out


def _trusted(labels: list[_Label | None]) -> set[str]:
    """Labels that name a speaker: timed, recurring, or a short capitalised name."""
    counts = Counter(lab.speaker for lab in labels if lab is not None)
    ok: set[str] = set()
    for lab in labels:
        if lab is None:
            continue
        name = lab.speaker
        if (
            lab.time is not None
            or lab.kind == "cue"
            or counts[name] >= 2
            or (name[:1].isupper() and len(name.split()) <= 3)
        ):
            ok.add(name)
    return ok


def join_line(text: str, more: str) -> str:
    """Continue a turn's text with the next line of it."""
    if not text:
        return more
    if _HYPHEN_BREAK.search(text) and more[:1].islower():
        return text + more
    return text + " " + more


def parse_turns(lines: list[Line]) -> TurnParse | None:
    """Turns of a transcript, or None when the lines do not read as one (module docstring)."""
    lines = [ln for ln in lines if ln.text.strip()]
    if not lines:
        return None
    labels = _classify(lines)
    trusted = _trusted(labels)
    parts: list[Part] = []
    speakers: Counter[str] = Counter()
    inline_lines = 0
    timed_headers = 0
    for line, lab in zip(lines, labels, strict=True):
        # the line under a label is that turn's text, even if it reads "Yes: that one"
        awaiting_text = bool(parts) and parts[-1].speaker is not None and not parts[-1].text
        if (
            lab is not None
            and lab.speaker in trusted
            and not (awaiting_text and lab.kind == "inline")
        ):
            if parts and lab.time is not None and parts[-1].start_time is not None:
                parts[-1].end_time = lab.time
            parts.append(
                Part(
                    text=lab.text,
                    prefix=f"{lab.speaker}: ",
                    speaker=lab.speaker,
                    start_time=lab.time,
                    attrs=dict(line.attrs),
                )
            )
            speakers[lab.speaker] += 1
            inline_lines += lab.kind == "inline"
            timed_headers += lab.kind != "inline" and lab.time is not None
        elif CUE_TIME.match(line.text):
            continue
        elif parts:
            parts[-1].text = join_line(parts[-1].text, line.text.strip())
        else:
            parts.append(Part(text=line.text.strip(), attrs=dict(line.attrs)))
    turns = sum(speakers.values())
    recurring = sum(1 for n in speakers.values() if n >= 2)
    is_transcript = turns >= 2 and (
        inline_lines / len(lines) >= 0.4
        or timed_headers >= 2
        or (recurring >= 2 and turns / len(lines) >= 0.05)
        or (len(speakers) >= 2 and turns / len(lines) >= 0.2)
    )
    if not is_transcript:
        return None
    parts = [p for p in parts if p.text]  # a label with no words under it says nothing
    return TurnParse(parts=parts, speaker_turns=turns, speakers=speakers, lines=len(lines))


def speaker_like_lines(lines: list[Line]) -> int:
    """How many lines look like a speaker label (to say why a file read as plain text)."""
    return sum(1 for lab in _classify([ln for ln in lines if ln.text.strip()]) if lab is not None)


def text_lines(text: str) -> list[Line]:
    return [Line(ln) for ln in text.splitlines()]
