"""A scripted ticket-analyst (triage mode) and theme-synthesizer, answering API bodies.

The triager reads the ticket document blocks ("<segment id>: <text>" lines), picks a
category from the words (crash/error: bug; "would"/"feature"/"support": feature; else
question) and quotes the line that decided it. Tickets named in `bad_quote` get a quote
that is not in the ticket; `unknown` ones get a category that does not exist.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

_ids = itertools.count(1)
TRIAGE_MARK = "You sort support tickets into the team's own categories"


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    content = body["messages"][0]["content"]
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def _system(body: dict[str, Any]) -> str:
    system = body.get("system", [])
    return system if isinstance(system, str) else "\n".join(b.get("text", "") for b in system)


def _tool(name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": f"toolu_tr{next(_ids):06d}", "name": name, "input": data}]


def category_of(text: str) -> str:
    low = text.lower()
    if re.search(r"crash|error|broken|exception|fails", low):
        return "bug"
    if re.search(r"would|feature|support|please|add ", low):
        return "feature"
    return "question"


class TriageResponder:
    def __init__(
        self, *, bad_quote: set[str] | None = None, unknown: set[str] | None = None
    ) -> None:
        self.bad_quote = bad_quote or set()
        self.unknown = unknown or set()
        self.triage_calls: list[dict[str, Any]] = []  # {"tickets": [...], "examples": [...]}
        self.synth_calls = 0

    def __call__(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        system = _system(body)
        docs = [b for b in _blocks(body) if b.get("type") == "document"]
        if TRIAGE_MARK in system:
            return self._triage(docs)
        if "findings" in (docs[0].get("title") or "") if docs else False:
            self.synth_calls += 1
            rows = [json.loads(x) for x in docs[0]["source"]["data"].splitlines() if x]
            return _tool(
                "final_output",
                {
                    "themes": [
                        {
                            "label": "What these tickets are about",
                            "summary": "All of them.",
                            "finding_ids": [r["id"] for r in rows],
                        }
                    ]
                },
            )
        return [{"type": "text", "text": "unknown agent"}]

    def _triage(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        examples = next(d for d in docs if d.get("title") == "labelled examples")
        tickets = [d for d in docs if d is not examples]
        out = []
        ids = []
        for d in tickets:
            lines = [
                m.groups()
                for line in d["source"]["data"].splitlines()
                if (m := re.match(r"^(\S+#\d+)(?: [^:]*)?: (.*)$", line))
            ]
            seg_id, text = lines[-1] if len(lines) > 1 else lines[0]
            doc_id = seg_id.split("#")[0]
            ids.append(doc_id)
            whole = " ".join(t for _, t in lines)
            quote = text[:60].rstrip()
            if doc_id in self.bad_quote:
                quote = "words the reporter never wrote"
            out.append(
                {
                    "doc_id": doc_id,
                    "category": "wishlist" if doc_id in self.unknown else category_of(whole),
                    "confidence": 0.9,
                    "evidence": [{"doc_id": doc_id, "segment_id": seg_id, "quote": quote}],
                    "reason": "from the words",
                }
            )
        self.triage_calls.append(
            {
                "tickets": ids,
                "examples": [json.loads(x) for x in examples["source"]["data"].splitlines() if x],
            }
        )
        return _tool("final_output", {"tickets": out})
