"""Loaders for tickets: .csv and .jsonl, one Document per record.

Segments are the ticket's fields in order: title, body, then each comment (with its
author as speaker). A comment by the tracker's maintainers or a bot gets `attrs["role"] =
"maintainer"`: GitHub's author association OWNER, MEMBER or COLLABORATOR (an author object's
`author_association`, or the `[MEMBER]` tag in a flattened comment's head), or a bot
account (`name[bot]`, or an author of type Bot). Their replies are prompts the reporter
answers, never evidence of what users say; CONTRIBUTOR (someone with an earlier commit) and
NONE stay the users' voices. The remaining scalar columns become document metadata and attributes
of every segment, so they work as filters (plan, priority, label, company size...).
A field map names the columns when the defaults do not find them:
{"id": ..., "title": ..., "body": ..., "comments": ..., "author": ...}.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from retrieval.errors import UserInputError
from retrieval.loaders._build import Part, build_document, scalar_metadata
from retrieval.types import Document

ID_KEYS = ("id", "number", "key", "ticket_id", "issue_id")
TITLE_KEYS = ("title", "subject", "summary", "name")
BODY_KEYS = ("body", "description", "text", "content", "message")
COMMENT_KEYS = ("comments", "comments_text", "replies", "notes")
AUTHOR_KEYS = ("author", "user", "reporter", "username", "created_by")
_COMMENT_SPLIT = re.compile(r"\n\s*---+\s*\n")
_COMMENT_HEAD = re.compile(
    r"^\s*(?P<tags>(?:\[[^\]]*\]\s*)*)(?P<author>[\w.\-]+(?:\[bot\])?):\s*\n"
)
MAINTAINER_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _pick(record: dict[str, Any], explicit: str | None, keys: tuple[str, ...]) -> str | None:
    if explicit is not None:
        return explicit if explicit in record else None
    lower = {k.lower(): k for k in record}
    return next((lower[k] for k in keys if k in lower), None)


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("username") or value.get("login") or value.get("name")
    return str(value) if value not in (None, "") else None


def _maintainer(name: str | None, association: Any = None, kind: Any = None) -> bool:
    """Is this comment a maintainer's or a bot's (see the module docstring)?"""
    if isinstance(association, str) and association.strip().upper() in MAINTAINER_ASSOCIATIONS:
        return True
    return (name or "").lower().endswith("[bot]") or str(kind or "").lower() == "bot"


def _comments(value: Any) -> list[tuple[str | None, str, dict[str, Any]]]:
    """(author, text, attrs) for a comments field: a list of objects/strings or one string."""
    out: list[tuple[str | None, str, dict[str, Any]]] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                body_key = _pick(item, None, BODY_KEYS)
                text = str(item.get(body_key) or "") if body_key else ""
                author_key = _pick(item, None, AUTHOR_KEYS)
                who = item.get(author_key) if author_key else None
                author = _name(who)
                attrs = {k: v for k, v in item.items() if k == "created_at" and isinstance(v, str)}
                by = who if isinstance(who, dict) else {}
                association = by.get("author_association", item.get("author_association"))
                if _maintainer(author, association, by.get("type")):
                    attrs["role"] = "maintainer"
                out.append((author, text.strip(), attrs))
            elif item not in (None, ""):
                out.append((None, str(item).strip(), {}))
    elif isinstance(value, str) and value.strip():
        for piece in _COMMENT_SPLIT.split(value):
            m = _COMMENT_HEAD.match(piece)
            author = m.group("author") if m else None
            tags = re.findall(r"\[([^\]]*)\]", m.group("tags")) if m else []
            head: dict[str, Any] = {}
            if any(_maintainer(author, t) for t in tags) or _maintainer(author):
                head["role"] = "maintainer"
            stamp = next((t for t in tags if _STAMP.match(t)), None)
            if stamp is not None:
                head["created_at"] = stamp
            # the head (time, association, author) is the segment's speaker and attributes;
            # the text is what the comment says
            text = piece[m.end() :] if m and piece[m.end() :].strip() else piece
            out.append((author, text.strip(), head))
    return [c for c in out if c[1]]


def record_to_document(
    record: dict[str, Any],
    *,
    base_id: str,
    row: int,
    source_path: str,
    field_map: dict[str, str],
) -> Document:
    id_key = _pick(record, field_map.get("id"), ID_KEYS)
    title_key = _pick(record, field_map.get("title"), TITLE_KEYS)
    body_key = _pick(record, field_map.get("body"), BODY_KEYS)
    comments_key = _pick(record, field_map.get("comments"), COMMENT_KEYS)
    if comments_key is None and "comments_text" in record and field_map.get("comments") is None:
        comments_key = "comments_text"
    # prefer a list of comment objects over a flattened text when both exist
    if comments_key == "comments_text" and isinstance(record.get("comments"), list):
        comments_key = "comments"
    author_key = _pick(record, field_map.get("author"), AUTHOR_KEYS)
    if title_key is None and body_key is None:
        raise UserInputError(
            f"{source_path}: record {row} has no title or body field (looked for "
            f"{', '.join(TITLE_KEYS + BODY_KEYS)}); pass field_map={{'title': ..., 'body': ...}}."
        )
    ticket_id = (
        str(record.get(id_key)) if id_key and record.get(id_key) not in (None, "") else str(row)
    )
    doc_id = f"{base_id}/{ticket_id}"
    used = {
        k for k in (id_key, title_key, body_key, "comments", "comments_text", comments_key) if k
    }
    metadata = scalar_metadata(record, used)
    labels = record.get("labels")
    if isinstance(labels, list):
        names = [_name(lab) for lab in labels]
        metadata["labels"] = ", ".join(n for n in names if n)
    author = _name(record.get(author_key)) if author_key else None
    metadata["ticket_id"] = ticket_id
    attrs = {k: v for k, v in metadata.items() if k != "labels"}
    parts: list[Part] = []
    title = str(record.get(title_key) or "").strip() if title_key else ""
    if title:
        parts.append(Part(text=title, prefix="Title: ", attrs={**attrs, "field": "title"}))
    body = str(record.get(body_key) or "").strip() if body_key else ""
    if body:
        parts.append(
            Part(text=body, prefix="Body: ", speaker=author, attrs={**attrs, "field": "body"})
        )
    for n, (who, text, extra) in enumerate(
        _comments(record.get(comments_key)) if comments_key else []
    ):
        parts.append(
            Part(
                text=text,
                prefix=f"Comment by {who}: " if who else "Comment: ",
                speaker=who,
                attrs={**attrs, **extra, "field": "comment", "comment": n},
            )
        )
    return build_document(
        doc_id=doc_id,
        kind="ticket",
        title=title or f"{base_id} #{ticket_id}",
        source_path=source_path,
        parts=parts,
        separator="\n\n",
        metadata=metadata,
    )


def load_jsonl(
    text: str, *, base_id: str, source_path: str, field_map: dict[str, str]
) -> list[Document]:
    docs: list[Document] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserInputError(
                f"{source_path}: invalid JSON on line {lineno} (column {exc.colno}): {exc.msg}. "
                "Each line of a .jsonl file must be one JSON object."
            ) from exc
        if not isinstance(record, dict):
            raise UserInputError(f"{source_path}: line {lineno} is not a JSON object.")
        docs.append(
            record_to_document(
                record, base_id=base_id, row=lineno, source_path=source_path, field_map=field_map
            )
        )
    return docs


class _RaggedError(Exception):
    """A row whose field count differs from the header's (`load_csv` may try another dialect)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_FIELD_LIMIT = threading.Lock()


@contextlib.contextmanager
def _field_limit(at_least: int) -> Iterator[None]:
    """Python's csv refuses a field over 131,072 characters by default, and its limit is one
    value for the whole process. A real issue body can be longer (207,856 characters in the
    NLBSE tickets): the limit is raised to the text's length (no field is longer) while this
    file is parsed, then put back, so the rest of the process keeps its own limit."""
    with _FIELD_LIMIT:
        before = csv.field_size_limit()
        if at_least > before:
            csv.field_size_limit(at_least)
        try:
            yield
        finally:
            csv.field_size_limit(before)


def _dialects(text: str) -> list[type[csv.Dialect] | csv.Dialect]:
    """The dialect sniffed from the file's head, then the standard one (with the sniffed
    delimiter, then with a comma). The sniffer sees only 4 KB and can guess wrong (quotes
    doubled inside a quoted field read as the end of it), so the standard way of quoting is
    tried when the sniffed one gives rows of the wrong length."""
    out: list[type[csv.Dialect] | csv.Dialect] = []
    try:
        sniffed = csv.Sniffer().sniff(text[:4096], ",;\t|")
    except csv.Error:
        sniffed = None
    if sniffed is not None:
        out.append(sniffed)
        delimiter = sniffed.delimiter
        if delimiter != ",":

            class Standard(csv.excel):
                pass

            Standard.delimiter = delimiter
            out.append(Standard)
    out.append(csv.excel)
    return out


def load_csv(
    text: str, *, base_id: str, source_path: str, field_map: dict[str, str]
) -> list[Document]:
    """One document per record. A ragged table under the sniffed dialect is read again with
    the standard one (`_dialects`); the first error is reported when none reads it."""
    first: Exception | None = None
    with _field_limit(len(text) + 1):
        for dialect in _dialects(text):
            try:
                return _read_csv(text, dialect, base_id, source_path, field_map)
            except (_RaggedError, csv.Error) as exc:
                first = first or exc
    if isinstance(first, _RaggedError):
        raise UserInputError(first.message)
    raise UserInputError(f"{source_path}: malformed CSV at {first}.")


def _read_csv(
    text: str,
    dialect: type[csv.Dialect] | csv.Dialect,
    base_id: str,
    source_path: str,
    field_map: dict[str, str],
) -> list[Document]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    try:
        header = next(reader, None)
        if not header:
            return []
        header = [h.strip() for h in header]
        records: list[dict[str, str]] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                fix = (
                    "quote fields that contain the delimiter"
                    if len(row) > len(header)
                    else "a field is missing, or a quoted field runs over into the next line"
                )
                raise _RaggedError(
                    f"{source_path}: line {reader.line_num} has {len(row)} fields but the header "
                    f"has {len(header)}; {fix}."
                )
            records.append(dict(zip(header, row, strict=False)))
    except csv.Error as exc:
        raise csv.Error(f"line {reader.line_num}: {exc}") from exc
    # a record without an id column is named by its number (1 = the first after the
    # header), not by a line: a quoted field spans many lines
    return [
        record_to_document(
            record, base_id=base_id, row=number, source_path=source_path, field_map=field_map
        )
        for number, record in enumerate(records, start=1)
    ]
