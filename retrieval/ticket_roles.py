"""Who answers on a ticket tracker: maintainers, support agents and bots.

On a ticket the users' voices are its reporter and the users who add to it; the people who
answer (a project's maintainers, a support desk's agents, bots) write prompts the users
answer, never evidence of what users report. A comment is theirs (`attrs["role"] =
"maintainer"`) when

- the loader saw it: GitHub's author association OWNER, MEMBER or COLLABORATOR, or a bot
  account (`retrieval.loaders.tickets`); or
- its author replies across the tracker: comments on at least `MIN_TICKETS` tickets, and
  on at least `MIN_SHARE` of them, that they did not open; or posts the same saved reply
  (a run of `SAVED_WORDS` words, word for word) on two tickets they did not open. That is
  how agents and maintainers show up whatever the tracker records about them (GitHub
  shows a maintainer whose organisation membership is private as CONTRIBUTOR, a help
  desk's export has no association at all). A reporter's comments on their own ticket
  stay a user's voice.

The outputs list who was treated so (`Corpus.warnings`).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

from retrieval.types import Document

MIN_TICKETS = 3
MIN_SHARE = 0.05
SAVED_WORDS = 12  # people do not write the same twelve words twice by chance
_WORD = re.compile(r"[a-z0-9']+")


def _saved(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + SAVED_WORDS]) for i in range(len(words) - SAVED_WORDS + 1)}


def _reporter(doc: Document) -> str | None:
    return next((s.speaker for s in doc.segments if s.attrs.get("field") == "body"), None)


def annotate_responders(docs: Sequence[Document]) -> dict[str, int]:
    """Mark the comments of people who reply across many tickets as a maintainer's; return
    them with the number of tickets they replied on (see the module docstring)."""
    tickets = [d for d in docs if d.kind == "ticket"]
    replies = [  # comments by someone other than the ticket's reporter
        (d.id, s)
        for d in tickets
        for reporter in [_reporter(d)]
        for s in d.segments
        if s.attrs.get("field") == "comment" and s.speaker and s.speaker != reporter
    ]
    replied: dict[str, set[str]] = defaultdict(set)
    posted: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)  # saved replies
    for doc_id, s in replies:
        replied[str(s.speaker)].add(doc_id)
        for run in _saved(s.text):
            posted[(str(s.speaker), run)].add(doc_id)
    need = max(MIN_TICKETS, math.ceil(MIN_SHARE * len(tickets)))
    saving = {who for (who, _), ids in posted.items() if len(ids) >= 2}
    responders = {
        who: len(ids) for who, ids in replied.items() if len(ids) >= need or who in saving
    }
    for _, s in replies:
        if s.speaker in responders:
            s.attrs["role"] = "maintainer"
    return dict(sorted(responders.items(), key=lambda kv: (-kv[1], kv[0])))
