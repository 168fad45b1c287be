"""Loaders for conversations: meeting/interview transcripts with speakers and timestamps.

Formats: plain-text transcripts ("Speaker: text", optional [hh:mm:ss] timestamps),
WebVTT (with <v Name> voice tags), SRT, JSON turns (QMSum/AMI `meeting_transcripts`,
or any list of turn objects through a field map) and .docx transcripts.
Each speaker turn becomes one Segment; the document text is "Speaker: text" lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from retrieval.errors import UserInputError
from retrieval.loaders._build import Part, build_document, scalar_metadata
from retrieval.loaders.turns import (
    CUE_TIME,
    INLINE,
    TS,
    Line,
    TurnParse,
    parse_timestamp,
    parse_turns,
    text_lines,
)
from retrieval.types import Document

_VOICE = re.compile(r"<v(?:\.[\w.]+)?\s+(?P<name>[^>]+)>")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_MEETING_ID = re.compile(r"^(?P<series>[A-Z]{2}\d{4})(?P<part>[a-z])$")


def parse_turn_text(text: str) -> TurnParse | None:
    """Turns of a plain-text transcript (any layout `retrieval.loaders.turns` knows)."""
    return parse_turns(text_lines(text))


def is_transcript_text(text: str) -> bool:
    return parse_turn_text(text) is not None


def load_transcript_text(
    text: str,
    *,
    doc_id: str,
    title: str,
    source_path: str,
    media_path: str | None = None,
    parsed: TurnParse | None = None,
) -> Document:
    parsed = parsed or parse_turn_text(text)
    if parsed is None:
        raise UserInputError(f"{source_path}: no speaker turns found.")
    return build_document(
        doc_id=doc_id,
        kind="conversation",
        title=title,
        source_path=source_path,
        parts=parsed.parts,
        media_path=media_path,
        metadata={"turns": parsed.speaker_turns, "speakers": len(parsed.speakers)},
    )


def _cue_parts(text: str, display: str) -> list[Part]:
    """Cues of WebVTT or SRT: a timing line, then text lines until a blank line."""
    parts: list[Part] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = CUE_TIME.match(lines[i])
        if not m:
            i += 1
            continue
        start, end = parse_timestamp(m.group("a")), parse_timestamp(m.group("b"))
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        raw = " ".join(body)
        # one cue can hold several voices ("<v A>Yes.</v> <v B>No.</v>"): a part for each
        for speaker, content in _voices(raw):
            # consecutive cues of the same speaker stay separate segments: they carry their
            # own times
            parts.append(
                Part(
                    text=content,
                    prefix=f"{speaker}: " if speaker else "",
                    speaker=speaker,
                    start_time=start,
                    end_time=end,
                )
            )
    if not parts:
        raise UserInputError(f"{display}: no subtitle cues found (expected 'start --> end' lines).")
    return parts


def _voices(raw: str) -> list[tuple[str | None, str]]:
    """(speaker, text) pieces of a cue: WebVTT voice tags (Teams), else "Name: text" (Zoom)."""
    tags = list(_VOICE.finditer(raw))
    pieces: list[tuple[str | None, str]] = []
    if tags:
        lead = _TAG.sub("", raw[: tags[0].start()]).strip()
        if lead:
            pieces.append((None, lead))
        for i, tag in enumerate(tags):
            end = tags[i + 1].start() if i + 1 < len(tags) else len(raw)
            content = _TAG.sub("", raw[tag.end() : end]).strip()
            if content:
                pieces.append((tag.group("name").strip(), content))
        return pieces
    content = _TAG.sub("", raw).strip()
    sm = INLINE.match(content)
    if sm and not (sm.group("ts1") or sm.group("ts2")):
        return [(sm.group("speaker").strip(), sm.group("text").strip())]
    return [(None, content)] if content else []


def load_cues(
    text: str, *, doc_id: str, title: str, source_path: str, media_path: str | None
) -> Document:
    return build_document(
        doc_id=doc_id,
        kind="conversation",
        title=title,
        source_path=source_path,
        parts=_cue_parts(text, source_path),
        media_path=media_path,
    )


TURN_LIST_KEYS = (
    "meeting_transcripts",
    "transcript",
    "turns",
    "utterances",
    "segments",
    "messages",
)
SPEAKER_KEYS = ("speaker", "speaker_name", "name", "role", "author", "user")
TEXT_KEYS = ("content", "text", "utterance", "body", "message")
START_KEYS = ("start", "start_time", "begin", "timestamp")
END_KEYS = ("end", "end_time")


def _pick(record: dict[str, Any], explicit: str | None, candidates: tuple[str, ...]) -> str | None:
    if explicit is not None:
        return explicit
    return next((k for k in candidates if k in record), None)


def find_turns(data: Any, field_map: dict[str, str]) -> list[dict[str, Any]] | None:
    """The list of turn objects in a JSON value, or None when it holds no turns."""
    key = field_map.get("turns")
    if isinstance(data, dict):
        if key is not None:
            value = data.get(key)
            return value if isinstance(value, list) else None
        for k in TURN_LIST_KEYS:
            value = data.get(k)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return value
        return None
    if isinstance(data, list) and data and all(isinstance(x, dict) for x in data[:20]):
        text_key = field_map.get("text")
        first = data[0]
        if (text_key and text_key in first) or any(k in first for k in TEXT_KEYS):
            return data
    return None


def _time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return parse_timestamp(value.strip())
        except ValueError:
            return None
    return None


def load_json_turns(
    data: Any,
    turns: list[dict[str, Any]],
    *,
    doc_id: str,
    title: str,
    source_path: str,
    field_map: dict[str, str],
) -> Document:
    first = turns[0]
    speaker_key = _pick(first, field_map.get("speaker"), SPEAKER_KEYS)
    text_key = _pick(first, field_map.get("text"), TEXT_KEYS)
    start_key = _pick(first, field_map.get("start"), START_KEYS)
    end_key = _pick(first, field_map.get("end"), END_KEYS)
    if text_key is None:
        raise UserInputError(
            f"{source_path}: turn objects have no text field (looked for {', '.join(TEXT_KEYS)}); "
            'pass field_map={"text": "<your field>"}.'
        )
    used = {k for k in (speaker_key, text_key, start_key, end_key) if k}
    parts: list[Part] = []
    for n, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise UserInputError(f"{source_path}: turn {n} is not an object.")
        speaker = turn.get(speaker_key) if speaker_key else None
        speaker = str(speaker).strip() if speaker not in (None, "") else None
        content = str(turn.get(text_key) or "").strip()
        # every turn stays a segment (even an empty one) so segment index == turn index
        parts.append(
            Part(
                text=content,
                prefix=f"{speaker}: " if speaker else "",
                speaker=speaker,
                start_time=_time(turn.get(start_key)) if start_key else None,
                end_time=_time(turn.get(end_key)) if end_key else None,
                attrs=scalar_metadata(turn, used),
            )
        )
    metadata: dict[str, Any] = {}
    if isinstance(data, dict):
        metadata.update(scalar_metadata(data, set()))
    m = _MEETING_ID.match(doc_id.rsplit("/", 1)[-1])
    if m:  # AMI-style meeting ids: series (team) and the meeting's letter in the series
        metadata.setdefault("series", m.group("series"))
        metadata.setdefault("meeting_part", m.group("part"))
    metadata["turns"] = len(parts)
    return build_document(
        doc_id=doc_id,
        kind="conversation",
        title=title,
        source_path=source_path,
        parts=parts,
        metadata=metadata,
    )


def parse_json(text: str, display: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"{display}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}. "
            "Fix or remove the file."
        ) from exc


NO_TURNS = (
    "no speaker turns found (expected lines such as 'Name: text', 'Name  0:03' or "
    "'Speaker 1 (00:00:03):' above the text); loaded as plain text"
)


def _table_lines(table: Any, index: int) -> list[Line]:
    """A transcript laid out as a table: speaker | [time] | text, one row per turn."""
    out: list[Line] = []
    for r, row in enumerate(table.rows):
        cells = [c.text.strip() for c in row.cells]
        # merged cells repeat; a header row ("Speaker | Text") has no sentence in it
        cells = [c for k, c in enumerate(cells) if c and (k == 0 or c != cells[k - 1])]
        if len(cells) < 2 or (r == 0 and all(len(c.split()) <= 2 for c in cells)):
            out.extend(Line(c, {"table": index}) for c in cells)
            continue
        name, text = cells[0], " ".join(cells[1:]).strip()
        times = [c for c in cells[1:-1] if re.fullmatch(TS, c)]
        if times:
            text = cells[-1]
        label = f"{name} ({times[0]})" if times else name
        out.append(Line(f"{label}: {text}", {"table": index}))
    return out


def load_docx(
    path: Path, *, doc_id: str, title: str, source_path: str
) -> tuple[Document, str | None]:
    """A Word document: a transcript when its paragraphs (or a table) hold speaker turns
    in any layout `retrieval.loaders.turns` knows, else paragraphs, with a warning."""
    try:
        import docx  # python-docx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UserInputError(
            f"{source_path}: reading .docx needs the python-docx package (pip install python-docx)."
        ) from exc
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several unrelated types on bad files
        raise UserInputError(f"{source_path}: not a readable .docx file ({exc}).") from exc
    lines: list[Line] = []
    paragraphs: list[str] = []
    for n, block in enumerate(document.iter_inner_content()):
        if hasattr(block, "rows"):
            lines.extend(_table_lines(block, n))
            continue
        text = block.text
        if text.strip():
            paragraphs.append(text.strip())
        lines.extend(Line(ln.strip()) for ln in text.split("\n") if ln.strip())
    parsed = parse_turns(lines)
    if parsed is not None:
        doc = build_document(
            doc_id=doc_id,
            kind="conversation",
            title=title,
            source_path=source_path,
            parts=parsed.parts,
            metadata={"turns": parsed.speaker_turns, "speakers": len(parsed.speakers)},
        )
        return doc, None
    if not paragraphs:
        paragraphs = [ln.text for ln in lines]
    parts = [Part(text=p, attrs={"paragraph": i}) for i, p in enumerate(paragraphs)]
    doc = build_document(
        doc_id=doc_id, kind="text", title=title, source_path=source_path, parts=parts
    )
    return doc, f"{source_path}: {NO_TURNS}."
