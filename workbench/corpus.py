"""A loaded corpus: its documents, what was skipped and why, and a content hash."""

from __future__ import annotations

import hashlib
import html
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.types import Document, SkippedFile
from workbench.errors import UserError

_NOUNS = {
    "conversation": "conversations",
    "ticket": "tickets",
    "code": "files",
    "text": "documents",
}


@dataclass
class Corpus:
    """Documents loaded from a file or folder, with the loader's report kept."""

    path: Path
    documents: list[Document]
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Corpus:
        from retrieval import RetrievalError, load_corpus

        p = Path(path).expanduser()
        if not p.exists():
            raise UserError(f"corpus path not found: {p}. Give a file or a folder of documents.")
        try:
            report = load_corpus(p)
        except RetrievalError as e:
            raise UserError(str(e)) from e
        if not report.documents:
            listed = "; ".join(f"{s.path} ({s.reason})" for s in report.skipped[:10])
            raise UserError(
                f"no documents could be loaded from {p}"
                + (f". Skipped: {listed}" if listed else ": the folder is empty")
            )
        docs = sorted(report.documents, key=lambda d: d.id)
        return cls(
            path=p, documents=docs, skipped=list(report.skipped), warnings=list(report.warnings)
        )

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
