"""Themes of a large corpus: how many, where a theme splits, how they are named and
described (tickets from several products are the case that needs each)."""

from __future__ import annotations

import numpy as np
import pytest

from subagents.findings import Evidence, Finding
from subagents.offline.synthesis import (
    SPLIT_MODULARITY,
    SynthesisSettings,
    _central_sentence,
    _knn_affinity,
    _modularity,
    _nameable,
    _normalise,
    _prose,
    _spectral_best,
    _unshared_heads,
    name_groups,
    split_themes,
    theme_cap,
)


def _f(doc: str, i: int, text: str) -> Finding:
    return Finding(
        id=f"{doc}-{i}",
        task_key="t",
        doc_id=doc,
        claim=text,
        confidence=0.8,
        evidence=[Evidence(doc_id=doc, segment_id=f"{doc}#{i}", quote=text)],
    )


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    from retrieval import Embedder

    return Embedder()


def test_the_number_of_themes_grows_with_the_corpus_to_a_bound() -> None:
    assert theme_cap(7) == theme_cap(36) - 1 == 8  # a study: as before
    assert theme_cap(150) == 13
    assert theme_cap(1500) == 18
    assert theme_cap(20_000) == theme_cap(10**6) == 20  # one slide a theme


def _blob(rng: np.random.Generator, centre: np.ndarray, n: int, spread: float) -> np.ndarray:
    return centre + spread * rng.normal(size=(n, centre.size))


def test_a_theme_with_clear_communities_splits_and_a_uniform_one_does_not() -> None:
    rng = np.random.default_rng(3)
    a, b, c = (rng.normal(size=64) for _ in range(3))
    # theme 0: two problems of one product (close centres, each its own community);
    # theme 1: one problem, points spread evenly around it
    vecs = np.vstack(
        [_blob(rng, a, 40, 0.35), _blob(rng, a + 0.9 * b, 40, 0.35), _blob(rng, c, 80, 0.6)]
    )
    vecs = _normalise(vecs.astype(np.float32))
    docs = [f"t{i % 40}" for i in range(80)] + [f"u{i % 40}" for i in range(80)]
    groups = [list(range(80)), list(range(80, 160))]
    out = split_themes(groups, vecs, docs, need=5, cap=8, s=SynthesisSettings())
    assert sorted(map(sorted, out)) == [
        list(range(40)),
        list(range(40, 80)),
        list(range(80, 160)),
    ]
    # the uniform one is below the mark on its own
    sub = np.ascontiguousarray(vecs[80:])
    affinity = _knn_affinity(sub, 10)
    assert _modularity(affinity, _spectral_best(affinity, 2, 6, 0)) < SPLIT_MODULARITY
    # no room under the cap, or parts too small to stand: nothing splits
    assert split_themes(groups, vecs, docs, need=5, cap=2, s=SynthesisSettings()) == groups
    assert split_themes(groups, vecs, docs, need=30, cap=8, s=SynthesisSettings()) == groups


def test_sampled_split_labels_every_finding() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=64), rng.normal(size=64)
    vecs = _normalise(
        np.vstack([_blob(rng, a, 120, 0.3), _blob(rng, b, 120, 0.3)]).astype(np.float32)
    )
    docs = [f"d{i % 60}" for i in range(240)]
    out = split_themes([list(range(240))], vecs, docs, 5, 8, SynthesisSettings(sample_size=60))
    assert sorted(map(sorted, out)) == [list(range(120)), list(range(120, 240))]


def test_a_name_shared_by_sibling_themes_does_not_name_them(embedder) -> None:  # type: ignore[no-untyped-def]
    # two themes split from one product: the product's name is in every ticket of both,
    # what tells them apart is the problem
    login = [
        "Acmeflow login fails with an expired token",
        "Acmeflow rejects my password since yesterday",
        "Acmeflow login loops back to the start page",
        "Acmeflow token refresh breaks my password reset",
        "Acmeflow keeps asking me for my password",
        "The Acmeflow token is never saved",
    ]
    export = [
        "Acmeflow spreadsheet drops the last column",
        "Acmeflow export has the wrong dates",
        "Acmeflow spreadsheet loses its formatting",
        "Acmeflow export times out on large projects",
        "Acmeflow saves the export without headers",
        "The Acmeflow spreadsheet has empty rows",
    ]
    other = [
        "Zentrix sync stops when the laptop goes to sleep",
        "Zentrix crashes on start after installing the plugin",
        "The Zentrix calendar shows meetings twice",
        "Zentrix notifications arrive hours late",
    ]
    groups = [
        [_f(f"a{i}", i, t) for i, t in enumerate(login)],
        [_f(f"b{i}", i, t) for i, t in enumerate(export)],
        [_f(f"c{i}", i, t) for i, t in enumerate(other)],
    ]
    vecs = [embedder.encode([f.claim for f in g]) for g in groups]
    names = [label.lower() for label, _ in name_groups(groups, vecs, embedder, set())]
    assert any(w in names[0] for w in ("login", "password", "token")), names
    assert any(w in names[1] for w in ("spreadsheet", "export")), names


def test_a_word_with_no_topic_never_names_a_theme_alone() -> None:
    assert not _nameable("sense") and not _nameable("case") and not _nameable("ones")
    assert _nameable("use case") and _nameable("battery")


def test_two_themes_do_not_lead_with_forms_of_one_word() -> None:
    out = _unshared_heads(
        [("Clustering", ["clustering", "filters"]), ("Clusters", ["clusters", "outliers"])]
    )
    assert [label for label, _ in out] == ["Clustering", "Outliers"]


def test_a_theme_is_described_in_prose_not_code(embedder) -> None:  # type: ignore[no-untyped-def]
    assert not _prose('interpreter = tf.lite.Interpreter(model_path="model.tflite")')
    assert not _prose("See https://github.com/example/project/pull/1 for the details here.")
    assert not _prose("*/ | | int | main () | { | int nErr =::_wsystem(); | |; | return 0;")
    assert _prose("The converted model gives different results on the phone than on my laptop.")
    texts = [
        'interpreter = tf.lite.Interpreter(model_path="model.tflite") interpreter.allocate()',
        "The converted model gives different results on the phone than on my laptop.",
        "configure:20648: result: no | int main () { return 0; } | gcc -O2 -c conftest.c",
        "After converting to the lite format the model outputs are different from before.",
    ]
    findings = [_f(f"d{i}", i, t) for i, t in enumerate(texts)]
    vecs = _normalise(embedder.encode(texts))
    description = _central_sentence(range(4), findings, vecs, embedder)
    assert description in {texts[1], texts[3]}


def test_a_theme_of_logs_only_gets_no_description_rather_than_a_log_line(embedder) -> None:  # type: ignore[no-untyped-def]
    logs = [
        "make -j8 && sudo make install algo@host:~/build$ pkg-config --modversion opencv4 4.5.5",
        "configure:20648: result: no | int main () { return 0; } | gcc -O2 -c conftest.c",
    ]
    findings = [_f(f"d{i}", i, t) for i, t in enumerate(logs)]
    vecs = _normalise(embedder.encode(logs))
    assert _central_sentence(range(2), findings, vecs, embedder) == ""
