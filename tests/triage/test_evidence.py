"""Evidence is the reporter's own words: text that recurs across tickets is never quoted."""

from __future__ import annotations

import numpy as np

from subagents.offline.triage import ClassifierSettings, TicketClassifier, TicketInput
from tests.triage.fakes import HashingEncoder

OWN = {
    "bug": [
        "The exporter crashes with a segmentation fault on large files.",
        "Saving the project fails with an error after the last update.",
        "The window freezes and stops responding when I resize it.",
    ],
    "feature": [
        "It would be great to support exporting charts as SVG images.",
        "Please add an option to choose the default theme at startup.",
        "Allow plugins to register their own keyboard shortcuts.",
    ],
}


def _ticket(i: int, label: str) -> TicketInput:
    own = OWN[label][i % 3].rstrip(".") + f" since release {i}."  # each ticket's own
    body = (
        "### Describe the problem or the idea\n\n"
        f"{own}\n\n"
        "### Additional context\n\n_No response_\n\n"
        f"- [{'x' if i % 3 else ' '}] I searched the existing issues for this one\n\n"
        f"Merge with: https://example.org/pulls/{1000 + i}\n"
    )
    return TicketInput(f"t{i}", f"ticket {i}", body, [(f"t{i}#body", body)])


def test_template_lines_are_not_quoted_and_an_all_template_ticket_still_is() -> None:
    labels = [("bug", "feature")[i % 2] for i in range(40)]
    tickets = [_ticket(i, lab) for i, lab in enumerate(labels)]
    clf = TicketClassifier(HashingEncoder(), ClassifierSettings(views=("embed", "words")))
    clf.fit(tickets, labels)
    for pred, lab in zip(clf.predict(tickets[:10]), labels[:10], strict=True):
        assert pred.category == lab
        quoted = [q.quote for q in pred.evidence]
        mine = [own.rstrip(".") for own in OWN["bug"] + OWN["feature"]]
        assert quoted and all(any(q.startswith(m) for m in mine) for q in quoted), quoted
    template_only = "### Additional context\n\n_No response_\n"
    bare = TicketInput("x", "", template_only, [("x#body", template_only)])
    [pred] = clf.predict([bare])
    assert pred.evidence and pred.evidence[0].quote in template_only  # nothing else to show
    assert np.isclose(sum(pred.probabilities.values()), 1, atol=1e-3)


def test_a_template_line_is_the_same_whatever_its_link_or_tick() -> None:
    from subagents.offline.triage import _sentence_key

    assert _sentence_key("[x] I checked the  FAQ") == _sentence_key("[ ] I checked the FAQ")
    assert _sentence_key("Merge with: https://a.org/pull/1") == _sentence_key(
        "Merge with: https://a.org/pull/2"
    )
    assert _sentence_key("The build fails on 2.1") != _sentence_key("The build fails on 2.2")
