from __future__ import annotations

import pytest

from workbench.triage.metrics import triage_scores


def test_macro_scores_per_group_and_overall_is_their_mean() -> None:
    gold = ["bug", "bug", "feature", "feature", "bug", "feature"]
    pred = ["bug", "feature", "feature", "feature", "bug", "bug"]
    groups = ["a", "a", "a", "a", "b", "b"]
    s = triage_scores(gold, pred, groups)
    # group a: bug P=1 R=.5 F=.667; feature P=.667 R=1 F=.8 -> macro F1 .7333
    assert s["groups"]["a"]["f1"] == pytest.approx(0.7333, abs=1e-4)
    # group b: bug P=.5 R=1 F=.667; feature P=0 R=0 F=0 -> .3333
    assert s["groups"]["b"]["f1"] == pytest.approx(0.3333, abs=1e-4)
    assert s["overall"]["f1"] == pytest.approx((0.7333 + 0.3333) / 2, abs=1e-3)
    assert set(s["per_label"]) == {"bug", "feature"}


def test_without_groups_overall_is_the_macro_average() -> None:
    s = triage_scores(["x", "y"], ["x", None], None)
    assert s["groups"] == {}
    assert s["overall"]["f1"] == pytest.approx(0.5)  # x: F1 1, y: never predicted
