"""The layers view: each MiniLM layer's pooled states of a ticket, read by their own model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from subagents.offline.ticket_layers import USED, LayerFeatures, has_layers
from subagents.offline.triage import ClassifierSettings, TicketClassifier, TicketInput
from tests.triage.fakes import DIM, HashingEncoder, LayeredHashingEncoder

WORDS = {
    "bug": "crash error fails broken exception stops wrong",
    "feature": "add support option would allow propose new",
    "question": "how can why possible anyone help understand",
}


def _tickets(n: int, seed: int) -> tuple[list[TicketInput], list[str]]:
    rng = np.random.default_rng(seed)
    tickets, labels = [], []
    filler = "the editor file window project build version".split()
    for i in range(n):
        label = list(WORDS)[i % 3]
        words = [*rng.choice(WORDS[label].split(), 3), *rng.choice(filler, 6)]
        rng.shuffle(words)
        body = " ".join(words)
        tickets.append(TicketInput(f"t{i}", body[:30], body, [(f"t{i}:body", body)]))
        labels.append(label)
    return tickets, labels


def test_layer_features_are_normalised_per_layer_and_each_text_is_encoded_once() -> None:
    enc = LayeredHashingEncoder()
    feats = LayerFeatures(enc)
    x = feats(["a crash on start", "how can I help", "a crash on start"])
    assert x.shape == (3, len(USED) * DIM) and x.dtype == np.float32
    blocks = x.reshape(3, len(USED), DIM)
    assert np.allclose(np.linalg.norm(blocks, axis=-1), 1.0, atol=1e-2)  # kept as float16
    assert np.array_equal(x[0], x[2])
    feats(["how can I help"])
    assert sorted(enc.layer_texts) == ["a crash on start", "how can I help"]
    assert feats([]).shape[0] == 0


def test_the_view_joins_the_stack_when_the_encoder_gives_layers() -> None:
    train, y = _tickets(90, seed=1)
    s = ClassifierSettings(views=("embed", "layers"), per_group=False)
    clf = TicketClassifier(LayeredHashingEncoder(), s)
    report = clf.fit(train, y)
    assert has_layers(clf.encoder) and clf.views == ("embed", "layers")
    assert clf._stacker.coef_.shape[1] == 6  # two views, three classes
    assert not any("layers view off" in n for n in report.notes)
    assert report.cv_f1 > 0.8
    test, gold = _tickets(12, seed=2)
    preds = clf.predict(test)
    assert np.mean([p.category == g for p, g in zip(preds, gold, strict=True)]) > 0.8
    alone = TicketClassifier(LayeredHashingEncoder(), replace(s, views=("layers",)))
    assert alone.fit(train, y).cv_f1 > 0.8  # the view learns on its own


def test_an_encoder_without_layers_leaves_the_view_out_and_says_so() -> None:
    train, y = _tickets(60, seed=3)
    s = ClassifierSettings(views=("embed", "layers"), per_group=False)
    clf = TicketClassifier(HashingEncoder(), s)
    report = clf.fit(train, y)
    assert clf.views == ("embed",)
    assert clf._stacker.coef_.shape[1] == 3
    assert any("layers view off" in n for n in report.notes)
    assert len(clf.predict(train[:3])) == 3


def test_tickets_labelled_are_not_kept_and_many_are_labelled_in_chunks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subagents.offline.triage as triage

    train, y = _tickets(60, seed=4)
    enc = LayeredHashingEncoder()
    clf = TicketClassifier(enc, ClassifierSettings(views=("layers",), per_group=False))
    clf.fit(train, y)
    kept = len(clf._layers._cache)  # type: ignore[union-attr]
    monkeypatch.setattr(triage, "PREDICT_CHUNK", 7)
    test, gold = _tickets(30, seed=5)
    preds = clf.predict(test)
    assert [p.doc_id for p in preds] == [t.doc_id for t in test]
    assert len(clf._layers._cache) == kept  # type: ignore[union-attr]
    assert np.mean([p.category == g for p, g in zip(preds, gold, strict=True)]) > 0.8
