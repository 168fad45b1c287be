"""The fan-out executor: run many independent tasks with bounded concurrency.

Contract: a task is identified by its idempotency key. A result is persisted (one
atomic file per key) before it counts, and a key whose file exists is never run
again, so a run killed at any point resumes where it stopped. Results come back in
the order of the task list, whatever order they finished in, so the outcome does
not depend on scheduling.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import RunError
from workbench.store import RunStore


def idempotency_key(stage: str, version: str, **inputs: Any) -> str:
    """hash(stage, spec + prompt version, inputs, model): stable across runs and machines."""
    blob = json.dumps(
        {"stage": stage, "version": version, "inputs": inputs}, sort_keys=True, default=str
    )
    return f"{stage}-{hashlib.sha256(blob.encode()).hexdigest()[:24]}"


@dataclass(frozen=True)
class Task:
    key: str
    stage: str
    label: str  # what a person sees: the document title, the sub-question
    payload: Any = None


@dataclass
class FanOutStats:
    total: int = 0
    reused: int = 0  # finished in an earlier attempt of this run
    executed: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


TaskFn = Callable[[Task], Awaitable[dict[str, Any]]]
Listener = Callable[[Task, dict[str, Any] | None, FanOutStats], None]


async def fan_out(
    tasks: Sequence[Task],
    run_task: TaskFn,
    store: RunStore,
    *,
    concurrency: int,
    on_done: Listener | None = None,
    max_tasks: int | None = None,
) -> tuple[list[dict[str, Any]], FanOutStats]:
    """Run `tasks`, reusing persisted results; return results in task order and stats.

    A task that raises is recorded as failed and the others go on; the caller decides
    whether partial results are good enough. `max_tasks` caps how many tasks may run
    in this call (a budget): the rest are left unstarted.
    """
    stats = FanOutStats(total=len(tasks))
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    todo: list[int] = []
    for i, t in enumerate(tasks):
        done = store.load_task(t.key)
        if done is not None:
            results[i] = done
            stats.reused += 1
            if on_done:
                on_done(t, done, stats)
        else:
            todo.append(i)
    if max_tasks is not None:
        todo = todo[:max_tasks]
    sem = asyncio.Semaphore(concurrency)
    start = time.perf_counter()

    async def one(i: int) -> None:
        task = tasks[i]
        async with sem:
            try:
                result = await run_task(task)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # recorded, reported, and the run goes on
                stats.failed += 1
                stats.failures.append(f"{task.label}: {type(e).__name__}: {e}")
                store.append_jsonl(
                    "trace.jsonl",
                    {
                        "event": "task_failed",
                        "key": task.key,
                        "stage": task.stage,
                        "error": repr(e),
                    },
                )
                if on_done:
                    on_done(task, None, stats)
                return
            store.save_task(task.key, result)  # persisted before it counts
            results[i] = result
            stats.executed += 1
            if on_done:
                on_done(task, result, stats)

    async with asyncio.TaskGroup() as tg:
        for i in todo:
            tg.create_task(one(i))
    stats.seconds = time.perf_counter() - start
    return [r for r in results if r is not None], stats


def require_all(stats: FanOutStats, stage: str, run_id: str) -> None:
    if stats.failed:
        shown = "; ".join(stats.failures[:3])
        raise RunError(
            f"{stats.failed} of {stats.total} tasks failed: {shown}", run_id=run_id, stage=stage
        )
