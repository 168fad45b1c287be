"""Reading tickets and the labelled examples a team already has, with their bad inputs.

Both files are read by the corpus loader (`retrieval.load_corpus`: .csv, .jsonl, a
folder of them), so a ticket is the same `Document` here as in any other run: a title
segment, a body segment, comment segments, and the other columns as metadata. What the
classifier reads of a ticket is `ticket_text`: the text columns the user names (default:
title and body), in that order.

Bad input is said, never silently dropped:

- the label column missing: an error naming the columns the file has;
- a row with an empty label: not used for training, listed;
- a category with fewer than `min_examples` examples: not learned, named, its rows listed;
- fewer than two learnable categories: an error that says how many labels it found;
- very long tickets are classified from their first `MAX_TEXT_CHARS` characters (said).
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.loaders.tickets import COMMENT_KEYS
from retrieval.types import Document
from workbench.core.errors import UserError

# The classifier reads at most this much of a ticket (title and body first); a 200 KB
# ticket is still classified and its evidence still quoted, from its opening.
MAX_TEXT_CHARS = 20_000
_NO_COLUMN = "\x00"


@dataclass(frozen=True)
class TextColumns:
    """Which columns make up a ticket's text: the first is its title, the second its body.

    One column: it is the body. More than two: the rest are appended from the metadata; a
    comments column (`comments`, `comments_text`, ...) appends the ticket's comments.
    """

    columns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str | Sequence[str] | None) -> TextColumns:
        if value is None:
            return cls()
        items = value.split(",") if isinstance(value, str) else list(value)
        cols = tuple(c.strip() for c in items if c and c.strip())
        if not cols:
            raise UserError("--text-columns is empty; name the columns, e.g. title,body")
        if len(set(cols)) != len(cols):
            raise UserError(f"--text-columns names a column twice: {', '.join(cols)}")
        return cls(cols)

    def field_map(self) -> dict[str, str]:
        if not self.columns:
            return {}
        if len(self.columns) == 1:  # a title key no record has: only the body is text
            return {"body": self.columns[0], "title": _NO_COLUMN}
        return {"title": self.columns[0], "body": self.columns[1]}

    @property
    def extra(self) -> tuple[str, ...]:
        return self.columns[2:]


DEFAULT_COLUMNS = TextColumns()


def ticket_text(doc: Document, columns: TextColumns = DEFAULT_COLUMNS) -> str:
    """What the classifier reads: title, body (and extra text columns), at most MAX_TEXT_CHARS."""
    parts = [s.text for s in doc.segments if s.attrs.get("field") in ("title", "body")]
    for col in columns.extra:
        value = doc.metadata.get(col)
        if isinstance(value, str) and value.strip():
            parts.append(value)
        elif col in COMMENT_KEYS:  # the loader made the comments segments of their own
            parts.extend(s.text for s in doc.segments if s.attrs.get("field") == "comment")
    if not parts:  # no title or body: whatever the ticket has
        parts = [s.text for s in doc.segments]
    return "\n".join(parts)[:MAX_TEXT_CHARS]


def evidence_segments(
    doc: Document, columns: TextColumns = DEFAULT_COLUMNS
) -> list[tuple[str, str]]:
    """(segment id, text) of the parts a category may be quoted from: title and body (and
    the comments, when they are one of the text columns)."""
    fields = {"title", "body"}
    if any(c in COMMENT_KEYS for c in columns.extra):
        fields.add("comment")
    segs = [(s.id, s.text) for s in doc.segments if s.attrs.get("field") in fields]
    return segs or [(s.id, s.text) for s in doc.segments]


def load_tickets(path: str | Path, columns: TextColumns = DEFAULT_COLUMNS) -> LoadedTickets:
    """Tickets from a file or folder, as Documents; what was skipped is kept with why."""
    from retrieval import RetrievalError, load_corpus

    p = Path(path).expanduser()
    if not p.exists():
        raise UserError(f"tickets not found: {p}. Give a .csv or .jsonl file (or a folder).")
    try:
        # long cells (a body with its logs) are the corpus loader's to allow
        report = load_corpus(p, field_map=columns.field_map())
    except RetrievalError as e:
        raise UserError(str(e)) from e
    docs = sorted(report.documents, key=lambda d: d.id)
    header = columns_of(p)
    if columns.columns and header is not None:
        missing = [c for c in columns.columns if c not in header]
        if missing:
            raise UserError(
                f"{p}: no column {', '.join(repr(c) for c in missing)} (--text-columns); "
                f"its columns are: {', '.join(header[:30])}"
            )
    kinds = {d.kind for d in docs}
    if kinds - {"ticket"}:
        raise UserError(
            f"{p}: triage reads tickets (.csv or .jsonl rows); found {', '.join(sorted(kinds))} "
            "documents instead"
        )
    warnings = list(report.warnings)
    long = [d.id for d in docs if len(d.text) > MAX_TEXT_CHARS]
    if long:
        warnings.append(
            f"{len(long)} tickets are longer than {MAX_TEXT_CHARS:,} characters (e.g. {long[0]}); "
            "each is classified from its opening and kept whole in the outputs"
        )
    return LoadedTickets(
        path=p,
        documents=docs,
        skipped=[f"{s.path}: {s.reason}" for s in report.skipped],
        warnings=warnings,
    )


def columns_of(path: Path) -> list[str] | None:
    """The column names of a .csv file (its header) or a .jsonl file (its first record)."""
    import json

    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        if suffix == ".csv":
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
            except csv.Error:
                dialect = csv.excel
            return [h.strip() for h in next(csv.reader(fh, dialect), [])]
        if suffix == ".jsonl":
            for line in fh:
                if line.strip():
                    with contextlib.suppress(json.JSONDecodeError):
                        record = json.loads(line)
                        return [str(k) for k in record] if isinstance(record, dict) else None
                    return None
    return None


@dataclass
class LoadedTickets:
    path: Path
    documents: list[Document]
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class LabelledSet:
    """Labelled examples ready to learn from, and what could not be used, with why."""

    path: Path
    label_column: str
    group_column: str | None
    documents: list[Document]  # the usable examples, in file order
    labels: list[str]
    groups: list[str | None]
    categories: list[str]  # the learnable categories, most frequent first
    unlabelled: list[str] = field(default_factory=list)  # doc ids with an empty label
    too_rare: dict[str, list[str]] = field(default_factory=dict)  # category -> doc ids
    min_examples: int = 3
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = Counter(self.labels)
        return {k: c[k] for k in self.categories}

    def notes(self) -> list[str]:
        """Sentences for the log, the manifest and the report."""
        out = list(self.warnings)
        if self.unlabelled:
            out.append(
                f"{len(self.unlabelled)} labelled-file rows have an empty {self.label_column!r} "
                f"and were not used to learn (e.g. {', '.join(self.unlabelled[:5])})"
            )
        for cat, ids in self.too_rare.items():
            out.append(
                f"category {cat!r} has {len(ids)} labelled example{'s' if len(ids) != 1 else ''}; "
                f"at least {self.min_examples} are needed to learn it, so no ticket is put in it "
                f"(label more tickets as {cat!r}): {', '.join(ids[:5])}"
            )
        out.extend(f"skipped {s}" for s in self.skipped)
        return out


_WS = re.compile(r"\s+")


def normalise_label(value: object) -> str:
    return _WS.sub(" ", str(value if value is not None else "")).strip()


def load_labelled(
    path: str | Path,
    *,
    label_column: str,
    group_column: str | None = None,
    columns: TextColumns = DEFAULT_COLUMNS,
    min_examples: int = 3,
) -> LabelledSet:
    """The labelled examples; raises UserError when nothing learnable is left."""
    if not label_column or not label_column.strip():
        raise UserError("--label-column is empty; name the column that holds the categories")
    loaded = load_tickets(path, columns)
    docs = loaded.documents
    header = columns_of(loaded.path)
    present = set(header) if header is not None else {k for d in docs for k in d.metadata}
    shown = ", ".join(header or sorted(present - {"ticket_id"}))
    if label_column not in present:
        raise UserError(
            f"{loaded.path}: no column {label_column!r} to learn the categories from; "
            f"its columns are: {shown or '(none besides the text)'}. "
            "Pass --label-column with one of them."
        )
    if group_column and group_column not in present:
        raise UserError(
            f"{loaded.path}: no column {group_column!r} (--group-column); its columns are: {shown}"
        )
    usable: list[Document] = []
    labels: list[str] = []
    groups: list[str | None] = []
    unlabelled: list[str] = []
    for d in docs:
        label = normalise_label(d.metadata.get(label_column))
        if not label:
            unlabelled.append(d.id)
            continue
        usable.append(d)
        labels.append(label)
        groups.append(
            normalise_label(d.metadata.get(group_column)) or None if group_column else None
        )
    counts = Counter(labels)
    rare = {c for c, n in counts.items() if n < min_examples}
    too_rare = {
        c: [d.id for d, lab in zip(usable, labels, strict=True) if lab == c] for c in sorted(rare)
    }
    keep = [i for i, lab in enumerate(labels) if lab not in rare]
    categories = [
        c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c not in rare
    ]
    if len(categories) < 2:
        found = ", ".join(f"{c!r} ({n})" for c, n in counts.most_common(10)) or "none"
        raise UserError(
            f"{loaded.path}: need at least two categories with {min_examples} or more labelled "
            f"examples each in {label_column!r}; found {found}"
            + (f" and {len(unlabelled)} rows with an empty label" if unlabelled else "")
            + ". Label more tickets."
        )
    return LabelledSet(
        path=loaded.path,
        label_column=label_column,
        group_column=group_column,
        documents=[usable[i] for i in keep],
        labels=[labels[i] for i in keep],
        groups=[groups[i] for i in keep],
        categories=categories,
        unlabelled=unlabelled,
        too_rare=too_rare,
        min_examples=min_examples,
        skipped=loaded.skipped,
        warnings=loaded.warnings,
    )
