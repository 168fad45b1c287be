"""`LLMQueryGenerator`: retrieval's `QueryGenerator` protocol backed by the query-writer agent.

Chunks are sent in batches (one model call per `batch_size` chunks, fewer when they
would not fit the model's context window; fast tier) as
untrusted document blocks; the answer is validated against `QueryWriterOutput`, so a
missing or malformed item yields an empty list for that chunk rather than a crash.
Put a `CachedModel` under it to make re-indexing free.

`generate` is sync (the protocol is); it runs the async work on a private event loop
thread, so it also works when called from inside a running loop (Jupyter). All calls
of one generator use that same loop, so its model (limiter, HTTP client) stays on one
loop; async callers use `agenerate` and should not mix the two on one model.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from retrieval.types import Chunk
from subagents.agent import Agent, AgentTask, ContextDocument
from subagents.errors import ContextWindowError
from subagents.models.messages import Model
from subagents.outputs import QueryWriterOutput
from subagents.spec_loader import AgentSpec, load_spec

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="query-writer"
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class LLMQueryGenerator:
    """Implements `retrieval.synthetic_protocol.QueryGenerator` with a model."""

    def __init__(
        self,
        model: Model,
        *,
        spec: AgentSpec | None = None,
        batch_size: int = 8,
        max_concurrency: int = 8,
        max_chars_per_chunk: int = 4000,
    ) -> None:
        self.model = model
        self.spec = spec or load_spec("query-writer")
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.max_chars_per_chunk = max_chars_per_chunk
        self.name = f"llm-query-writer:{getattr(model, 'name', 'model')}:{self.spec.prompt_hash}"
        self.failed_batches = 0
        self._loop: _LoopThread | None = None

    def generate(self, chunks: Sequence[Chunk], n: int) -> list[list[str]]:
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop.run(self.agenerate(chunks, n))

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    async def agenerate(self, chunks: Sequence[Chunk], n: int) -> list[list[str]]:
        agent = Agent(self.spec, self.model)
        gate = asyncio.Semaphore(self.max_concurrency)
        batches = self._batches(agent, list(chunks), n)

        async def one(batch: list[Chunk]) -> list[list[str]]:
            async with gate:
                return await self._batch(agent, batch, n)

        out: list[list[str]] = []
        for part in await asyncio.gather(*(one(b) for b in batches)):
            out.extend(part)
        return out

    def _batches(self, agent: Agent, chunks: list[Chunk], n: int) -> list[list[Chunk]]:
        """Up to `batch_size` chunks per request, fewer when they would not fit the window."""
        room = agent.context_room(self._task(chunks[:0], n))
        if room is None:
            step = self.batch_size
            return [chunks[i : i + step] for i in range(0, len(chunks), step)]
        out: list[list[Chunk]] = []
        current: list[Chunk] = []
        used = 0
        for c in chunks:
            doc = ContextDocument(
                id="0", title="chunk_index 000", text=c.text[: self.max_chars_per_chunk]
            )
            size = agent.document_tokens(doc)
            if current and (len(current) >= self.batch_size or used + size > room - 32):
                out.append(current)
                current, used = [], 0
            current.append(c)
            used += size
        if current:
            out.append(current)
        return out

    def _task(self, batch: list[Chunk], n: int) -> AgentTask:
        return AgentTask(
            instructions=(
                f"Write up to {n} search queries for each of the {len(batch)} passages "
                f"(chunk_index 0 to {len(batch) - 1}, in the order of the documents)."
            ),
            inputs={"n": n, "passages": len(batch)},
            context=[
                ContextDocument(
                    id=str(i), title=f"chunk_index {i}", text=c.text[: self.max_chars_per_chunk]
                )
                for i, c in enumerate(batch)
            ],
        )

    async def _batch(self, agent: Agent, batch: list[Chunk], n: int) -> list[list[str]]:
        queries: list[list[str]] = [[] for _ in batch]
        try:
            result = await agent.run(self._task(batch, n))
        except ContextWindowError:  # one passage larger than the window: no queries for it
            self.failed_batches += 1
            return queries
        if not isinstance(result.output, QueryWriterOutput):
            self.failed_batches += 1
            return queries
        for item in result.output.items:
            if 0 <= item.chunk_index < len(batch):
                seen: list[str] = []
                for q in item.queries:
                    q = " ".join(q.split())
                    if q and q.lower() not in {s.lower() for s in seen}:
                        seen.append(q)
                queries[item.chunk_index] = seen[:n]
        return queries
