"""Tokenisation for the lexical indexes: words, code identifiers split into their parts, stems.

`RaisesGroup` -> raisesgroup, raises, group; `get_fixture_defs` -> get_fixture_defs, get,
fixture, defs; then English stop words are dropped and words are stemmed (Snowball, via
PyStemmer when installed, else a small suffix stripper). Transcript annotations such as
`{vocalsound}` are not words and are removed.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ANNOTATION = re.compile(r"\{[A-Za-z_]+\}")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can could did do does doing don't down during each
    few for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just let me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself
    yourselves um uh mm hmm yeah okay ok oh gonna like""".split()
)

try:  # PyStemmer: fast C Snowball stemmer (the one bm25s recommends)
    import Stemmer

    _stemmer = Stemmer.Stemmer("english")

    def _stem(word: str) -> str:
        return str(_stemmer.stemWord(word))

except ImportError:  # pragma: no cover - exercised only without PyStemmer

    def _stem(word: str) -> str:
        for suffix in ("ingly", "edly", "ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
        return word


@lru_cache(maxsize=200_000)
def _expand(token: str) -> tuple[str, ...]:
    lower = token.lower()
    parts: list[str] = []
    if "_" in token or any(c.isupper() for c in token[1:]):
        for piece in token.split("_"):
            parts.extend(p.lower() for p in _CAMEL.findall(piece))
    words = [lower] + [p for p in parts if p != lower]
    return tuple(
        _stem(w) for w in words if (w and w not in STOPWORDS and len(w) > 1) or w.isdigit()
    )


def tokenize(text: str) -> list[str]:
    text = _ANNOTATION.sub(" ", text)
    out: list[str] = []
    for token in _WORD.findall(text):
        out.extend(_expand(token))
    return out


def content_words(text: str) -> list[str]:
    """Words of a text without stop words or annotations, unstemmed, in order."""
    text = _ANNOTATION.sub(" ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'\-]+", text) if w.lower() not in STOPWORDS]
