"""A loaded corpus: its documents, what was skipped and why, and a content hash."""

from __future__ import annotations

import hashlib
import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.roles import RoleSettings, SpeakerRoles
from retrieval.types import Document, SkippedFile
from workbench.core.errors import UserError

# how a user raises the limit per file (what the loader's skip reason tells them to do)
MAX_FILE_SETTING = "max_file_mib in .workbench/config.toml (or --max-file-mib)"

_NOUNS = {
    "conversation": "conversations",
    "ticket": "tickets",
    "code": "files",
    "text": "documents",
}


@dataclass
class Corpus:
    """Documents loaded from a file or folder, with the loader's report kept.

    Loading also reads what the analysis needs to know about each document: who
    interviews and who participates in a conversation (`roles`, see `retrieval.roles`),
    who answers on a ticket tracker (maintainers, agents, bots: `retrieval.ticket_roles`),
    text that recurs across many documents (an interview guide, a ticket template:
    `Segment.attrs["recurring"]`, never evidence), and the language of each document
    (`other_language`: documents in another language than English, which the offline
    engine lists instead of analysing).
    """

    path: Path
    documents: list[Document]
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    roles: dict[str, SpeakerRoles] = field(default_factory=dict)
    other_language: dict[str, str] = field(default_factory=dict)
    role_settings: RoleSettings = field(default_factory=RoleSettings)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        roles: RoleSettings | None = None,
        max_file_bytes: int | None = None,
    ) -> Corpus:
        """Load `path`; a file over `max_file_bytes` (default 20 MiB: the project setting
        `max_file_mib`) is skipped with the reason."""
        from retrieval import RetrievalError, load_corpus
        from retrieval.loaders import DEFAULT_MAX_FILE_BYTES

        p = Path(path).expanduser()
        if not p.exists():
            raise UserError(f"corpus path not found: {p}. Give a file or a folder of documents.")
        try:
            report = load_corpus(
                p,
                max_file_bytes=max_file_bytes or DEFAULT_MAX_FILE_BYTES,
                max_file_setting=MAX_FILE_SETTING,
            )
        except RetrievalError as e:
            raise UserError(str(e)) from e
        if not report.documents:
            listed = "; ".join(f"{s.path} ({s.reason})" for s in report.skipped[:10])
            raise UserError(
                f"no documents could be loaded from {p}"
                + (f". Skipped: {listed}" if listed else ": the folder is empty")
            )
        docs = sorted(report.documents, key=lambda d: d.id)
        corpus = cls(
            path=p, documents=docs, skipped=list(report.skipped), warnings=list(report.warnings)
        )
        corpus.annotate(roles or RoleSettings())
        return corpus

    def annotate(self, roles: RoleSettings) -> None:
        """Speaker roles, recurring text and languages (see the class docstring)."""
        from retrieval.language import annotate_languages
        from retrieval.recurring import annotate_recurring
        from retrieval.roles import annotate_roles
        from retrieval.ticket_roles import annotate_responders

        self.role_settings = roles
        self.roles = annotate_roles(self.documents, roles)
        responders = annotate_responders(self.documents)
        if responders:
            listed = ", ".join(f"{who} ({n} tickets)" for who, n in list(responders.items())[:8])
            more = f" and {len(responders) - 8} more" if len(responders) > 8 else ""
            self.warnings.append(
                f"treated as maintainers, since they reply across the tracker: {listed}{more}; "
                "their comments are prompts the users answer, not evidence of what users report"
            )
        annotate_recurring(self.documents)
        self.other_language = annotate_languages(self.documents)
        for doc_id, lang in sorted(self.other_language.items()):
            self.warnings.append(
                f"{doc_id}: written in another language ({lang}); the offline engine reads "
                "English, so it lists this document instead of analysing it"
            )
        for doc_id, sr in sorted(self.roles.items()):
            if not sr.confident:
                self.warnings.append(f"{doc_id}: {sr.note}")

    @staticmethod
    def annotation_key(doc: Document) -> str:
        """A hash of what the analysis reads besides a document's text (its roles and its
        recurring spans): part of every task's idempotency key."""
        parts = [json.dumps(doc.metadata.get("speaker_roles"), sort_keys=True)]
        parts += [f"{s.id}:{s.attrs.get('role')}:{s.attrs.get('recurring')}" for s in doc.segments]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def interviewer_summary(self) -> list[dict[str, object]]:
        """Per conversation: who was treated as interviewer, and why (for the outputs)."""
        return [{"doc_id": d, **sr.as_dict()} for d, sr in sorted(self.roles.items())]

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for d in self.documents:
            h.update(f"{d.id}\0{d.content_hash}\n".encode())
        return h.hexdigest()

    @property
    def noun(self) -> str:
        """What to call the documents in prose: 'conversations', 'tickets', 'files'."""
        kinds = Counter(d.kind for d in self.documents)
        kind = kinds.most_common(1)[0][0] if kinds else "text"
        return _NOUNS.get(kind, "documents")

    def by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.documents}

    def __len__(self) -> int:
        return len(self.documents)

    def __repr__(self) -> str:
        return (
            f"Corpus({self.name!r}: {len(self.documents)} {self.noun}, "
            f"{sum(len(d.segments) for d in self.documents)} segments, {len(self.skipped)} skipped)"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(d.title)}</td><td>{d.kind}</td><td>{len(d.segments)}</td></tr>"
            for d in self.documents[:20]
        )
        more = f"<p>… and {len(self.documents) - 20} more</p>" if len(self.documents) > 20 else ""
        skipped = (
            "<p><b>Skipped:</b> "
            + "; ".join(html.escape(f"{s.path} ({s.reason})") for s in self.skipped[:10])
            + "</p>"
            if self.skipped
            else ""
        )
        return (
            f"<div><b>Corpus {html.escape(self.name)}</b>: {len(self.documents)} {self.noun}"
            f"<table><tr><th>document</th><th>kind</th><th>segments</th></tr>{rows}</table>"
            f"{more}{skipped}</div>"
        )
