"""Embedding and analysis on a real two-node Ray cluster on loopback; Chroma as a server.

The cluster is `ray start --head` plus `ray start --address=...` (a second raylet, as on a
second machine); the results must equal those of one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.services import chroma_server, ray_cluster
from workbench.core.settings import Settings

from .conftest import QUESTION

pytest.importorskip("ray")
# the cluster waits on its nodes' state with no start-up deadline of its own (a loaded
# machine is slow, not broken); this bound, for the first test with the cluster's start-up,
# is what stops a start that never ends
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with ray_cluster(cpus_per_node=1) as address:
        yield address


def texts() -> list[str]:
    from workbench.runs.corpus import Corpus

    sample = Path(__file__).resolve().parents[2] / "samples" / "ami-meetings"
    docs = Corpus.load(sample).documents[:2]
    return [s.text for d in docs for s in d.segments if len(s.text) > 20][:300]


def test_embedding_on_two_nodes_equals_one_process(cluster: str) -> None:
    from retrieval import Embedder
    from retrieval.ray_embedder import RayEmbedder

    batch = texts()
    embedder = RayEmbedder(address=cluster, slice_size=32)
    assert embedder.actor_count == 2 and embedder.name == Embedder().name
    assert len(embedder.nodes_used()) == 2  # one actor on each node
    remote = embedder.encode(batch)
    embedder.release()
    assert remote.shape == (len(batch), 384)
    assert np.array_equal(remote, Embedder().encode(batch))  # bit for bit


def test_index_and_analysis_on_the_cluster_equal_one_process(
    cluster: str, corpus3: Path, tmp_path: Path
) -> None:
    import workbench as wb
    from workbench.orchestrator.plans import themes_plan
    from workbench.runs.corpus import Corpus

    plan = themes_plan(Corpus.load(corpus3), QUESTION)
    plan.stages = [s for s in plan.stages if s.kind != "charts"]  # charts: not what is compared
    plan.stage("export").depends_on = ["critic"]
    quiet = {"on_event": lambda e: None, "plan": plan}
    local = wb.Project(tmp_path / "local", settings=Settings(engine="offline")).analyze(
        corpus3, QUESTION, **quiet
    )
    on_ray = wb.Project(
        tmp_path / "ray",
        settings=Settings(engine="offline", executor="ray", ray_address=cluster),
    ).analyze(corpus3, QUESTION, **quiet)
    assert on_ray.status == "complete" and on_ray.manifest["settings"]["executor"] == "ray"
    key = [(f.id, f.doc_id, f.evidence[0].quote) for f in local.findings]
    assert key and [(f.id, f.doc_id, f.evidence[0].quote) for f in on_ray.findings] == key
    assert [(t.label, t.prevalence) for t in on_ray.themes] == [
        (t.label, t.prevalence) for t in local.themes
    ]


def test_index_on_a_chroma_server_answers_like_the_embedded_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval import Embedder, HybridIndex
    from workbench.runs.corpus import Corpus

    sample = Path(__file__).resolve().parents[2] / "samples" / "ami-meetings"
    docs = Corpus.load(sample).documents[:2]
    local = HybridIndex(tmp_path / "local", Embedder())
    local.update(docs)
    queries = ["what colour should the remote be", "battery life", "the budget of the project"]
    with chroma_server(tmp_path / "chroma-data") as (host, port):
        monkeypatch.setenv("CHROMA_HOST", host)
        monkeypatch.setenv("CHROMA_PORT", str(port))
        served = HybridIndex(tmp_path / "served", Embedder())
        served.update(docs)
        assert served.vector_count() == len(served) == len(local)
        for q in queries:
            # Chroma's search is approximate (HNSW): two stores built apart may differ
            # further down the dense list, never in what the search finds first
            want, got = local.search(q, k=8), served.search(q, k=8)
            assert got[0].chunk_id == want[0].chunk_id
            assert len({h.chunk_id for h in got} & {h.chunk_id for h in want}) >= 6
            dense = [sum("dense" in h.ranks for h in hits) for hits in (got, want)]
            assert dense[0] >= dense[1] - 1  # the served vectors take part as the local ones do
        # the vectors live in the server: a second client sees them
        reopened = HybridIndex(tmp_path / "served", Embedder())
        assert reopened.vector_count() == len(local)
        assert (tmp_path / "served" / "chroma").exists() is False
