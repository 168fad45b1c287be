"""A small sentiment lexicon for extractive findings (offline engine).

Deliberately simple and transparent: counts of positive and negative cue words,
with a negation window. Good enough to split praise from complaints in a chart; the
model engine replaces it with the analyst's own judgement.
"""

from __future__ import annotations

from subagents.findings import Sentiment
from subagents.offline.text import words

POSITIVE = frozenset(
    [
        "good",
        "great",
        "nice",
        "like",
        "liked",
        "love",
        "loved",
        "easy",
        "easier",
        "simple",
        "simpler",
        "clear",
        "useful",
        "helpful",
        "fun",
        "cool",
        "best",
        "better",
        "excellent",
        "happy",
        "enjoy",
        "enjoyed",
        "prefer",
        "preferred",
        "fancy",
        "attractive",
        "beautiful",
        "comfortable",
        "intuitive",
        "popular",
        "appealing",
        "innovative",
        "important",
        "works",
        "working",
        "fast",
        "quick",
        "quicker",
        "reliable",
        "solid",
        "smooth",
        "friendly",
        "interesting",
        "perfect",
        "wonderful",
    ]
)
NEGATIVE = frozenset(
    [
        "bad",
        "worse",
        "worst",
        "hate",
        "hated",
        "annoying",
        "annoyed",
        "difficult",
        "hard",
        "harder",
        "confusing",
        "confused",
        "problem",
        "problems",
        "issue",
        "issues",
        "lose",
        "lost",
        "losing",
        "broken",
        "break",
        "breaks",
        "fail",
        "fails",
        "failed",
        "failure",
        "expensive",
        "costly",
        "slow",
        "ugly",
        "complicated",
        "complex",
        "frustrating",
        "frustrated",
        "hate",
        "wrong",
        "missing",
        "crash",
        "crashes",
        "crashed",
        "bug",
        "bugs",
        "error",
        "errors",
        "unclear",
        "awkward",
        "clunky",
        "tedious",
        "worried",
        "worry",
        "worries",
        "worrying",
        "concerned",
        "afraid",
        "fear",
        "fears",
        "frustrates",
        "frustration",
        "dislike",
        "disliked",
        "complain",
        "complaint",
        "complaints",
        "struggle",
        "struggled",
        "painful",
        "concern",
        "concerns",
        "risk",
        "risky",
        "impossible",
        "useless",
        "boring",
    ]
)
NEGATORS = frozenset(
    [
        "not",
        "no",
        "never",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "wasn't",
        "aren't",
        "won't",
        "can't",
        "cannot",
    ]
)


def sentiment_of(text: str) -> Sentiment:
    pos = neg = 0
    toks = words(text)
    for i, w in enumerate(toks):
        negated = any(t in NEGATORS for t in toks[max(0, i - 3) : i])
        if w in POSITIVE:
            if negated:
                neg += 1
            else:
                pos += 1
        elif w in NEGATIVE:
            if negated:
                pos += 1
            else:
                neg += 1
    if pos and neg:
        return "mixed"
    if pos:
        return "positive"
    if neg:
        return "negative"
    return "neutral"
