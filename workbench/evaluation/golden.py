"""Golden sets: questions with a scope, a reference answer and gold evidence.

Native format (JSON):

    {"name": "my-set", "corpus": "optional path, relative to this file",
     "items": [{"id": "q1", "question": "...", "scope": {"doc_ids": ["ES2002a"]},
                "reference_answer": "...",
                "gold_spans": [{"doc_id": "ES2002a", "start": 0, "end": 20}],
                "gold_documents": ["ES2002a"], "expected_themes": []}]}

A gold span is an inclusive range of segment indexes (speaker turns, ticket fields) of
one document. The meeting-spans bench files (`shared/bench/meeting-spans-*.json`) are
read directly: item = query, the named meeting as scope, its gold turn spans and its
reference answer; they are parsed by `retrieval.eval.load_bench`, the same reader the
retrieval benchmark uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from workbench.ask.answer import Scope
from workbench.core.errors import UserError
from workbench.runs.store import atomic_write_json


class GoldSpan(BaseModel):
    doc_id: str
    start: int = Field(ge=0)  # segment index, inclusive
    end: int = Field(ge=0)  # segment index, inclusive

    @model_validator(mode="after")
    def _ordered(self) -> GoldSpan:
        if self.end < self.start:
            raise ValueError(f"span end {self.end} is before its start {self.start}")
        return self

    def segment_keys(self) -> set[tuple[str, int]]:
        return {(self.doc_id, i) for i in range(self.start, self.end + 1)}


class GoldenItem(BaseModel):
    id: str
    question: str = Field(min_length=1)
    scope: Scope = Field(default_factory=Scope)
    reference_answer: str | None = None
    gold_spans: list[GoldSpan] = Field(default_factory=list)
    gold_documents: list[str] = Field(default_factory=list)
    expected_themes: list[str] = Field(default_factory=list)
    approved: bool = True  # proposed items wait for a person's approval

    def gold_segments(self) -> set[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        for span in self.gold_spans:
            out |= span.segment_keys()
        return out


class GoldenSet(BaseModel):
    name: str
    source: str = ""  # where the labels come from
    corpus: str | None = None  # a corpus path the set was made for, if it says
    items: list[GoldenItem]

    def approved_items(self) -> list[GoldenItem]:
        return [i for i in self.items if i.approved]

    def save(self, path: str | Path) -> Path:

        p = Path(path)
        atomic_write_json(p, self.model_dump(mode="json"), indent=1)
        return p


def is_meeting_spans(data: Any) -> bool:
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        return False
    return isinstance(items[0], dict) and "gold_turn_spans" in items[0]


def from_meeting_spans(path: Path) -> GoldenSet:
    """A meeting-spans bench file as a golden set (the named meeting is each item's scope)."""
    from retrieval.errors import RetrievalError
    from retrieval.eval import load_bench

    try:
        bench = load_bench(path)
    except RetrievalError as e:
        raise UserError(str(e)) from e
    items = []
    for n, raw in enumerate(bench["items"]):
        if "meeting" not in raw:
            raise UserError(f"{path}: item {n} has gold_turn_spans but no 'meeting'")
        meeting = str(raw["meeting"])
        try:
            items.append(
                GoldenItem(
                    id=str(raw.get("id", f"{meeting}-{n}")),
                    question=str(raw["query"]),
                    scope=Scope(doc_ids=[meeting]),
                    reference_answer=raw.get("reference_answer"),
                    gold_spans=[
                        GoldSpan(doc_id=meeting, start=int(a), end=int(b))
                        for a, b in raw["gold_turn_spans"]
                    ],
                    gold_documents=[meeting],
                )
            )
        except (ValidationError, TypeError, ValueError) as e:
            raise UserError(f"{path}: item {n} ({raw.get('id')}) is malformed: {e}") from e
    return GoldenSet(
        name=str(bench.get("name", path.stem)),
        source=str(bench.get("source", "")),
        items=items,
    )


def load_golden(path: str | Path) -> GoldenSet:
    """Read a golden set (native format) or a meeting-spans bench file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"cannot read the golden set {p}: {e.strerror or e}") from e
    except json.JSONDecodeError as e:
        raise UserError(f"{p}: not valid JSON (line {e.lineno}: {e.msg})") from e
    if is_meeting_spans(data):
        return from_meeting_spans(p)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list) or not data["items"]:
        raise UserError(
            f"{p}: a golden set needs a non-empty 'items' list; each item has 'id', 'question' "
            "and optionally 'scope', 'reference_answer', 'gold_spans', 'gold_documents'"
        )
    data.setdefault("name", p.stem)
    try:
        golden = GoldenSet.model_validate(data)
    except ValidationError as e:
        lines = [
            f"  {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:10]
        ]
        raise UserError(f"{p}: invalid golden set:\n" + "\n".join(lines)) from e
    ids = [i.id for i in golden.items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UserError(f"{p}: item ids must be unique; repeated: {dupes[:5]}")
    if golden.corpus and not Path(golden.corpus).is_absolute():
        golden.corpus = str((p.parent / golden.corpus).resolve())
    return golden
