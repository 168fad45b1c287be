"""The fine-tuned view: cross-fitted on two halves, stacked, and left out (said) without torch."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from subagents.offline.triage import ClassifierSettings
from tests.triage.data import rows, write_csv
from tests.triage.fakes import HashingEncoder
from workbench.core.settings import TriageSettings
from workbench.triage.labelled import load_labelled, load_tickets
from workbench.triage.offline import OfflineTriager, default_tuner


class KeywordModel:
    """A stand-in fitted model: which category's training words a text shares most."""

    def __init__(self, vocab: list[set[str]]) -> None:
        self.vocab = vocab

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.ones((len(texts), len(self.vocab)))
        for i, t in enumerate(texts):
            words = set(t.lower().split())
            for k, v in enumerate(self.vocab):
                out[i, k] += len(words & v)
        result: np.ndarray = out / out.sum(axis=1, keepdims=True)
        return result


class StandInTuner:
    """Records what it was trained on; learns each category's distinctive words."""

    def __init__(self) -> None:
        self.fits: list[list[str]] = []

    def fit(self, texts: Sequence[str], y: np.ndarray, n_classes: int) -> KeywordModel:
        self.fits.append(list(texts))
        per = [set[str]() for _ in range(n_classes)]
        for t, k in zip(texts, y, strict=True):
            per[int(k)].update(t.lower().split())
        shared = set.intersection(*per) if per else set()
        return KeywordModel([v - shared for v in per])


@pytest.fixture
def labelled(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_labelled(
        write_csv(tmp_path / "train.csv", rows(20, seed=1)),
        label_column="label",
        group_column="product",
    )


def test_the_view_is_cross_fitted_on_two_halves_and_stacked(tmp_path: Path, labelled) -> None:  # type: ignore[no-untyped-def]
    tuner = StandInTuner()
    triager = OfflineTriager(
        HashingEncoder(), TriageSettings(), group_column="product", tuner=tuner
    )
    report = triager.fit(labelled)
    assert len(tuner.fits) == 2  # one model per half, no third fit on everything
    a, b = (set(f) for f in tuner.fits)
    assert not a & b and len(a) + len(b) == len(labelled.documents)
    assert any("fine-tuned view: MiniLM" in n for n in report.notes)
    # the stacker reads the view: one more block of columns than the linear stack (shared,
    # then per group)
    clf = triager.classifier
    extra = 3 * (1 + len(clf._groups))
    assert clf._stacker.coef_.shape[1] == clf._linear_stacker.coef_.shape[1] + extra
    test = rows(10, seed=7)
    docs = load_tickets(write_csv(tmp_path / "test.csv", test)).documents
    labels = triager.label(docs)
    gold = {f"test/{r['id']}": r["label"] for r in test}
    assert sum(lab.predicted == gold[lab.doc_id] for lab in labels) / len(labels) > 0.85
    for lab in labels:
        assert abs(sum(lab.probabilities.values()) - 1) < 1e-3
        assert lab.evidence
    from workbench.triage.labelled import DEFAULT_COLUMNS
    from workbench.triage.offline import ticket_input

    linear = clf.predict_linear([ticket_input(d, DEFAULT_COLUMNS, None) for d in docs])
    assert linear is not None and linear.shape == (len(docs), 3)
    assert np.allclose(linear.sum(axis=1), 1)


def test_too_few_labelled_tickets_leave_the_view_out_and_say_so(tmp_path: Path) -> None:
    small = load_labelled(write_csv(tmp_path / "s.csv", rows(5, seed=2)), label_column="label")
    tuner = StandInTuner()
    triager = OfflineTriager(HashingEncoder(), TriageSettings(), tuner=tuner)
    report = triager.fit(small)
    assert tuner.fits == []
    assert any("fine-tuned view not used" in n for n in report.notes)
    assert triager.classifier.predict_linear([]) is None


def test_without_torch_the_linear_stack_runs_and_says_so(  # type: ignore[no-untyped-def]
    tmp_path: Path, labelled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails as if absent
    on = TriageSettings(fine_tune=True)
    tuner, note = default_tuner(on)
    assert tuner is None and note is not None and "not installed" in note
    triager = OfflineTriager(HashingEncoder(), on, group_column="product")
    report = triager.fit(labelled)
    assert report.notes[0].startswith("fine-tuned view off: PyTorch")
    assert triager.classifier._tuned == []
    docs = load_tickets(write_csv(tmp_path / "t.csv", rows(2, seed=4))).documents
    assert all(lab.predicted for lab in triager.label(docs))


def test_the_view_is_off_by_default_and_says_so() -> None:
    tuner, note = default_tuner(TriageSettings())
    assert tuner is None and note is not None and "fine_tune = false" in note


@pytest.mark.slow
def test_the_real_tuner_learns_from_local_weights(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from retrieval.embedder import model_dir
    from subagents.offline.tuned import MiniLMTuner, TunerSettings

    data = rows(8, seed=3)
    texts = [f"{r['title']}\n{r['body']}" for r in data]
    classes = sorted({r["label"] for r in data})
    y = np.array([classes.index(r["label"]) for r in data])
    tuner = MiniLMTuner(model_dir(), TunerSettings(epochs=4, batch_size=8, threads=1))
    model = tuner.fit(texts, y, len(classes))
    assert len(tuner._states) == len(set(texts))  # the frozen layers' states are kept
    probs = model.predict_proba(texts)
    assert probs.shape == (len(texts), 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert float(np.mean(probs.argmax(axis=1) == y)) > 0.8
    fresh = [f"{r['title']}\n{r['body']}" for r in rows(3, seed=9)]
    model.predict_proba(fresh)
    assert len(tuner._states) == len(set(texts))  # predicting keeps nothing new
    again = MiniLMTuner(model_dir(), TunerSettings(epochs=4, batch_size=8, threads=1))
    probs2 = again.fit(texts, y, len(classes)).predict_proba(texts)
    assert np.allclose(probs, probs2, atol=1e-4)  # seeded: the same fit twice


def test_classifier_settings_name_the_thresholds() -> None:
    s = ClassifierSettings()
    assert s.tuned_min_examples >= 2 * s.tuned_min_per_category
