"""The seam through which a language model can write synthetic queries for retrieval.

`retrieval` imports nothing from `subagents`; a model-backed generator lives there and
is injected. The offline generator in `retrieval.synthetic` implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from retrieval.types import Chunk


@runtime_checkable
class QueryGenerator(Protocol):
    """Writes, for each chunk, up to `n` questions that the chunk answers.

    `generate` returns one list per input chunk, in order. `name` identifies the
    generator and its prompt version; it is part of the index's cache key, so
    changing it re-generates queries.
    """

    name: str

    def generate(self, chunks: Sequence[Chunk], n: int) -> list[list[str]]: ...
