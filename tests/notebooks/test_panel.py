"""The panel and its state, driven through the real run handle and run control.

No kernel here: ipywidgets work without a frontend (their messages go nowhere), so a
click is `Button.click()` and what a person would see is the widgets' values. The run
side is a real `RunHandle` over a real `RunControl` and `ReviewQueue`; events are fed
the way `Project.start` feeds them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from subagents.findings import Evidence, Finding, Theme
from workbench.runs.control import RunControl
from workbench.core.errors import UserError
from workbench.core.events import Event
from workbench.runs.handle import RunHandle
from workbench.runs.review import ReviewQueue
from workbench.core.settings import ReviewSettings
from workbench.runs.store import RunStore
from workbench.ui import PanelState, display_mode
from workbench.ui.panel import PAGE, RunPanel

PLAN = {
    "recipe": "themes",
    "question": "q",
    "stages": [
        {
            "id": "analyze",
            "subagent": "interview-analyst",
            "kind": "analyze",
            "fan_out": "documents",
        },
        {
            "id": "synthesize",
            "subagent": "theme-synthesizer",
            "kind": "synthesize",
            "depends_on": ["analyze"],
        },
    ],
}


def finding(i: int, confidence: float = 0.9, quote: str = "the battery <dies> fast") -> Finding:
    return Finding(
        id=f"f{i}",
        task_key=f"analyze-{i}",
        doc_id=f"doc{i % 7}",
        claim=f"claim number {i}",
        evidence=[
            Evidence(doc_id=f"doc{i % 7}", segment_id="s1", quote=quote, speaker="Marketing")
        ],
        confidence=confidence,
    )


@pytest.fixture
def handle(tmp_path: Path) -> RunHandle:
    h = RunHandle(RunControl())
    store = RunStore.create(tmp_path, "panel test")
    h.run_dir = store.dir
    return h


@pytest.fixture
def panel(handle: RunHandle):  # type: ignore[no-untyped-def]
    p = RunPanel(handle, start=False, thumbnails=False)
    yield p
    p.stop()


def test_progress_plan_and_budget_are_drawn(handle: RunHandle, panel: RunPanel) -> None:
    handle._on_event(Event("run_started", "", "run x", data={"run_dir": str(handle.run_dir)}))
    handle._on_event(Event("plan_proposed", "plan", "waiting", data={"plan": PLAN}))
    panel.refresh()
    assert panel.plan_box.layout.display == ""
    assert not panel.b_approve.disabled and "interview-analyst" in panel.w_plan.value
    assert '"theme-synthesizer"' in panel.w_plan_edit.value  # the plan, editable as JSON
    handle._on_event(Event("stage_started", "analyze", "3 documents"))
    for done in (1, 2):
        handle._on_event(Event("task_done", "analyze", f"doc{done}", done=done, total=3))
    handle._on_event(
        Event(
            "note",
            "budget",
            "",
            data={
                "usage": {"tokens": {"input": 1200, "output": 300}, "cost_usd": 0.02},
                "budget": {"max_usd": 1.0},
            },
        )
    )
    assert panel.refresh()
    _, bar, label = panel._stage_rows["analyze"]
    assert (bar.value, bar.max) == (2, 3) and "2/3" in label.value
    assert "1,500 tokens" in panel.w_budget.value and "of $1" in panel.w_budget.value
    assert handle.run_dir is not None and handle.run_dir.name in panel.w_header.value
    # stages show in the order they started; planned ones still waiting come after
    assert panel._stage_order == ["analyze", "synthesize"]


def test_approve_steer_pause_cancel_reach_the_run(handle: RunHandle, panel: RunPanel) -> None:
    handle._on_event(Event("plan_proposed", "plan", "waiting", data={"plan": PLAN}))
    panel.refresh()
    panel.w_steer.value = "focus on pricing"
    panel.b_steer.click()
    assert [m.text for m in handle.control.messages] == ["focus on pricing"]
    assert handle.control.messages[0].source == "widget"
    assert "focus on pricing" in panel.w_steering.value and "pending" in panel.w_steering.value
    panel.b_approve.click()
    assert asyncio.run(handle.control.wait_plan_approval()) is None  # approved as proposed
    assert panel.plan_actions.layout.display == "none" and panel.state.plan_status == "approved"
    # the run applies the message at its next checkpoint; the panel says where
    asyncio.run(handle.control.checkpoint("analyze: doc1"))
    panel.refresh()
    assert "applied at analyze: doc1" in panel.w_steering.value
    panel.b_pause.click()
    assert handle.control.paused and not panel.b_resume.disabled
    panel.b_resume.click()
    assert not handle.control.paused
    panel.b_cancel.click()
    assert handle.control.cancelled


def test_edited_plan_is_sent_and_bad_json_is_refused(handle: RunHandle, panel: RunPanel) -> None:
    handle._on_event(Event("plan_proposed", "plan", "waiting", data={"plan": PLAN}))
    panel.refresh()
    panel.w_plan_edit.value = "{not json"
    panel.b_approve_edit.click()
    assert "Not valid JSON" in panel.w_plan_error.value
    assert not handle.control._s.plan_decided
    panel.w_plan_edit.value = '{"recipe": "themes", "question": "q", "stages": [{"id": "analyze", "subagent": "interview-analyst", "kind": "analyze"}]}'
    panel.b_approve_edit.click()
    edited = asyncio.run(handle.control.wait_plan_approval())
    assert edited["stages"][0]["id"] == "analyze" and len(edited["stages"]) == 1


def test_review_queue_accept_reject_edit(handle: RunHandle, panel: RunPanel) -> None:
    assert handle.run_dir is not None
    queue = ReviewQueue(
        RunStore(handle.run_dir), ReviewSettings(threshold=0.5, policy="wait"), handle.control
    )
    handle.control.review = queue
    queue.propose([finding(1, 0.2), finding(2, 0.3), finding(3, 0.4), finding(4, 0.9)])
    panel._next_tail = 0.0
    panel.refresh()
    rows = panel.review_box.children
    assert len(rows) == 3 and panel.tabs.get_title(1) == "Review (3)"
    rows[0].children[1].children[0].click()  # accept
    rows[1].children[1].children[1].click()
    rows[2].children[1].children[2].value = "an edited claim"
    rows[2].children[1].children[3].click()
    assert {k: d["decision"] for k, d in queue.decisions.items()} == {
        "f1": "accept",
        "f2": "reject",
        "f3": "edit",
    }
    assert queue.decisions["f3"]["claim"] == "an edited claim" and not queue.pending()
    assert all(
        b.disabled
        for b in rows[0].children[1].children
        if hasattr(b, "disabled") and b.description in ("Accept", "Reject")
    )
    assert "an edited claim" in rows[2].children[0].value


def test_findings_stream_from_the_run_directory(handle: RunHandle, panel: RunPanel) -> None:
    assert handle.run_dir is not None
    store = RunStore(handle.run_dir)
    store.save_task("analyze-a", {"findings": [finding(1).model_dump(mode="json")]})
    panel.refresh()
    assert "claim number 1" in panel.w_findings.value
    assert "&lt;dies&gt;" in panel.w_findings.value  # corpus text is escaped
    store.save_task("analyze-b", {"findings": [finding(2).model_dump(mode="json")]})
    panel._next_tail = 0.0
    panel.refresh()
    assert panel.tabs.get_title(0) == "Findings (2)"


def test_two_thousand_findings_stay_paged_and_quick(panel: RunPanel) -> None:
    panel.state.add_findings(finding(i) for i in range(2000))
    t0 = time.perf_counter()
    panel.refresh()
    assert time.perf_counter() - t0 < 0.5
    assert panel.w_findings.value.count("<tr>") == PAGE + 1  # one page, plus the header row
    assert "findings 1-100 of 2000" in panel.w_findings.value
    panel.b_next.click()
    assert "findings 101-200 of 2000" in panel.w_findings.value
    panel.w_filter.value = "claim number 1999"
    assert "findings 1-1 of 1 (filtered from 2000)" in panel.w_findings.value


def test_panel_shows_the_results_when_the_run_ends(handle: RunHandle) -> None:
    p = RunPanel(handle, refresh_s=0.05, thumbnails=False)
    handle._on_event(Event("run_done", "", "run written"))
    handle._done.set()  # as the run's thread does when analyze returns
    assert p._thread is not None
    p._thread.join(timeout=10)
    assert not p._thread.is_alive()
    assert p.state.status == "done" and p.b_cancel.disabled and p.b_steer.disabled


def test_the_index_stage_bar_counts_chunks(handle: RunHandle) -> None:
    """Indexing is the longest stage of a first run: its bar moves with the chunks."""
    p = RunPanel(handle, start=False, thumbnails=False)
    unit = {"unit": "chunks"}
    handle._on_event(Event("stage_started", "index", "indexing 12 conversations"))
    handle._on_event(Event("progress", "index", "chunks indexed", 640, 1500, unit))
    p.refresh()
    _, bar, label = p._stage_rows["index"]
    assert (bar.value, bar.max) == (640, 1500) and "640/1500" in label.value
    handle._on_event(Event("progress", "index", "chunks indexed", 1500, 1500, unit))
    handle._on_event(Event("stage_done", "index", "1500 chunks in 200s"))
    p.refresh()
    assert bar.value == bar.max == 1500 and bar.bar_style == "success"


def test_state_ignores_what_it_does_not_know() -> None:
    st = PanelState()
    st.apply(Event("something_new", "analyze", "hello", data={"weird": object()}))
    st.apply(Event("task_done", "analyze", "d", done=1, total=2, data={"reused": 1}))
    assert st.stages["analyze"].reused == 1 and "hello" in st.log[-1]
    assert "analyze 1/2" in st.summary_line()


def test_display_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("WORKBENCH_UI", raising=False)
    assert display_mode() == "log"  # plain Python: no kernel, no widgets
    monkeypatch.setenv("WORKBENCH_UI", "widgets")
    assert display_mode() == "widgets"
    monkeypatch.setenv("WORKBENCH_UI", "fancy")
    with pytest.raises(UserError, match="WORKBENCH_UI"):
        display_mode()


def test_rich_reprs_through_ipython_formatters() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from workbench.ui import register

    shell = InteractiveShell.instance()
    assert register(shell)
    f = finding(7, quote="they said <b>never</b>")
    theme = Theme(
        id="t1",
        label="Battery life",
        summary="People worry",
        finding_ids=["f7"],
        doc_ids=["d1", "d2"],
        n_documents=2,
        total_documents=5,
    )
    data, _ = shell.display_formatter.format(f)
    assert "they said &lt;b&gt;never&lt;/b&gt;" in data["text/html"]
    assert data["text/plain"].startswith("Finding f7 (doc0, confidence 0.90)")
    data, _ = shell.display_formatter.format(theme)
    assert "2 of 5 documents (40%)" in data["text/html"]
    assert data["text/plain"] == "Theme 'Battery life': 2 of 5 documents, 1 findings"


def test_spending_and_caps_are_read_from_the_run(handle: RunHandle, panel: RunPanel) -> None:
    assert handle.run_dir is not None
    store = RunStore(handle.run_dir)
    store.update_manifest(settings={"budgets": {"max_usd": 2.0, "max_tokens": 100_000}})
    for i, cost in enumerate(("0.25", "0.5")):
        store.save_task(
            f"analyze-{i}",
            {
                "findings": [finding(i).model_dump(mode="json")],
                "spent": {"usage": {"input_tokens": 1000, "output_tokens": 200}, "cost_usd": cost},
            },
        )
    panel.refresh()
    assert "2,400 tokens of 100,000" in panel.w_budget.value
    assert "$0.7500 of $2" in panel.w_budget.value


def test_results_play_media_clips(tmp_path: Path, sonnet_dir: Path) -> None:
    """A finished run with a cut audio clip: the Results tab holds a player for it."""
    import ipywidgets as w

    from exports.clips import cut_clip
    from workbench.runs.run import Run

    store = RunStore.create(tmp_path, "clips")
    run_dir = store.dir
    store.update_manifest(status="complete", engine_note="Offline engine.", question="q")
    store.write_json("themes.json", {"themes": []})
    clip = cut_clip(
        sonnet_dir / "sonnet001.wav",
        2.0,
        4.0,
        run_dir / "clips" / "c1.wav",
    )
    panel = RunPanel(None, start=False, thumbnails=False)
    panel.show_results(Run(run_dir))
    players = [c for c in panel.results_box.children if isinstance(c, w.Audio)]
    assert len(players) == 1 and players[0].controls
    assert players[0].value == Path(clip.path).read_bytes()
    assert panel.tabs.get_title(3) == "Results ✓"


def test_wait_refuses_to_hang_on_a_plan_nobody_approved(
    handle: RunHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.ui import wait

    monkeypatch.setenv("WORKBENCH_UI", "widgets")
    handle._on_event(Event("plan_proposed", "plan", "waiting", data={"plan": PLAN}))
    with pytest.raises(UserError, match="Approve plan"):
        wait(handle)


def test_quote_cards_show_each_themes_representative_quotes_escaped() -> None:
    from workbench.ui.html import quote_cards

    fs = [finding(1), finding(2, quote="a <b>second</b> one"), finding(3)]
    theme = Theme(
        id="t1",
        label="Battery & power",
        summary="",
        finding_ids=[f.id for f in fs],
        doc_ids=[f.doc_id for f in fs],
        n_documents=3,
        total_documents=7,
        representative_finding_ids=[fs[1].id, "gone", fs[0].id],
    )
    cards = quote_cards([theme], fs)
    assert cards.count("wb-quote") == 1  # two representatives, one of them not a finding
    assert "Battery &amp; power" in cards and "a &lt;b&gt;second&lt;/b&gt; one" in cards
    assert "Marketing" in cards and fs[1].doc_id in cards
