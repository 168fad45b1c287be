"""Embedding on a Ray cluster: the `Embedder` contract, the encoding done by Ray actors.

    embedder = RayEmbedder(address="10.0.0.5:6379")    # or None: a local Ray instance
    index = HybridIndex(directory, embedder=embedder)   # index updates encode on the cluster

Texts are cut into slices of `slice_size`, each encoded by one of `actors` actors (each
holds one loaded model, built on its node from the weights installed there: every node
needs the project installed, as for any Ray job). The vectors come back in input order.
With the ONNX backends a text's vector depends on that text alone, so the result is
bit-identical to encoding in one process; with `torch` it equals it to float rounding.
`name` is the wrapped embedder's: an index built here and one built locally agree.

Short inputs (a query) are encoded in this process. The actors start on the first large
`encode` and stop at `release()`, which an index update calls when it ends. A failed actor
fails the call (Ray's own retries apply), and the caller's update then leaves the
previous index in place, as a local failure does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retrieval.embedder import DIMENSION, Embedder
from retrieval.errors import UserInputError


class _EmbedActor:
    def __init__(self, backend: str, threads: int) -> None:
        self.embedder = Embedder(backend=backend, threads=threads)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


def connect(address: str | None) -> Any:
    """`ray`, initialised: joined to the cluster at `address`, or a local instance."""
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise UserInputError(
            "embedding on Ray needs Ray: pip install 'research-workbench[ray]'"
        ) from exc
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    return ray


class RayEmbedder:
    """An `Embedder` whose `encode` runs on Ray actors (see the module docstring)."""

    dimension = DIMENSION

    def __init__(
        self,
        *,
        address: str | None = None,
        backend: str | None = None,
        actors: int | None = None,
        cpus_per_actor: float = 1.0,
        slice_size: int = 64,
    ) -> None:
        self._local = Embedder(backend=backend)  # validates the backend, gives the name
        self.backend = self._local.backend
        self._ray = connect(address)
        total = int(self._ray.cluster_resources().get("CPU", 1))
        self.actor_count = max(1, actors or int(total // max(cpus_per_actor, 0.01)))
        self.cpus_per_actor = cpus_per_actor
        self.slice_size = max(1, slice_size)
        # each actor encodes one slice at a time on its own cores; a slice per actor in
        # flight, plus one queued, keeps every node busy
        self.texts_per_call = self.slice_size * self.actor_count * 2
        self._actors: list[Any] = []

    def _pool(self) -> list[Any]:
        if not self._actors:
            remote = self._ray.remote(num_cpus=self.cpus_per_actor, scheduling_strategy="SPREAD")(
                _EmbedActor
            )
            threads = max(1, int(self.cpus_per_actor))
            self._actors = [remote.remote(self.backend, threads) for _ in range(self.actor_count)]
        return self._actors

    @property
    def name(self) -> str:
        return self._local.name

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        texts = list(texts)
        if len(texts) <= self.slice_size:  # a query or two: a round trip costs more
            return self._local.encode(texts)
        slices = [texts[i : i + self.slice_size] for i in range(0, len(texts), self.slice_size)]
        pool = self._ray.util.ActorPool(self._pool())
        parts = list(pool.map(lambda actor, part: actor.encode.remote(part), slices))
        return np.concatenate(parts).astype(np.float32, copy=False)

    def nodes_used(self) -> set[str]:
        """The ids of the nodes the actors run on (for checks and progress lines)."""
        ids = self._ray.get([a.__ray_call__.remote(_node_id) for a in self._pool()])
        return set(ids)

    def release(self) -> None:
        """Free the actors and their CPUs (the next large `encode` starts new ones).

        `HybridIndex.update` calls it when it ends, so that the cluster's CPUs are free
        for the analysis tasks that follow."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    close = release


def _node_id(actor: Any) -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())
