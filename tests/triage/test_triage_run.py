"""`project.triage` end to end (offline engine, real MiniLM, real sandbox and exports)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.triage.conftest import GERMAN, HUGE
from workbench.core.errors import UserError
from workbench.core.settings import ReviewSettings, Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch_run(triage_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import workbench as wb

    events: list = []
    project = wb.Project(tmp_path_factory.mktemp("triage-project"))
    control = wb.RunControl()

    def listen(ev) -> None:  # type: ignore[no-untyped-def]
        events.append(ev)
        if ev.stage == "classify" and ev.kind == "stage_done" and len(events) < 1000:
            control.cancel("stop after classifying, to test the resume")

    with pytest.raises(wb.RunError):
        project.triage(
            triage_files["tickets"],
            triage_files["labelled"],
            label_column="label",
            group_column="product",
            on_event=listen,
            control=control,
        )
    events.append("resumed")
    run = project.triage(
        triage_files["tickets"],
        triage_files["labelled"],
        label_column="label",
        group_column="product",
        on_event=events.append,
    )
    return project, run, events


def test_every_ticket_gets_a_category_confidence_and_verbatim_evidence(batch_run) -> None:  # type: ignore[no-untyped-def]
    from workbench.triage.labelled import load_tickets

    _, run, _ = batch_run
    assert run.status == "complete"
    labels = run.labels
    assert len(labels) == 16
    docs = {d.id: d for d in load_tickets(run.manifest["corpus"]["path"]).documents}
    for lab in labels:
        assert lab.predicted in ("bug", "feature", "question")
        assert 0 <= lab.confidence <= 1 and lab.evidence
        for ev in lab.evidence:
            assert docs[lab.doc_id].text[ev.start_char : ev.end_char] == ev.quote
    table = run.table()
    assert table.height == 16 and {"category", "confidence", "evidence", "status"} <= set(
        table.columns
    )


def test_hard_cases_are_kept_and_said(batch_run) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = batch_run
    by = {lab.ticket_id: lab for lab in run.labels}
    german, huge = by[GERMAN["id"]], by[HUGE["id"]]
    assert any("another language" in f for f in german.flags)
    assert german.status in ("accepted", "rejected")  # it went to review whatever its score
    queued = {item["doc_id"] for item in run.review_queue}
    assert german.doc_id in queued
    assert any("first 20,000 characters" in f for f in huge.flags)
    labelled = [lab for lab in run.labels if lab.status == "labelled"]
    assert len(labelled) == 2 and all(lab.confidence == 1.0 for lab in labelled)


def test_outputs_charts_and_the_resume(batch_run) -> None:  # type: ignore[no-untyped-def]
    _, run, events = batch_run
    for name in (
        "deck.pptx",
        "report.html",
        "report.md",
        "labels.csv",
        "labels.parquet",
        "bundle.zip",
    ):
        assert (run.dir / name).is_file(), name
    charts = {p.stem for p in run.charts}
    assert {"category_prevalence", "categories_by_segment", "categories_over_time"} <= charts
    t = run.manifest["triage"]
    assert sum(t["categories"].values()) == 16 and t["fit"]["cv_f1"] > 0.5
    # the run's encoder gives MiniLM's layer states: the layers view is in the stack
    assert not any("layers view off" in note for note in t["fit"]["classifier"])
    html = (run.dir / "report.html").read_text(encoding="utf-8")
    assert "Category: bug" in html and "classifier learned from the team" in html
    after = events[events.index("resumed") + 1 :]
    assert any("already finished" in getattr(e, "message", "") for e in after)
    assert not any(
        getattr(e, "stage", "") == "classify" and e.kind == "stage_started" for e in after
    )


def test_reject_policy_leaves_queued_tickets_without_a_category(
    triage_files: dict[str, Path], tmp_path: Path
) -> None:
    import workbench as wb

    settings = Settings(review=ReviewSettings(policy="reject"))
    run = wb.Project(tmp_path, settings=settings).triage(
        triage_files["tickets"], triage_files["labelled"], threshold=0.999, on_event=lambda e: None
    )
    rejected = [lab for lab in run.labels if lab.status == "rejected"]
    assert rejected and all(lab.category is None for lab in rejected)
    assert all(lab.reviewed_by == "policy:reject" for lab in rejected)
    assert run.categories.get("no category") == len(rejected)


def test_a_person_reviews_in_the_notebook(triage_files: dict[str, Path], tmp_path: Path) -> None:
    import workbench as wb

    settings = Settings(review=ReviewSettings(policy="wait"))
    queued = threading.Event()

    def on_event(ev) -> None:  # type: ignore[no-untyped-def]
        if ev.kind == "review_queued":
            queued.set()

    handle = wb.Project(tmp_path, settings=settings).start_triage(
        triage_files["tickets"], triage_files["labelled"], threshold=0.999, on_event=on_event
    )
    assert queued.wait(600), handle.error
    queue = handle.review
    items = queue.pending()
    assert items and items[0].claim.split(":")[0] in ("bug", "feature", "question")
    with pytest.raises(UserError, match="not a category"):
        queue.edit(items[0].finding_id, "wishlist")
    queue.edit(items[0].finding_id, "Feature")
    for item in items[1:]:
        queue.accept(item.finding_id)
    run = handle.wait(600)
    lab = next(x for x in run.labels if x.finding_id == items[0].finding_id)
    assert lab.status == "relabelled" and lab.category == "feature" and lab.reviewed_by == "user"
