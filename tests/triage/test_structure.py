"""The structure view (template headings, code, traces, question form, length) and the
stacker's weights per group."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from subagents.offline.ticket_structure import (
    FLAG_NAMES,
    StructureVectorizer,
    flags,
    headings,
)
from subagents.offline.triage import ClassifierSettings, TicketClassifier, TicketInput
from tests.triage.fakes import HashingEncoder

BUG_BODY = """### Describe the bug
The export fails on 2.14.1.

**Steps to reproduce**
1. open the file

```
Traceback (most recent call last):
  File "app.py", line 3, in <module>
ValueError: bad value
```
"""


def test_a_hand_made_ticket_s_headings_and_flags() -> None:
    assert headings(BUG_BODY) == ["describe_the_bug", "steps_to_reproduce"]
    f = dict(zip(FLAG_NAMES, flags("Export fails", BUG_BODY), strict=True))
    assert f["code_fence"] == 1 and f["stack_trace"] == 1 and f["version_string"] == 1
    assert f["title_question_mark"] == 0 and f["title_asks"] == 0
    assert f["body_under_200"] == 1 and f["body_200_to_1000"] == 0
    long = dict(zip(FLAG_NAMES, flags("x", "word " * 300), strict=True))
    assert long["body_1000_to_3000"] == 1 and long["body_under_200"] == 0
    q = dict(zip(FLAG_NAMES, flags("How do I export to CSV?", "Is there a way?"), strict=True))
    assert q["title_question_mark"] == 1 and q["title_asks"] == 1 and q["body_question_mark"] == 1
    assert q["code_fence"] == 0 and q["stack_trace"] == 0 and q["body_under_200"] == 1
    # a Java frame and a native backtrace are traces too; a plain sentence is not
    assert flags("x", "crash\n    at com.app.Main.run(Main.java:10)")[2] == 1
    assert flags("x", "#0  0x00007f in main ()")[2] == 1
    assert flags("x", "It breaks when I click the errors tab.")[2] == 0


def test_only_headings_of_several_tickets_become_features() -> None:
    tickets = [("t", BUG_BODY)] * 3 + [("t", "## Proposal\nmore")]
    vec = StructureVectorizer(min_df=3).fit(tickets)
    assert list(vec.vocabulary) == ["describe_the_bug", "steps_to_reproduce"]
    x = vec.transform([("t", "## Steps to Reproduce:\nclick"), ("t", "## Proposal\nx")])
    assert x.shape == (2, 2 + len(FLAG_NAMES)) and len(vec.feature_names) == x.shape[1]
    assert x[0, 1] == 1 and x[0, 0] == 0  # normalised: case and punctuation do not matter
    assert x[1, :2].sum() == 0  # a heading seen once when learning is not a feature
    # no heading seen often enough: the flags alone, no error
    assert StructureVectorizer(min_df=3).fit_transform([("t", "## Once")]).shape == (
        1,
        len(FLAG_NAMES),
    )


def _shaped(n: int, seed: int) -> tuple[list[TicketInput], list[str]]:
    """Tickets whose words say nothing of their category: only their shape does (a bug
    has the bug template and a trace, a question asks in its title, a feature has the
    feature template)."""
    rng = random.Random(seed)
    words = ["editor", "sync", "login", "export", "search", "upload", "the", "panel"]
    tickets, labels = [], []
    for i in range(n):
        label = ["bug", "feature", "question"][i % 3]
        filler = " ".join(rng.choice(words) for _ in range(12))
        title = " ".join(rng.choice(words) for _ in range(4))
        if label == "bug":
            body = f"## Steps to reproduce\n{filler}\n```\nValueError: x\n```"
        elif label == "feature":
            body = f"## Proposed solution\n{filler}"
        else:
            title, body = f"How {title}?", filler
        tickets.append(TicketInput(f"t{seed}-{i}", title, body, group=f"g{i % 2}"))
        labels.append(label)
    return tickets, labels


def test_the_structure_view_alone_learns_categories_from_their_shape() -> None:
    train, y = _shaped(60, seed=1)
    clf = TicketClassifier(HashingEncoder(), ClassifierSettings(views=("structure",)))
    clf.fit(train, y)
    test, gold = _shaped(30, seed=2)
    pred = [p.category for p in clf.predict(test)]
    assert sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold) > 0.9


def test_the_stacker_weighs_views_per_group_and_an_unseen_group_gets_the_shared_weights() -> None:
    train, y = _shaped(60, seed=1)
    s = ClassifierSettings(views=("embed", "structure"), min_group_examples=10)
    clf = TicketClassifier(HashingEncoder(), s)
    clf.fit(train, y)
    # columns: embed pooled + own group, structure pooled + own group (3 classes each) = 12,
    # then those 12 again for each of the two groups
    assert clf._stacker.coef_.shape[1] == 12 * 3
    shared = TicketClassifier(HashingEncoder(), replace(s, stack_per_group=False))
    shared.fit(train, y)
    assert shared._stacker.coef_.shape[1] == 12
    test, gold = _shaped(9, seed=3)
    for t in test:
        t.group = "never-seen"
    preds = clf.predict(test)
    assert all(p.group_model is None for p in preds)
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-3 for p in preds)
    assert np.mean([p.category == g for p, g in zip(preds, gold, strict=True)]) > 0.8
