from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval import Embedder, HybridIndex, ModelIntegrityError, UserInputError, load_corpus
from retrieval.embedder import verify_weights
from tests.retrieval.conftest import REPO_ROOT as ROOT
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
def test_torch_small_batches_encode_on_one_thread_with_the_same_vectors() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")

    from retrieval.embedder import SMALL_BATCH

    embedder = Embedder(backend="torch")
    texts = [f"what did the team decide about option {i}" for i in range(SMALL_BATCH + 4)]
    before = torch.get_num_threads()
    batch = embedder.encode(texts)  # a large batch: the default thread pool
    single = np.stack([embedder.encode([t])[0] for t in texts])  # one thread each
    assert torch.get_num_threads() == before  # restored after each small call
    assert np.allclose(batch, single, atol=1e-5)


TEXTS = [
    "The remote control should be easy to find when it falls behind the sofa.",
    "Bug: the settings page crashes when the user name contains an emoji",
    "def chunk_document(doc, turns_per_chunk): split a conversation into windows",
    "Kickoff meeting: the project manager introduces the team and the budget of twelve euros fifty.",
    "yes",
    " ".join(["a long ticket body that goes on and on about the build failing"] * 40),
]


@pytest.mark.slow
def test_onnx_int8_is_close_to_the_torch_model_and_fp32_equals_it() -> None:
    pytest.importorskip("sentence_transformers")
    reference = Embedder(backend="torch").encode(TEXTS)
    fp32 = Embedder(backend="onnx-fp32").encode(TEXTS)
    int8 = Embedder(backend="onnx-int8").encode(TEXTS)
    assert np.min(np.sum(fp32 * reference, axis=1)) > 0.9999
    cosine = np.sum(int8 * reference, axis=1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.985, cosine
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_layer_states_end_in_the_sentence_embedding_and_match_the_torch_model() -> None:
    fp32 = Embedder(backend="onnx-fp32")
    layers = fp32.encode_layers(TEXTS)
    assert layers.shape == (len(TEXTS), 7, 384) and layers.dtype == np.float32
    last = layers[:, 6] / np.linalg.norm(layers[:, 6], axis=1, keepdims=True)
    assert np.min(np.sum(last * fp32.encode(TEXTS), axis=1)) > 0.9999
    # the lower layers differ from the last: they are not the same vector seven times
    assert (
        np.max(np.sum(last * layers[:, 1] / np.linalg.norm(layers[:, 1], axis=1)[:, None], axis=1))
        < 0.99
    )
    int8 = Embedder().encode_layers(TEXTS)
    cosine = np.sum(int8 * layers, axis=-1) / (
        np.linalg.norm(int8, axis=-1) * np.linalg.norm(layers, axis=-1)
    )
    assert cosine.min() > 0.97, cosine
    assert Embedder().encode_layers([]).shape == (0, 7, 384)
    pytest.importorskip("sentence_transformers")
    reference = Embedder(backend="torch").encode_layers(TEXTS)
    assert np.allclose(reference, layers, atol=1e-3), np.abs(reference - layers).max()


@pytest.mark.slow
def test_onnx_vector_depends_on_the_text_alone() -> None:
    embedder = Embedder()
    assert embedder.backend == "onnx-int8" and embedder.name.endswith(":onnx-int8:b2")
    together = embedder.encode(TEXTS)
    alone = np.stack([embedder.encode([t])[0] for t in reversed(TEXTS)])[::-1]
    assert np.array_equal(together, alone)  # batch-mates and order change nothing
    one_thread = Embedder(threads=1).encode(TEXTS)
    assert np.array_equal(together, one_thread)
    again = embedder.encode(TEXTS[:2])  # short calls come from the memo: the same vectors
    assert np.array_equal(again, together[:2]) and again.flags.writeable
    # a long call with the batch size an index update asks for (64): still one text per
    # run, so the vectors an index stores equal those of the texts alone (and on Ray)
    many = [f"{t} ({i})" for i in range(3) for t in TEXTS]
    assert len(many) > 8  # past the memo of short calls
    batched = embedder.encode(many, batch_size=64)
    alone_many = np.stack([embedder.encode([t])[0] for t in many])
    assert np.array_equal(batched, alone_many)


@pytest.mark.slow
def test_default_embedder_runs_without_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # importing torch now fails\n"
        "from retrieval import Embedder\n"
        "v = Embedder().encode(['hello there', 'general greeting'])\n"
        "print(v.shape, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.split() == ["(2,", "384)", "False"], out.stderr


def test_unknown_backend_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="onnx-int8"):
        Embedder(backend="tensorflow")


@pytest.mark.slow
def test_onnx_model_is_built_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.embedder import MODEL_SHA256, model_dir
    from retrieval.onnx_minilm import build, model_file

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    path = build(model_dir(), MODEL_SHA256, "fp32")
    assert path == model_file(MODEL_SHA256, "fp32") and path.parent == tmp_path / "models"
    assert model_file(MODEL_SHA256, "fp32", layers=True) != path  # a file of its own
    stamp = path.stat().st_mtime_ns
    assert build(model_dir(), MODEL_SHA256, "fp32").stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    with pytest.raises(ModelIntegrityError, match="precision"):
        build(model_dir(), MODEL_SHA256, "int4")


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(ModelIntegrityError, match="does not match"):
        verify_weights(tmp_path)
    with pytest.raises(ModelIntegrityError, match="missing"):
        verify_weights(tmp_path / "nowhere")
