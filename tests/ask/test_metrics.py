"""Metrics, golden sets, calibration and regression comparison (no index needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.ask.answer import Answer, AnswerSentence, Citation, Scope
from workbench.core.errors import UserError
from workbench.evaluation.golden import GoldenItem, GoldSpan, load_golden
from workbench.evaluation.judge import calibrate, cohen_kappa, spearman
from workbench.evaluation.metrics import evidence_metrics, rouge, theme_coverage
from workbench.evaluation.regression import RegressionStore, bootstrap_ci, compare
from workbench.evaluation.runner import EvalReport, ItemResult

from .conftest import GOLDEN


def _answer(*segment_ids: str) -> Answer:
    ev = [
        Citation(n=i, doc_id=s.split("#")[0], segment_id=s, quote="q")
        for i, s in enumerate(segment_ids, start=1)
    ]
    return Answer(question="q", evidence=ev, sentences=[AnswerSentence(text="x", citations=[1])])


def test_rouge_matches_hand_computed_values() -> None:
    # unigrams: cand {the, cat, sat}, ref {the, cat, ran}: P = R = 2/3
    r = rouge("The cat sat.", "the cat ran")
    assert r["rouge1"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["rouge2"] == pytest.approx(0.5, abs=1e-4)  # "the cat" of 2 bigrams
    assert r["rougeL"] == pytest.approx(2 / 3, abs=1e-4)
    # stemming is on: "buttons" matches "button"
    assert rouge("buttons", "button")["rouge1"] == 1.0
    assert rouge("", "button")["rouge1"] == 0.0


def test_theme_coverage() -> None:
    text = "Marketing wanted bigger buttons; the battery life was a worry."
    assert theme_coverage(text, ["big buttons", "battery life", "price of the case"]) == 2 / 3
    assert theme_coverage(text, []) is None


def test_evidence_hit_and_recall_against_gold_spans() -> None:
    item = GoldenItem(
        id="i",
        question="q",
        gold_spans=[GoldSpan(doc_id="M", start=10, end=13)],
        gold_documents=["M"],
    )
    m = evidence_metrics(_answer("M#11", "M#12", "M#40", "N#11"), item)
    assert m == {"evidence_hit": 1.0, "evidence_recall": 0.5, "document_recall": 1.0}
    miss = evidence_metrics(_answer("M#9", "N#11"), item)
    assert miss["evidence_hit"] == 0.0 and miss["evidence_recall"] == 0.0
    docs_only = GoldenItem(id="d", question="q", gold_documents=["N"])
    assert evidence_metrics(_answer("N#1"), docs_only)["evidence_hit"] == 1.0
    with pytest.raises(ValueError):
        GoldSpan(doc_id="M", start=5, end=4)


def test_meeting_spans_bench_loads_as_a_golden_set(sample_corpus: Path) -> None:
    """The bench's items about the 12 sample meetings (shipped): spans fit the transcripts."""
    gs = load_golden(Path(__file__).parent / "golden" / "meeting-spans-sample.json")
    assert len(gs.items) == 69
    first = gs.items[0]
    assert first.scope == Scope(doc_ids=[first.gold_documents[0]])
    assert first.reference_answer and first.gold_spans
    turns = {
        p.stem: len(json.loads(p.read_text(encoding="utf-8"))["meeting_transcripts"])
        for p in sample_corpus.glob("*.json")
    }
    for item in gs.items:
        for span in item.gold_spans:
            assert 0 <= span.start <= span.end < turns[span.doc_id], (item.id, span)


def test_full_meeting_spans_bench_loads(shared_dir: Path) -> None:
    """Optional: the whole dev part (718 items over 117 meetings) from ../shared."""
    gs = load_golden(shared_dir / "bench" / "meeting-spans-qmsum-product.dev.json")
    assert len(gs.items) == 718
    assert all(i.gold_spans and i.scope.doc_ids for i in gs.items)


def test_native_golden_set_and_its_errors(tmp_path: Path) -> None:
    gs = load_golden(GOLDEN)
    assert len(gs.items) == 12 and gs.corpus and Path(gs.corpus).is_dir()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"items": [{"id": "a"}]}))
    with pytest.raises(UserError, match="question"):
        load_golden(bad)
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_golden(bad)
    bad.write_text(
        json.dumps({"items": [{"id": "a", "question": "x"}, {"id": "a", "question": "y"}]})
    )
    with pytest.raises(UserError, match="unique"):
        load_golden(bad)
    with pytest.raises(UserError, match="cannot read"):
        load_golden(tmp_path / "missing.json")
    saved = gs.save(tmp_path / "copy.json")
    assert len(load_golden(saved).items) == 12


def test_kappa_and_spearman() -> None:
    assert cohen_kappa([True, False, True, False], [True, False, True, False]) == 1.0
    assert cohen_kappa([True, True, False, False], [False, False, True, True]) == -1.0
    assert cohen_kappa([True, True], [True, True]) is None
    # sklearn-equivalent textbook value: po = 0.7, pe = 0.5 -> 0.4
    a = [True] * 5 + [False] * 5
    b = [True] * 4 + [False] + [True] * 2 + [False] * 3
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_calibration_flags_a_judge_that_disagrees_with_people() -> None:
    human = [0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.05, 0.95, 0.15, 0.85]
    good = calibrate([h * 0.9 + 0.05 for h in human], human)
    assert good.trusted and good.spearman == pytest.approx(1.0) and good.kappa == 1.0
    bad = calibrate(list(reversed(human)), human)
    assert not bad.trusted and "Spearman" in bad.reason
    few = calibrate([0.1, 0.9], [0.1, 0.9])
    assert not few.trusted and "labelled items" in few.reason
    with pytest.raises(UserError, match="one human score"):
        calibrate([0.1], [0.1, 0.2])


def _report(values: dict[str, float], faith: float = 1.0, version: str = "v") -> EvalReport:
    items = [
        ItemResult(
            id=k,
            question=k,
            metrics={"evidence_hit": v, "rouge1": v / 2, "quote_faithfulness": faith},
            answer="",
        )
        for k, v in values.items()
    ]
    n = len(items)
    return EvalReport(
        golden="g",
        engine="offline",
        version=version,
        created_at="now",
        corpus="c",
        items=items,
        overall={
            "evidence_hit": sum(values.values()) / n,
            "rouge1": sum(values.values()) / n / 2,
            "quote_faithfulness": faith,
        },
    )


def test_compare_flags_only_drops_outside_the_interval(tmp_path: Path) -> None:
    base = _report({f"i{k}": 1.0 for k in range(20)})
    one_worse = _report({f"i{k}": (0.0 if k == 0 else 1.0) for k in range(20)})
    diff = compare(base, one_worse)
    hit = next(m for m in diff.metrics if m.metric == "evidence_hit")
    assert hit.delta == pytest.approx(-0.05) and hit.ci_high == 0.0 and not hit.regression
    assert any(c.id == "i0" and c.metric == "evidence_hit" for c in diff.items)
    much_worse = _report({f"i{k}": (0.0 if k < 10 else 1.0) for k in range(20)})
    diff2 = compare(base, much_worse)
    assert {m.metric for m in diff2.regressions} == {"evidence_hit", "rouge1"}
    unfaithful = compare(base, _report({f"i{k}": 1.0 for k in range(20)}, faith=0.9))
    assert [m.metric for m in unfaithful.regressions] == ["quote_faithfulness"]
    assert "REGRESSION" in unfaithful.render()
    lo, hi = bootstrap_ci(__import__("numpy").array([0.0, 1.0] * 50))
    assert lo < 0.5 < hi

    store = RegressionStore(tmp_path / "evals")
    store.save(base, "1.0")
    store.save(much_worse, "1.1")
    assert store.versions() == {"g": ["1.0", "1.1"]}
    assert store.load("1.0").overall == base.overall
    assert store.load(str(store.path_for("g", "1.1"))).overall == much_worse.overall
    with pytest.raises(UserError, match="no stored evaluation"):
        store.load("2.0")
