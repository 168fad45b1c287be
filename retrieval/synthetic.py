"""Offline synthetic queries (doc2query without a model), built from a chunk's own structure.

For each chunk it writes the questions its structure says it answers:
- code: "what does <symbol> do" with the identifier split into words, the first line of
  each docstring, the module path as words, messages of raised exceptions and warnings;
- conversation: "what did <speaker> say about <salient words of the turn>" for each
  substantial turn;
- ticket: the title, "<labels> issue about <title>", the body's first sentence;
- text: the section heading and each paragraph's first sentence.
Nothing here knows about any benchmark; it only reads structure. A model-backed generator
implementing `QueryGenerator` can replace it (injected from `subagents`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from retrieval.text import content_words
from retrieval.types import Chunk

_DOCSTRING = re.compile(
    r'(?:def|class)\s+(\w+)[^\n]*:\s*\n\s*(?:[rbuRBU]{0,2})("""|\'\'\')\s*(.+?)\s*(?:\n|\2)'
)
_RAISE_MSG = re.compile(
    r"(?:raise\s+\w+|warn\w*|fail|pytest\.fail|UsageError|ValueError|TypeError)\(\s*[fr]?[\"'](.{12,160}?)[\"']"
)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.S)


def identifier_words(name: str) -> str:
    words: list[str] = []
    for piece in re.split(r"[_.\s/]+", name):
        words.extend(w.lower() for w in _CAMEL.findall(piece))
    return " ".join(words)


def _first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    m = _SENTENCE.match(text)
    sentence = m.group(1) if m else text
    return sentence[:limit]


class OfflineQueryGenerator:
    """Writes up to `n` questions per chunk from its structure; deterministic, no model."""

    name = "offline-structure-v1"
    # its queries re-word the chunk's own text, so they mostly repeat what BM25 sees;
    # a small weight in the fusion keeps them as a tie-breaker (measured on the dev benches)
    fusion_weight = 0.1

    def generate(self, chunks: Sequence[Chunk], n: int) -> list[list[str]]:
        return [self._one(chunk)[:n] for chunk in chunks]

    def _one(self, chunk: Chunk) -> list[str]:
        kind = chunk.metadata.get("kind")
        if kind == "code":
            queries = self._code(chunk)
        elif kind == "conversation":
            queries = self._conversation(chunk)
        elif kind == "ticket":
            queries = self._ticket(chunk)
        else:
            queries = self._text(chunk)
        return list(dict.fromkeys(q for q in queries if q.strip()))

    def _code(self, chunk: Chunk) -> list[str]:
        meta = chunk.metadata
        out: list[str] = []
        path = str(meta.get("source_path", ""))
        module = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        symbols = [s.strip() for s in str(meta.get("symbols", "")).split(",") if s.strip()]
        for sym in symbols:
            out.append(f"what does {sym} do: {identifier_words(sym)} in {identifier_words(module)}")
        for name, _quote, doc in _DOCSTRING.findall(chunk.text):
            out.append(f"{identifier_words(name)}: {doc.strip()}")
        for msg in _RAISE_MSG.findall(chunk.text):
            out.append(f"error message: {msg}")
        if not symbols:
            out.append(f"{identifier_words(path)} module")
        return out

    def _conversation(self, chunk: Chunk) -> list[str]:
        out: list[str] = []
        for line in chunk.text.splitlines():
            speaker, sep, said = line.partition(": ")
            if not sep or len(speaker) > 40:
                speaker, said = "", line
            words = content_words(said)
            if len(words) < 6:
                continue
            counts = Counter(w.lower() for w in words if len(w) > 3)
            salient = [w for w, _ in counts.most_common(6)]
            who = speaker or "they"
            out.append(f"what did {who} say about {' '.join(salient)}")
        return out

    def _ticket(self, chunk: Chunk) -> list[str]:
        meta = chunk.metadata
        title = str(meta.get("title", ""))
        out = [title]
        labels = meta.get("labels")
        if labels:
            out.append(f"{labels} issue about {title}")
        for line in chunk.text.split("\n\n"):
            _, sep, body = line.partition(": ")
            if sep and body.strip():
                out.append(_first_sentence(body))
        return out

    def _text(self, chunk: Chunk) -> list[str]:
        out: list[str] = []
        section = chunk.metadata.get("section")
        if section:
            out.append(str(section))
        for para in chunk.text.split("\n\n"):
            if para.strip():
                out.append(_first_sentence(para))
        return out
