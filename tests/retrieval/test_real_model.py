from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import Embedder, HybridIndex, ModelIntegrityError, load_corpus
from retrieval.embedder import verify_weights
from tests.retrieval.conftest import write


@pytest.mark.slow
def test_real_minilm_end_to_end(tmp_path: Path) -> None:
    embedder = Embedder()
    vectors = embedder.encode(
        ["the car would not start", "my automobile broke down", "a recipe for soup"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert Embedder().model is embedder.model  # one model per process

    write(
        tmp_path / "c" / "garage.txt",
        "Ann: My automobile broke down on the motorway.\nBen: Call a tow truck.\n",
    )
    write(
        tmp_path / "c" / "kitchen.txt", "Cat: This soup recipe needs more salt.\nDan: Add lemon.\n"
    )
    index = HybridIndex(tmp_path / "idx", embedder)
    index.update(load_corpus(tmp_path / "c").documents)
    hits = index.search("vehicle failure", k=1, retrievers=("dense",))
    assert hits[0].doc_id == "garage" and hits[0].ranks == {"dense": 1}


@pytest.mark.slow
def test_small_batches_encode_on_one_thread_with_the_same_vectors() -> None:
    import torch

    from retrieval.embedder import SMALL_BATCH

    embedder = Embedder()
    texts = [f"what did the team decide about option {i}" for i in range(SMALL_BATCH + 4)]
    before = torch.get_num_threads()
    batch = embedder.encode(texts)  # a large batch: the default thread pool
    single = np.stack([embedder.encode([t])[0] for t in texts])  # one thread each
    assert torch.get_num_threads() == before  # restored after each small call
    assert np.allclose(batch, single, atol=1e-5)


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(ModelIntegrityError, match="does not match"):
        verify_weights(tmp_path)
    with pytest.raises(ModelIntegrityError, match="missing"):
        verify_weights(tmp_path / "nowhere")
