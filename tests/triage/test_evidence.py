"""Evidence is the reporter's own words: what a ticket shares with many others (its
template's headings, "No response" fillers, a contributing guide's lines) is not quoted."""

from __future__ import annotations

import random
from pathlib import Path

from tests.triage.data import write_csv
from tests.triage.fakes import HashingEncoder
from workbench.core.settings import TriageSettings
from workbench.triage.labelled import load_labelled, load_tickets
from workbench.triage.offline import OfflineTriager

KEYWORDS = {"bug": "crashes fails freezes broken", "feature": "add support allow option"}
POOL = (
    "exporter window project file chart theme plugin startup update image editor panel "
    "menu shortcut folder search settings build server client cache layout font color"
).split()
OWN: set[str] = set()


def _row(i: int, label: str) -> dict[str, str]:
    rng = random.Random(i)
    words = [*rng.sample(KEYWORDS[label].split(), 2), *rng.sample(POOL, 8)]
    rng.shuffle(words)
    own = " ".join(words).capitalize() + "."  # each ticket's own words
    OWN.add(own)
    body = (
        "### Describe the problem or the idea\n\n"
        f"{own}\n\n"
        "### Additional context\n\n_No response_\n\n"
        f"- [{'x' if i % 3 else ' '}] I searched the existing issues for this one\n\n"
        f"Merge with: https://example.org/pulls/{1000 + i}\n"
    )
    return {"id": f"t{i}", "title": f"ticket {i}", "body": body, "label": label}


def test_template_text_is_not_quoted_and_an_all_template_ticket_still_is(tmp_path: Path) -> None:
    rows = [_row(i, ("bug", "feature")[i % 2]) for i in range(40)]
    cols = ["id", "title", "body", "label"]
    labelled = load_labelled(write_csv(tmp_path / "l.csv", rows, cols), label_column="label")
    triager = OfflineTriager(HashingEncoder(), TriageSettings(), tuner=None)
    triager.fit(labelled)
    new = [_row(100 + i, ("bug", "feature")[i % 2]) for i in range(6)]
    new.append(
        {
            "id": "bare",
            "title": "",
            "body": "### Additional context\n\n_No response_\n",
            "label": "",
        }
    )
    docs = load_tickets(write_csv(tmp_path / "t.csv", new, cols)).documents
    labels = {lab.doc_id: lab for lab in triager.label(docs)}
    bare = next(lab for lab in labels.values() if lab.ticket_id == "bare")
    for lab in labels.values():
        if lab is bare:
            continue
        quoted = [ev.quote for ev in lab.evidence]
        assert quoted and set(quoted) <= OWN, quoted
    assert bare.evidence  # nothing but template: it still shows what decided it
    # the team's own labelled tickets are quoted the same way
    quoted = [ev.quote for ev in triager.explain(labelled.documents[0], "bug")]
    assert quoted and set(quoted) <= OWN, quoted
