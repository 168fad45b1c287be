"""HybridIndex: BM25 + dense + synthetic-query retrieval over chunks, fused with RRF.

    index = HybridIndex(project / ".workbench" / "index")
    stats = index.update(documents)           # incremental by content hash
    hits = index.search("pricing complaints", k=10, where={"speaker": "Marketing"})

Persistence and failure: see `retrieval.store`. Documents are identified by id; an
update with the same id and the same text is a no-op for that document; changed
documents are re-chunked and re-embedded; ids absent from `update(docs)` are removed
(pass `remove_missing=False` to add without removing). The manifest is committed last,
so an update that fails half-way leaves the previous index usable.

Limits: one writer per index directory at a time; the BM25 statistics are rebuilt in
memory after each update (cheap next to embedding) and on first search after opening.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.chunking import chunk_document, search_text
from retrieval.embcache import EmbeddingCache, embed_with_cache
from retrieval.embedder import Embedder
from retrieval.errors import IndexStateError, UserInputError
from retrieval.filters import combine, matches, validate_where
from retrieval.lexical import LexicalIndex
from retrieval.locking import FileLock

if TYPE_CHECKING:
    from retrieval.codemap import CodeMap
    from retrieval.dense import DenseStore
    from retrieval.docrank import DocumentRanking
from retrieval.store import DamagedStateError, DocEntry, IndexStore, Manifest, version_key
from retrieval.synthetic import OfflineQueryGenerator
from retrieval.synthetic_protocol import QueryGenerator
from retrieval.text import tokenize
from retrieval.types import Chunk, Document, Hit

RETRIEVERS = ("bm25", "dense", "synthetic")
DEFAULT_WEIGHTS = {"bm25": 1.0, "dense": 1.0, "synthetic": 0.5}


@dataclass(frozen=True)
class ChunkingConfig:
    turns_per_chunk: int = 4
    overlap: int = 1
    comments_per_chunk: int = 3
    max_chars: int = 1500


@dataclass(frozen=True)
class PassageRanking:
    """How conversation hits are ordered after fusion (`HybridIndex.search`).

    - `context`: a window's fused score gains this share of its neighbours' (the
      `context_windows` windows on each side, nearer ones weighing more). A topic runs
      over many turns, so a window whose neighbours also match is likelier on topic than
      one lone match (an agenda turn naming every topic of the meeting, say).
    - `distinct`: the first `distinct` hits are distinct passages: a window within
      `gap_turns` turns of a hit already taken waits until after them, so the first page
      of results covers that many places of the conversation instead of one place in
      overlapping windows. The rest follow by score, extending the best passages.
    Other kinds of chunk (code, tickets, text) are ordered by the fused score alone.
    """

    context: float = 1.0
    context_windows: int = 2
    distinct: int = 10
    gap_turns: int = 4


# texts encoded per call while progress is reported (one embedder batch, ~2 s on 2 cores)
_PROGRESS_STEP = 64


class _Meter:
    """Chunks indexed so far, reported to a `progress(done, total)` callback."""

    def __init__(self, progress: Callable[[int, int], None], total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0  # chunks of finished batches
        progress(0, total)

    def within_batch(self, encoded: int) -> None:
        """`encoded` texts of the current batch are embedded (cached ones come later)."""
        self.progress(min(self.total, self.done + encoded), self.total)

    def batch_done(self, chunks: int) -> None:
        self.done = min(self.total, self.done + chunks)
        self.progress(self.done, self.total)


@dataclass
class UpdateStats:
    """What an update did, in documents and chunks."""

    added_docs: int = 0
    changed_docs: int = 0
    removed_docs: int = 0
    unchanged_docs: int = 0
    added_chunks: int = 0
    removed_chunks: int = 0
    embedded_chunks: int = 0  # chunk texts actually encoded (others came from the cache)

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class _Entry:
    chunk: Chunk
    version: str
    tokens: list[str]
    queries: list[str] = field(default_factory=list)
    query_tokens: list[list[str]] = field(default_factory=list)


def _chroma_metadata(chunk: Chunk, version: str) -> dict[str, Any]:
    meta = {k: v for k, v in chunk.metadata.items() if isinstance(v, str | int | float | bool)}
    meta["_version"] = version
    meta["doc_id"] = chunk.doc_id
    return meta


class HybridIndex:
    """A persistent hybrid index of chunks (see the module docstring)."""

    def __init__(
        self,
        directory: Path | str,
        embedder: Embedder | None = None,
        *,
        query_generator: QueryGenerator | None = None,
        queries_per_chunk: int = 8,
        chunking: ChunkingConfig | None = None,
        weights: dict[str, float] | None = None,
        chroma_client: Any = None,
        embedding_cache: bool = True,
        passages: PassageRanking | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.embedder = embedder or Embedder()
        self.generator: QueryGenerator = query_generator or OfflineQueryGenerator()
        self.queries_per_chunk = queries_per_chunk
        self.chunking = chunking or ChunkingConfig()
        self.passages = passages or PassageRanking()
        # a generator may say how much its queries should count in the fusion: the offline
        # one only re-words the chunk's own text, so it gets a small weight by default
        generator_weight = getattr(self.generator, "fusion_weight", None)
        base = dict(DEFAULT_WEIGHTS)
        if isinstance(generator_weight, int | float):
            base["synthetic"] = float(generator_weight)
        self.weights = {**base, **(weights or {})}
        self._store = IndexStore(self.directory)
        self._store.ensure()
        self._lock = FileLock(self.directory / ".lock", f"the index {self.directory.name}")
        # how a wait for another writer is said (the workbench routes it to its events)
        self.on_wait: Callable[[str], None] | None = None
        # what the checks on open found and fixed (a damaged or lost file): say it to people
        self.repairs: list[str] = []
        self._cache = (
            EmbeddingCache(
                self.directory / "embeddings.sqlite",
                str(getattr(self.embedder, "name", type(self.embedder).__name__)),
                int(getattr(self.embedder, "dimension", 384)),
            )
            if embedding_cache
            else None
        )
        if self._cache is not None:
            self.repairs += self._cache.repairs
        manifest_lost = False
        try:
            self._manifest = self._store.load_manifest()
        except DamagedStateError as exc:
            aside = self._store.set_aside(self._store.manifest_path)
            self.repairs.append(
                f"the index manifest was damaged ({exc}); it was set aside as {aside.name} and "
                "the index starts empty: the next update rebuilds it"
            )
            self._manifest, manifest_lost = Manifest(), True
        self._dense = self._open_dense(chroma_client)
        if manifest_lost:
            self._dense.reset()  # its vectors belong to the lost manifest
        self._entries: list[_Entry] = []
        self._by_key: dict[str, int] = {}
        self._by_chunk: dict[str, int] = {}
        self._by_doc: dict[str, list[int]] = {}
        self._doc_pos: list[int] = []  # row -> its position among its document's chunks
        self._bm25: LexicalIndex | None = None
        self._synthetic: LexicalIndex | None = None
        self._code_map: CodeMap | None = None
        self._query_owner: list[int] = []
        self._query_text: list[str] = []
        self._qcache: dict[str, np.ndarray] = {}
        self._embedded = 0
        self._load_entries()
        self._check_dense()

    # ---------------------------------------------------------------- state
    @property
    def config_key(self) -> str:
        raw = json.dumps(
            {
                "embedder": getattr(self.embedder, "name", type(self.embedder).__name__),
                "generator": self.generator.name,
                "n": self.queries_per_chunk,
                "chunking": vars(self.chunking),
                "tokenizer": 2,
            },
            sort_keys=True,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def embedder_identity(self) -> dict[str, Any]:
        return {
            "name": str(getattr(self.embedder, "name", type(self.embedder).__name__)),
            "dimension": int(getattr(self.embedder, "dimension", 384)),
        }

    def _check_embedder(self) -> None:
        """Refuse to query vectors made by another embedder (an update re-embeds them)."""
        recorded = self._manifest.embedder
        if not self._manifest.docs or recorded == self.embedder_identity:
            return
        if not recorded and self._manifest.config_key == self.config_key:
            return  # written before the identity was recorded, by this same configuration
        made_by = recorded.get("name", "an unrecorded embedder")
        raise IndexStateError(
            f"{self.directory}: the vectors were made by {made_by}, this index uses "
            f"{self.embedder_identity['name']}; update the index (it re-embeds every "
            "document) before searching it."
        )

    def _open_dense(self, client: Any) -> DenseStore:
        """The vector store named by the manifest; a damaged local one is set aside."""
        from retrieval.dense import DenseStore

        name = self._manifest.dense.get("collection")
        try:
            dense = DenseStore(self.directory, client=client, name=name)
        except Exception as exc:  # Chroma raises its own types for an unreadable store
            local = self.directory / "chroma"
            if client is not None or not local.exists():
                raise IndexStateError(
                    f"the vector store of {self.directory} cannot be opened ({exc})"
                ) from exc
            aside = self._store.set_aside(local)
            self.repairs.append(
                f"the vector store was damaged ({str(exc)[:200]}); it was set aside as "
                f"{aside.name} and its vectors are rebuilt from the index records"
            )
            dense = DenseStore(self.directory, name=name)
        if name is None and self._manifest.docs and dense.count() == 0:
            # an index from before the collection was recorded, moved: its vectors are in
            # the one other collection of its own store
            others = [c for c in dense.collections() if c != dense.name]
            if len(others) == 1:
                empty = dense.name
                dense.use(others[0])
                with contextlib.suppress(Exception):
                    dense._client.delete_collection(empty)
        return dense

    def _writer(self) -> contextlib.AbstractContextManager[None]:
        """One writer per index directory, across processes: a second one waits its turn."""
        return self._lock.hold("updating the index", on_wait=self.on_wait)

    def _dense_info(self) -> dict[str, str]:
        return {"collection": self._dense.name, "id": self._dense.collection_id}

    def _check_dense(self) -> None:
        """Every committed chunk has its vector in the collection the manifest names."""
        expected = len(self._entries)
        stored = self._manifest.dense.get("id")
        count = self._dense.count()
        recreated = stored is not None and stored != self._dense.collection_id
        if expected and (recreated or count < expected):
            why = "it was lost and made again" if recreated else f"it held {count} of {expected}"
            self.repairs.append(
                f"the vector store did not match the index manifest ({why}); "
                f"{expected} vectors were rebuilt from the index records"
            )
            self._rebuild_vectors()
        if self._manifest.docs and self._manifest.dense != self._dense_info():
            with self._writer():
                self._manifest.dense = self._dense_info()
                self._store.commit(self._manifest)

    def _rebuild_vectors(self, batch: int = 512) -> None:
        dim = int(getattr(self.embedder, "dimension", 384))
        for start in range(0, len(self._entries), batch):
            part = self._entries[start : start + batch]
            vectors, _ = embed_with_cache(
                lambda xs: self.embedder.encode(xs, batch_size=64),
                self._cache,
                [search_text(e.chunk) for e in part],
                dim,
            )
            self._dense.add(
                [f"{e.version}:{e.chunk.id}" for e in part],
                vectors,
                [_chroma_metadata(e.chunk, e.version) for e in part],
            )

    def _load_entries(self) -> None:
        entries: list[_Entry] = []
        for doc_id, entry in list(self._manifest.docs.items()):
            try:
                record = self._store.read_record(entry.key)
            except DamagedStateError as exc:
                del self._manifest.docs[doc_id]  # the next update indexes it again
                self.repairs.append(
                    f"the index record {entry.key}.json of document {doc_id!r} was damaged "
                    f"({exc}); the document is indexed again on the next update"
                )
                continue
            for chunk_raw, tokens, queries, q_tokens in zip(
                record["chunks"],
                record["tokens"],
                record["queries"],
                record.get("query_tokens")
                or [[tokenize(q) for q in qs] for qs in record["queries"]],
                strict=True,
            ):
                entries.append(
                    _Entry(Chunk.model_validate(chunk_raw), entry.key, tokens, queries, q_tokens)
                )
        self._set_entries(entries)

    def _set_entries(self, entries: list[_Entry]) -> None:
        self._entries = entries
        self._by_key = {f"{e.version}:{e.chunk.id}": i for i, e in enumerate(entries)}
        self._by_chunk = {e.chunk.id: i for i, e in enumerate(entries)}
        self._by_doc = {}
        self._doc_pos = [0] * len(entries)
        for i, e in enumerate(entries):
            rows = self._by_doc.setdefault(e.chunk.doc_id, [])
            self._doc_pos[i] = len(rows)
            rows.append(i)
        self._bm25 = None
        self._synthetic = None
        self._code_map = None

    def code_map(self) -> CodeMap:
        """What each code file defines, re-exports and registers (`retrieval.codemap`)."""
        if self._code_map is None:
            from retrieval.codemap import CodeMap

            self._code_map = CodeMap({d: self.chunks(d) for d in self._by_doc})
        return self._code_map

    def _lexical(self) -> tuple[LexicalIndex, LexicalIndex]:
        if self._bm25 is None or self._synthetic is None:
            self._bm25 = LexicalIndex([e.tokens for e in self._entries])
            owner: list[int] = []
            texts: list[str] = []
            q_tokens: list[list[str]] = []
            for i, e in enumerate(self._entries):
                for q, toks in zip(e.queries, e.query_tokens, strict=True):
                    owner.append(i)
                    texts.append(q)
                    q_tokens.append(toks)
            self._query_owner, self._query_text = owner, texts
            self._synthetic = LexicalIndex(q_tokens)
        return self._bm25, self._synthetic

    def documents(self) -> list[str]:
        return list(self._manifest.docs)

    def chunks(self, doc_id: str) -> list[Chunk]:
        return [self._entries[i].chunk for i in self._by_doc.get(doc_id, [])]

    def chunk(self, chunk_id: str) -> Chunk:
        try:
            return self._entries[self._by_chunk[chunk_id]].chunk
        except KeyError:
            raise KeyError(f"no chunk {chunk_id!r} in the index") from None

    def vector_count(self) -> int:
        """Vectors in the dense store (equals len(self) when no update is in flight)."""
        return self._dense.count()

    def __len__(self) -> int:
        return len(self._entries)

    # ---------------------------------------------------------------- update
    def _chunk_docs(self, docs: Sequence[Document]) -> list[Chunk]:
        c = self.chunking
        out: list[Chunk] = []
        for doc in docs:
            out.extend(
                chunk_document(
                    doc,
                    turns_per_chunk=c.turns_per_chunk,
                    overlap=c.overlap,
                    comments_per_chunk=c.comments_per_chunk,
                    max_chars=c.max_chars,
                )
            )
        return out

    def update(
        self,
        docs: Sequence[Document],
        *,
        remove_missing: bool = True,
        batch_size: int = 256,
        progress: Callable[[int, int], None] | None = None,
    ) -> UpdateStats:
        """Bring the index in line with `docs`; only new or changed documents are embedded.

        `progress(done, total)` is called as chunks of new or changed documents are
        indexed (their embeddings computed or found in the cache), from this thread; it
        is not called when nothing changed. Documents are chunked, embedded and written in
        groups (`batch_size // 8` documents, or about the embedder's `texts_per_call`
        chunks), so memory stays bounded by a group.
        """
        try:
            with self._writer():  # one writer per index; a second process waits its turn
                self._refresh()
                return self._update(
                    docs, remove_missing=remove_missing, batch_size=batch_size, progress=progress
                )
        finally:
            release = getattr(self.embedder, "release", None)
            if callable(release):  # an embedder holding remote workers frees them
                release()

    def _refresh(self) -> None:
        """Another process may have committed since this index was opened: read it."""
        try:
            on_disk = self._store.load_manifest()
        except IndexStateError:
            return
        if on_disk.generation != self._manifest.generation:
            self._manifest = on_disk
            self._load_entries()

    def _update(
        self,
        docs: Sequence[Document],
        *,
        remove_missing: bool,
        batch_size: int,
        progress: Callable[[int, int], None] | None,
    ) -> UpdateStats:
        seen: set[str] = set()
        for doc in docs:
            if doc.id in seen:
                raise UserInputError(
                    f"document id {doc.id!r} appears twice in the update; ids must be unique."
                )
            seen.add(doc.id)
        config = self.config_key
        old = self._manifest
        reuse = old.config_key == config
        stats = UpdateStats()
        self._cleanup_pending()

        new_docs: dict[str, DocEntry] = {}
        todo: list[Document] = []
        for doc in docs:
            prev = old.docs.get(doc.id) if reuse else None
            h = doc.content_hash
            if prev is not None and prev.content_hash == h:
                new_docs[doc.id] = prev
                stats.unchanged_docs += 1
                continue
            if doc.id in old.docs:
                stats.changed_docs += 1
            else:
                stats.added_docs += 1
            todo.append(doc)
        if not remove_missing:
            for doc_id, entry in old.docs.items():
                if doc_id not in seen and reuse:
                    new_docs[doc_id] = entry
        removed = [d for d in old.docs if d not in new_docs and d not in seen]
        stats.removed_docs = len(removed)
        if not todo and not removed and reuse and old.docs.keys() == new_docs.keys():
            return stats

        fresh: list[_Entry] = []
        pending: list[str] = []
        self._embedded = 0
        meter = None
        if progress is not None and todo:
            meter = _Meter(progress, sum(len(self._chunk_docs([d])) for d in todo))
        # documents are indexed in groups: of `batch_size // 8` documents, or of about
        # `texts_per_call` chunks when the embedder says how many keep its workers busy
        # (Ray). The grouping decides how Chroma receives the vectors, and its
        # approximate search can differ with it, so the local default stays as it was.
        per_call = int(getattr(self.embedder, "texts_per_call", 0) or 0)
        docs_per_group = max(1, batch_size // 8)
        group: list[Document] = []
        group_chunks: list[Chunk] = []
        for doc in todo:
            group.append(doc)
            group_chunks.extend(self._chunk_docs([doc]))
            full = len(group_chunks) >= per_call if per_call else len(group) >= docs_per_group
            if full:
                fresh.extend(
                    self._index_batch(
                        group, group_chunks, config, new_docs, pending, batch_size, meter
                    )
                )
                group, group_chunks = [], []
        if group:
            fresh.extend(
                self._index_batch(group, group_chunks, config, new_docs, pending, batch_size, meter)
            )
        stats.added_chunks = len(fresh)
        stats.embedded_chunks = self._embedded

        kept = [e for e in self._entries if e.version in {v.key for v in new_docs.values()}]
        stale = [e for e in self._entries if e.version not in {v.key for v in new_docs.values()}]
        stats.removed_chunks = len(stale)
        manifest = Manifest(
            config_key=config,
            docs=new_docs,
            generation=old.generation + 1,
            embedder=self.embedder_identity,
            dense=self._dense_info(),
        )
        self._store.commit(manifest)  # the commit point
        self._manifest = manifest
        self._set_entries(kept + fresh)
        self._dense.delete([f"{e.version}:{e.chunk.id}" for e in stale])
        self._store.clear_pending()
        self._store.collect_garbage({e.key for e in new_docs.values()})
        return stats

    def _index_batch(
        self,
        docs: list[Document],
        chunks: list[Chunk],
        config: str,
        new_docs: dict[str, DocEntry],
        pending: list[str],
        batch_size: int,
        meter: _Meter | None = None,
    ) -> list[_Entry]:
        texts = [search_text(c) for c in chunks]
        queries = self.generator.generate(chunks, self.queries_per_chunk) if chunks else []
        if len(queries) != len(chunks):
            raise IndexStateError(
                f"query generator {self.generator.name!r} returned {len(queries)} lists for {len(chunks)} chunks"
            )

        def encode(xs: list[str]) -> np.ndarray:
            if meter is None:
                return self.embedder.encode(xs, batch_size=min(batch_size, 64))
            parts = []
            for i in range(0, len(xs), _PROGRESS_STEP):  # slices, so progress moves
                parts.append(self.embedder.encode(xs[i : i + _PROGRESS_STEP], batch_size=64))
                meter.within_batch(i + len(parts[-1]))
            return np.concatenate(parts)

        vectors, computed = embed_with_cache(
            encode, self._cache, texts, int(getattr(self.embedder, "dimension", 384))
        )
        if meter is not None:
            meter.batch_done(len(chunks))
        self._embedded += computed
        by_doc: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            by_doc.setdefault(c.doc_id, []).append(i)
        entries: list[_Entry] = []
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        for doc in docs:
            key = version_key(doc.id, doc.content_hash, config)
            rows = by_doc.get(doc.id, [])
            doc_entries = []
            for i in rows:
                qs = [q for q in queries[i] if q.strip()]
                doc_entries.append(
                    _Entry(chunks[i], key, tokenize(texts[i]), qs, [tokenize(q) for q in qs])
                )
            self._store.write_record(
                key,
                {
                    "doc_id": doc.id,
                    "content_hash": doc.content_hash,
                    "chunks": [e.chunk.model_dump(mode="json") for e in doc_entries],
                    "tokens": [e.tokens for e in doc_entries],
                    "queries": [e.queries for e in doc_entries],
                    "query_tokens": [e.query_tokens for e in doc_entries],
                },
            )
            new_docs[doc.id] = DocEntry(content_hash=doc.content_hash, key=key, n_chunks=len(rows))
            for e in doc_entries:
                ids.append(f"{key}:{e.chunk.id}")
                metas.append(_chroma_metadata(e.chunk, key))
            entries.extend(doc_entries)
        if ids:
            order = [i for doc in docs for i in by_doc.get(doc.id, [])]
            pending.extend(ids)
            self._store.write_pending(pending)
            self._dense.add(ids, vectors[order], metas)
        return entries

    def _cleanup_pending(self) -> None:
        """Delete vectors of an update that crashed before its commit."""
        pending = self._store.read_pending()
        if pending:
            live = set(self._by_key)
            self._dense.delete([p for p in pending if p not in live])
            self._store.clear_pending()

    # ---------------------------------------------------------------- search
    def _allowed(
        self, doc_ids: list[str] | None, where: dict[str, Any] | None
    ) -> np.ndarray | None:
        if doc_ids is None and not where:
            return None
        mask = np.zeros(len(self._entries), dtype=bool)
        rows = (
            [i for d in doc_ids for i in self._by_doc.get(d, [])]
            if doc_ids is not None
            else range(len(self._entries))
        )
        for i in rows:
            if not where or matches(self._entries[i].chunk.metadata, where):
                mask[i] = True
        return mask

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        doc_ids: list[str] | None = None,
        where: dict[str, Any] | None = None,
        retrievers: Sequence[str] = RETRIEVERS,
        dedupe: str | None = None,
        depth: int | None = None,
        distinct: int | None = None,
    ) -> list[Hit]:
        """Top-k chunks for `query`, fused by reciprocal rank fusion.

        `doc_ids` restricts the search to those documents; `where` filters on chunk
        metadata (Chroma syntax, see `retrieval.filters`); `dedupe="document"` keeps the
        best chunk of each document. Conversation windows are ordered as passages
        (`PassageRanking`): scored with their neighbours, the first ten hits (`distinct`
        overrides) from distinct places. Each hit's `ranks` says which retrievers found it at which rank;
        `matched_queries` lists the synthetic queries that matched.
        """
        if dedupe not in (None, "document"):
            raise UserInputError("dedupe must be None or 'document'")
        ranked, matched = self.ranked(
            query,
            depth=depth or max(50, 4 * k),
            doc_ids=doc_ids,
            where=where,
            retrievers=retrievers,
        )
        rows = {name: [r for r, _ in pairs] for name, pairs in ranked.items()}
        return self._fuse(rows, matched, k, dedupe, distinct)

    def ranked(
        self,
        query: str,
        *,
        depth: int,
        doc_ids: list[str] | None = None,
        where: dict[str, Any] | None = None,
        retrievers: Sequence[str] = RETRIEVERS,
    ) -> tuple[dict[str, list[tuple[int, float]]], dict[int, list[str]]]:
        """Each retriever's ranked (row, score) list before fusion, and matched synthetic queries.

        Rows index `self.entry_chunk(row)`; scores are the retriever's own (BM25 score,
        cosine similarity, best synthetic-query BM25 score).
        """
        unknown = [r for r in retrievers if r not in RETRIEVERS]
        if unknown or not retrievers:
            raise UserInputError(f"unknown retrievers {unknown}; choose from {list(RETRIEVERS)}")
        if where:
            validate_where(where)
        ranked: dict[str, list[tuple[int, float]]] = {}
        matched: dict[int, list[str]] = {}
        if not self._entries or not query.strip():
            return ranked, matched
        mask = self._allowed(doc_ids, where)
        if mask is not None and not mask.any():
            return ranked, matched
        q_tokens = tokenize(query)
        if "bm25" in retrievers or "synthetic" in retrievers:
            bm25, synth = self._lexical()
            if "bm25" in retrievers:
                ranked["bm25"] = bm25.top_scored(q_tokens, depth, mask)
            if "synthetic" in retrievers:
                qmask = mask[self._query_owner] if mask is not None and self._query_owner else None
                order: list[tuple[int, float]] = []
                for r, score in synth.top_scored(q_tokens, depth * 4, qmask):
                    owner = self._query_owner[r]
                    if owner not in matched:
                        matched[owner] = []
                        order.append((owner, score))
                    if len(matched[owner]) < 3:
                        matched[owner].append(self._query_text[r])
                ranked["synthetic"] = order[:depth]
        if "dense" in retrievers:
            self._check_embedder()
            vector = self._query_vector(query)
            found = self._dense.query(vector, depth, combine(doc_ids, where))
            ranked["dense"] = [(self._by_key[i], s) for i, s in found if i in self._by_key]
        return ranked, matched

    def entry_chunk(self, row: int) -> Chunk:
        return self._entries[row].chunk

    def rank_documents(
        self,
        query: str,
        *,
        k: int = 10,
        doc_ids: list[str] | None = None,
        where: dict[str, Any] | None = None,
        retrievers: Sequence[str] = (*RETRIEVERS, "structure"),
        options: DocumentRanking | None = None,
    ) -> list[Hit]:
        """Documents (files) ranked for `query`: one hit per document, its best chunk.

        See `retrieval.docrank` for the aggregation (several matching chunks count), the
        code-navigation prior (implementation files before their tests) and "structure",
        the files that define the names the query mentions (`retrieval.codemap`).
        """
        from retrieval.docrank import rank_documents

        return rank_documents(
            self, query, k=k, doc_ids=doc_ids, where=where, retrievers=retrievers, options=options
        )

    def _query_vector(self, query: str) -> np.ndarray:
        vector = self._qcache.get(query)
        if vector is None:
            vector = self.embedder.encode([query])[0]
            if len(self._qcache) >= 1024:
                self._qcache.pop(next(iter(self._qcache)))
            self._qcache[query] = vector
        return vector

    def _is_turn_window(self, row: int) -> bool:
        return self._entries[row].chunk.metadata.get("kind") == "conversation"

    def _with_context(self, scores: dict[int, float]) -> dict[int, float]:
        """Conversation windows gain a share of their neighbours' scores (`PassageRanking`)."""
        p = self.passages
        if p.context <= 0 or p.context_windows < 1:
            return scores
        out = dict(scores)
        for row, own in scores.items():
            if not self._is_turn_window(row):
                continue
            rows = self._by_doc[self._entries[row].chunk.doc_id]
            at = self._doc_pos[row]
            extra = 0.0
            for d in range(1, p.context_windows + 1):
                near = [rows[j] for j in (at - d, at + d) if 0 <= j < len(rows)]
                if near:
                    extra += sum(scores.get(n, 0.0) for n in near) / len(near) / d
            out[row] = own + p.context * extra
        return out

    def _distinct_first(self, order: list[int], distinct: int) -> list[int]:
        """The first `distinct` conversation hits from distinct passages, then the rest."""
        p = self.passages
        if distinct <= 0:
            return order
        first: list[int] = []
        later: list[int] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        for row in order:
            chunk = self._entries[row].chunk
            if len(first) >= distinct or not self._is_turn_window(row):
                (first if len(first) < distinct else later).append(row)
                continue
            a = int(chunk.metadata.get("first_segment", 0))
            b = int(chunk.metadata.get("last_segment", a))
            spans = taken.setdefault(chunk.doc_id, [])
            if any(max(a - y, x - b, 0) <= p.gap_turns for x, y in spans):
                later.append(row)
            else:
                spans.append((a, b))
                first.append(row)
        return first + later

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
        self._dense.close()

    def _fuse(
        self,
        ranked: dict[str, list[int]],
        matched: dict[int, list[str]],
        k: int,
        dedupe: str | None,
        distinct: int | None = None,
    ) -> list[Hit]:
        rrf_k = 60.0
        scores: dict[int, float] = {}
        ranks: dict[int, dict[str, int]] = {}
        for name, rows in ranked.items():
            weight = self.weights.get(name, 1.0)
            for rank, row in enumerate(rows, start=1):
                scores[row] = scores.get(row, 0.0) + weight / (rrf_k + rank)
                ranks.setdefault(row, {})[name] = rank
        scores = self._with_context(scores)
        order = sorted(scores, key=lambda r: (-scores[r], min(ranks[r].values())))
        if dedupe is None:
            order = self._distinct_first(
                order, self.passages.distinct if distinct is None else distinct
            )
        hits: list[Hit] = []
        seen_docs: set[str] = set()
        for row in order:
            chunk = self._entries[row].chunk
            if dedupe == "document":
                if chunk.doc_id in seen_docs:
                    continue
                seen_docs.add(chunk.doc_id)
            hits.append(
                Hit(
                    chunk_id=chunk.id,
                    doc_id=chunk.doc_id,
                    score=scores[row],
                    text=chunk.text,
                    segment_ids=chunk.segment_ids,
                    ranks=ranks[row],
                    matched_queries=matched.get(row, []) if "synthetic" in ranks[row] else [],
                    metadata=chunk.metadata,
                )
            )
            if len(hits) >= k:
                break
        return hits
