"""The executor's contract: persisted before counted, never re-run, order-independent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from workbench.core.errors import RunError
from workbench.runs.fanout import Task, fan_out, idempotency_key, require_all
from workbench.runs.store import RunStore


def _tasks(n: int) -> list[Task]:
    return [
        Task(
            key=idempotency_key("analyze", "v1", doc=i),
            stage="analyze",
            label=f"doc {i}",
            payload=i,
        )
        for i in range(n)
    ]


def test_idempotency_key_is_stable_and_input_sensitive() -> None:
    a = idempotency_key("analyze", "v1", doc="x", question="q")
    assert a == idempotency_key("analyze", "v1", question="q", doc="x")
    assert a != idempotency_key("analyze", "v2", doc="x", question="q")
    assert a != idempotency_key("analyze", "v1", doc="y", question="q")


def test_results_are_persisted_and_a_second_pass_runs_nothing(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    calls: list[int] = []

    async def work(t: Task) -> dict[str, Any]:
        calls.append(t.payload)
        await asyncio.sleep(0)  # yield to the other tasks
        return {"value": t.payload * 2}

    tasks = _tasks(20)
    results, stats = asyncio.run(fan_out(tasks, work, store, concurrency=4))
    assert [r["value"] for r in results] == [i * 2 for i in range(20)]
    assert stats.executed == 20 and stats.reused == 0
    assert store.finished_tasks() == {t.key for t in tasks}

    calls.clear()
    results2, stats2 = asyncio.run(fan_out(tasks, work, store, concurrency=4))
    assert calls == []
    assert stats2.reused == 20 and results2 == results


def test_partial_run_resumes_only_the_rest(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    tasks = _tasks(10)
    ran: list[int] = []

    async def work(t: Task) -> dict[str, Any]:
        ran.append(t.payload)
        return {"value": t.payload}

    _, first = asyncio.run(fan_out(tasks, work, store, concurrency=2, max_tasks=4))
    assert first.executed == 4 and len(store.finished_tasks()) == 4
    ran.clear()
    results, second = asyncio.run(fan_out(tasks, work, store, concurrency=2))
    assert sorted(ran) == list(range(4, 10))
    assert second.reused == 4 and [r["value"] for r in results] == list(range(10))


def test_failures_are_recorded_and_the_rest_goes_on(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)

    async def work(t: Task) -> dict[str, Any]:
        if t.payload == 3:
            raise ValueError("corrupt document")
        return {"value": t.payload}

    results, stats = asyncio.run(fan_out(_tasks(6), work, store, concurrency=3))
    assert len(results) == 5 and stats.failed == 1
    assert "doc 3" in stats.failures[0]
    with pytest.raises(RunError, match="1 of 6 tasks failed"):
        require_all(stats, "analyze", store.run_id)
    assert any(r["event"] == "task_failed" for r in store.read_jsonl("trace.jsonl"))


def test_corrupt_task_file_is_redone_not_trusted(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    t = _tasks(1)[0]
    store.task_path(t.key).write_text("{ half a json")
    assert store.load_task(t.key) is None
    assert not store.task_path(t.key).exists()
