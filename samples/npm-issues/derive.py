"""Derive the tickets sample (tickets.jsonl) from the InEx-Bug npm issues corpus.

    python samples/npm-issues/derive.py ../shared/corpora/npm-issues/issues.jsonl

Deterministic: from the three projects below, the first issues (in file order) whose
title, body and comments together stay under 6,000 characters, four of each
classification per project (Intrinsic, Extrinsic, Not a Bug). Titles, bodies and
comments are copied unchanged; labels are reduced to their names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PROJECTS = ("axios", "rollup", "prettier")
CLASSES = ("Intrinsic", "Extrinsic", "Not a Bug")
PER_CLASS = 4
MAX_CHARS = 6000


def derive(source: Path) -> list[dict[str, object]]:
    picked: list[dict[str, object]] = []
    counts: dict[tuple[str, str], int] = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        key = (r["repo"], r["final_classification"])
        if r["repo"] not in PROJECTS or r["final_classification"] not in CLASSES:
            continue
        size = len(r["title"] or "") + len(r["body"] or "") + len(r["comments_text"] or "")
        if size > MAX_CHARS or counts.get(key, 0) >= PER_CLASS:
            continue
        counts[key] = counts.get(key, 0) + 1
        picked.append(
            {
                "id": f"{r['repo']}-{r['number']}",
                "project": f"{r['owner']}/{r['repo']}",
                "url": r["html_url"],
                "title": r["title"],
                "body": r["body"] or "",
                "labels": [lab["name"] for lab in r["labels"] if isinstance(lab, dict)],
                "classification": r["final_classification"],
                "created_at": r["created_at"],
                "closed_at": r["closed_at"],
                "comments_text": r["comments_text"] or "",
            }
        )
    return picked


def main() -> None:
    source = Path(sys.argv[1])
    out = Path(__file__).with_name("tickets.jsonl")
    rows = derive(source)
    out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    print(f"{len(rows)} tickets -> {out}")


if __name__ == "__main__":
    main()
