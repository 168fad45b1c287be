"""PII redaction at ingest: emails, phone numbers and people's names from speaker labels.

Each distinct value gets a stable placeholder ("[EMAIL_1]", "[PHONE_2]", "[PERSON_3]") so
that analysis still sees who said what. The placeholder -> original map is written to a
local JSON file (`map_path`, created with mode 0600, meant to live inside the project's
.workbench directory); it is the only way back (`reveal`), and nothing in this package
sends it anywhere. Limits: pattern-based, so names that are not speaker labels (or listed
in `names`) are not found, and unusual phone formats may be missed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from retrieval.types import Document, Segment

EMAIL = re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)[\s.\-]?)?\d{2,4}(?:[\s.\-]\d{2,4}){2,4}(?!\w)"
)
_ROLE_WORDS = {
    "speaker", "interviewer", "interviewee", "moderator", "participant", "user", "customer",
    "agent", "host", "guest", "manager", "marketing", "designer", "interface", "project",
    "industrial", "reader", "narrator", "unknown", "support", "engineer", "admin", "bot",
}  # fmt: skip


def looks_like_name(label: str) -> bool:
    words = label.split()
    if not 1 <= len(words) <= 4:
        return False
    if any(w.lower() in _ROLE_WORDS for w in words):
        return False
    return all(w[:1].isupper() and w.replace("-", "").replace("'", "").isalpha() for w in words)


class Redactor:
    """Replaces PII with placeholders and keeps the reverse map in a local file."""

    def __init__(
        self,
        map_path: Path | str,
        *,
        emails: bool = True,
        phones: bool = True,
        speaker_names: bool = True,
        names: Iterable[str] = (),
    ) -> None:
        self.map_path = Path(map_path)
        self.emails, self.phones, self.speaker_names = emails, phones, speaker_names
        self._forward: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        if self.map_path.exists():
            saved = json.loads(self.map_path.read_text(encoding="utf-8"))
            for placeholder, original in saved.items():
                self._remember(original, placeholder)
        self._names: set[str] = {n for n in names if n.strip()}

    def _remember(self, original: str, placeholder: str) -> None:
        self._forward[original] = placeholder
        label, _, num = placeholder.strip("[]").rpartition("_")
        self._counts[label] = max(self._counts.get(label, 0), int(num))

    def _placeholder(self, original: str, label: str) -> str:
        if original not in self._forward:
            self._counts[label] = self._counts.get(label, 0) + 1
            self._forward[original] = f"[{label}_{self._counts[label]}]"
        return self._forward[original]

    def _name_pattern(self) -> re.Pattern[str] | None:
        names = set(self._names)
        for full in list(self._names):
            names.update(w for w in full.split() if len(w) > 2)
        if not names:
            return None
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        return re.compile(rf"\b(?:{alternatives})\b")

    def redact_text(self, text: str, pattern: re.Pattern[str] | None = None) -> str:
        if self.emails:
            text = EMAIL.sub(lambda m: self._placeholder(m.group(0), "EMAIL"), text)
        if self.phones:
            text = PHONE.sub(
                lambda m: (
                    self._placeholder(m.group(0), "PHONE")
                    if sum(c.isdigit() for c in m.group(0)) >= 7
                    else m.group(0)
                ),
                text,
            )
        if pattern is not None:
            text = pattern.sub(lambda m: self._placeholder(m.group(0), "PERSON"), text)
        return text

    def redact(self, doc: Document) -> Document:
        """The document with PII replaced; segment offsets recomputed, structure kept."""
        if self.speaker_names:
            self._names.update(
                s.speaker for s in doc.segments if s.speaker and looks_like_name(s.speaker)
            )
        pattern = self._name_pattern()
        pieces: list[str] = []
        segments: list[Segment] = []
        pos = 0
        cursor = 0
        for seg in doc.segments:
            gap = self.redact_text(doc.text[cursor : seg.start_char], pattern)
            pieces.append(gap)
            pos += len(gap)
            body = self.redact_text(seg.text, pattern)
            speaker = seg.speaker
            if speaker and pattern is not None and looks_like_name(speaker):
                speaker = self._placeholder(speaker, "PERSON")
            segments.append(seg.model_copy(update={
                "text": body, "start_char": pos, "end_char": pos + len(body), "speaker": speaker,
            }))  # fmt: skip
            pieces.append(body)
            pos += len(body)
            cursor = seg.end_char
        pieces.append(self.redact_text(doc.text[cursor:], pattern))
        self.save()
        return doc.model_copy(
            update={
                "text": "".join(pieces),
                "segments": segments,
                "title": self.redact_text(doc.title, pattern),
            }
        )

    def reveal(self, text: str) -> str:
        """Puts the originals back (only possible with the local map)."""
        reverse = {p: o for o, p in self._forward.items()}
        return re.sub(
            r"\[(?:EMAIL|PHONE|PERSON)_\d+\]", lambda m: reverse.get(m.group(0), m.group(0)), text
        )

    def save(self) -> None:
        self.map_path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({p: o for o, p in self._forward.items()}, ensure_ascii=False, indent=1)
        tmp = self.map_path.with_name(self.map_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, self.map_path)
