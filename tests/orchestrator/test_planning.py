"""The planner writes the plan (recipe "auto"); in review-plan mode a person edits it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from workbench.core.events import Event
from workbench.core.settings import ModelSettings, Settings

from .conftest import QUESTION
from .modelish import ModelLike, function_model


@pytest.mark.slow
def test_planner_plan_is_shown_edited_and_approved(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = ModelLike()
    settings = Settings(
        autonomy="review-plan",
        models=ModelSettings(cache=False, synthetic_queries=False),
    )
    project = wb.Project(project_dir, settings=settings, model=function_model(responder))
    proposed = threading.Event()

    def watch(ev: Event) -> None:
        if ev.kind == "plan_proposed":
            proposed.set()

    handle = project.start(corpus3, QUESTION, recipe="auto", on_event=watch)
    assert proposed.wait(timeout=300), handle.events
    plan = handle.plan
    assert plan is not None
    assert plan["source"] == "planner" and [s["subagent"] for s in plan["stages"]][:2] == [
        "interview-analyst",
        "theme-synthesizer",
    ]
    assert not any(c == "interview-analyst" for c in responder.calls)  # nothing ran yet
    edited = dict(plan)
    edited["rationale"] = "edited by a person: skip the critic"
    handle.approve_plan(edited)
    run = handle.wait(timeout=600)
    assert run.status == "complete" and responder.calls[0] == "planner"
    saved = json.loads((run.dir / "plan.json").read_text())["plan"]
    assert saved["source"] == "user" and saved["rationale"].startswith("edited by a person")
    assert [s["id"] for s in saved["stages"]] == ["analyse", "themes", "export"]
    assert "critic" not in responder.calls
