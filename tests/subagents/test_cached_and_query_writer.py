from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from retrieval.synthetic_protocol import QueryGenerator
from retrieval.types import Chunk
from subagents.errors import CacheMissError
from subagents.models.cached import CachedModel
from subagents.models.messages import ModelRequest, user
from subagents.query_writer import LLMQueryGenerator
from subagents.testing.models import FunctionModel, ScriptedModel, final_output


def test_cached_model_records_then_replays(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    inner = ScriptedModel(["first answer"])
    request = ModelRequest(messages=[user("hello")])

    async def main() -> None:
        cached = CachedModel(inner, path)
        live = await cached.complete(request)
        again = await cached.complete(request)
        assert not live.cached and again.cached
        assert again.text == "first answer" and again.cost_usd == 0
        assert (cached.hits, cached.misses) == (1, 1)
        cached.close()
        replay = CachedModel(ScriptedModel([]), path, mode="replay_only")
        assert (await replay.complete(request)).text == "first answer"
        with pytest.raises(CacheMissError, match="replay-only"):
            await replay.complete(ModelRequest(messages=[user("something else")]))
        replay.close()

    asyncio.run(main())
    inner.assert_complete()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def _chunks(n: int) -> list[Chunk]:
    return [
        Chunk(
            id=f"d@{i}-{i}",
            doc_id="d",
            text=f"Passage {i} about battery life.",
            segment_ids=[f"d#{i}"],
            start_char=0,
            end_char=10,
        )
        for i in range(n)
    ]


def _writer(request: ModelRequest) -> Any:
    docs = [b for b in request.messages[0].content if getattr(b, "type", "") == "document"]
    items = [
        {"chunk_index": i, "queries": [f"battery q{i}", f"battery q{i}", f"why {i}", "x", "y"]}
        for i in range(len(docs))
    ]
    items.append({"chunk_index": 99, "queries": ["out of range"]})
    return final_output({"items": items})


def test_llm_query_generator_implements_the_retrieval_protocol() -> None:
    model = FunctionModel(_writer)
    gen = LLMQueryGenerator(model, batch_size=3)
    assert isinstance(gen, QueryGenerator)
    out = gen.generate(_chunks(7), n=2)
    assert len(out) == 7
    assert out[0] == ["battery q0", "why 0"]  # deduplicated, truncated to n
    assert len(model.calls) == 3  # batches of 3, 3, 1
    assert all(r.tier == "fast" for r in model.calls)
    gen.close()


def test_llm_query_generator_works_inside_a_running_loop_and_survives_bad_output() -> None:
    model = FunctionModel(lambda req: "not json at all")
    gen = LLMQueryGenerator(model, batch_size=4)

    async def inside_jupyter_like_loop() -> list[list[str]]:
        return gen.generate(_chunks(2), n=3)

    assert asyncio.run(inside_jupyter_like_loop()) == [[], []]
    assert gen.failed_batches == 1
    gen.close()
