"""The language a document is written in (py3langid, a model shipped in its package).

The offline engine reads English (its sentence scoring, stop words and labels are
English); a document in another language is flagged and listed rather than analysed as
if it were English and silently yielding nothing, or nonsense.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from retrieval.types import Document

SAMPLE_CHARS = 6000
MIN_CHARS = 200  # below this a guess is not worth making
MIN_PROBABILITY = 0.9

NO_LANGUAGE = "zxx"
_lock = threading.Lock()
_identifier: Any = None


def _ident() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def _sample(doc: Document) -> str:
    parts: list[str] = []
    size = 0
    for seg in doc.segments:
        if size >= SAMPLE_CHARS:
            break
        parts.append(seg.text)
        size += len(seg.text)
    return " ".join(parts)[:SAMPLE_CHARS]


def document_language(doc: Document) -> tuple[str, float] | None:
    """(ISO 639-1 code, probability), or None when the text is too short to tell."""
    text = _sample(doc)
    if len(text.strip()) < MIN_CHARS:
        return None
    lang, prob = _ident().classify(text)
    return str(lang), float(prob)


def annotate_languages(docs: Sequence[Document], expected: str = "en") -> dict[str, str]:
    """Record `metadata["language"]` on prose documents; return those in another language
    (a confident guess other than `expected`), by document id."""
    other: dict[str, str] = {}
    for doc in docs:
        if doc.kind == "code":
            continue
        guess = document_language(doc)
        if guess is None:
            continue
        lang, prob = guess
        doc.metadata["language"] = lang
        # "zxx" is the model's "no linguistic content" (a log, a stack trace, numbers):
        # not a language, so not a reason to leave a document out
        if lang not in (expected, NO_LANGUAGE) and prob >= MIN_PROBABILITY:
            other[doc.id] = lang
    return other
