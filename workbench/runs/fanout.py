"""The fan-out executor: run many independent tasks with bounded concurrency.

Contract (the same for every backend, asyncio here and Ray in `executor_ray`):
- a task is identified by its idempotency key; a result is persisted (one atomic file
  per key) before it counts, and a key whose file exists is never run again, so a run
  killed at any point resumes where it stopped;
- results come back in the order of the task list, whatever order they finished in,
  so the outcome does not depend on scheduling;
- before each task starts: the run's control is consulted (pause waits, cancel stops,
  steering messages received so far are attached to the task: `Task.steering`), the
  budget is checked, and a token bucket spaces task starts when a rate is set;
- a task that raises is recorded as failed and the others go on; a stop signal
  (budget cap, cancel, model API unusable) stops new starts, lets running tasks end,
  then is raised with everything finished kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.errors import BudgetExceededError, RunError
from workbench.runs.budgets import ModelStopError
from workbench.runs.control import RunCancelledError
from workbench.runs.store import RunStore

if TYPE_CHECKING:
    from workbench.runs.budgets import BudgetTracker
    from workbench.runs.control import RunControl


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
    # steering messages in force when the task started (set by the executor)
    steering: tuple[str, ...] = ()


@dataclass
class FanOutStats:
    total: int = 0
    reused: int = 0  # finished in an earlier attempt of this run
    executed: int = 0
    failed: int = 0
    unstarted: int = 0  # left by a task cap or a stop
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


TaskFn = Callable[[Task], Awaitable[dict[str, Any]]]
Listener = Callable[[Task, dict[str, Any] | None, FanOutStats], None]


class TokenBucket:
    """Spaces task starts to `rate` per second with bursts of `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.level = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
                self.updated = now
                if self.level >= 1:
                    self.level -= 1
                    return
                await asyncio.sleep((1 - self.level) / self.rate)


def is_stop(e: BaseException) -> bool:
    """A signal that stops the run (a budget cap, a cancel, the model API unusable), not a
    task's own failure."""

    return isinstance(e, BudgetExceededError | ModelStopError | RunCancelledError)


async def fan_out(
    tasks: Sequence[Task],
    run_task: TaskFn,
    store: RunStore,
    *,
    concurrency: int,
    on_done: Listener | None = None,
    max_tasks: int | None = None,
    control: RunControl | None = None,
    budget: BudgetTracker | None = None,
    bucket: TokenBucket | None = None,
) -> tuple[list[dict[str, Any]], FanOutStats]:
    """Run `tasks`, reusing persisted results; return results in task order and stats.

    `max_tasks` caps how many tasks may start in this call (a budget): the rest are left
    unstarted (`stats.unstarted`). See the module docstring for the rest of the contract.
    """
    stats = FanOutStats(total=len(tasks))
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    todo = _reuse(tasks, store, results, stats, on_done)
    if max_tasks is not None:
        stats.unstarted = max(0, len(todo) - max_tasks)
        todo = todo[:max_tasks]
    start = time.perf_counter()
    queue = iter(todo)
    stop: list[BaseException] = []
    stage = tasks[0].stage if tasks else ""

    async def worker() -> None:
        for i in queue:
            if stop:
                stats.unstarted += 1
                continue
            try:
                task = await _admit(tasks[i], store, control, budget, bucket)
            except Exception as e:
                if not is_stop(e):
                    raise
                stop.append(e)
                task = None
            if task is None:  # stopped, or the budget allows no more tasks
                stats.unstarted += 1
                continue
            t0 = time.perf_counter()
            try:
                result = await run_task(task)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if is_stop(e):
                    stop.append(e)
                    stats.unstarted += 1
                    continue
                _record_failure(store, stats, task, e)  # recorded, reported, the run goes on
                if on_done:
                    on_done(task, None, stats)
                continue
            store.save_task(task.key, result)  # persisted before it counts
            results[i] = result
            stats.executed += 1
            stats.latencies.append(time.perf_counter() - t0)
            if on_done:
                on_done(task, result, stats)

    n_workers = max(1, min(concurrency, len(todo)))
    if todo:
        async with asyncio.TaskGroup() as tg:
            for _ in range(n_workers):
                tg.create_task(worker())
    stats.seconds = time.perf_counter() - start
    if stop:
        first = stop[0]
        if isinstance(first, RunError) and first.stage is None:
            first.stage = stage
        raise first
    return [r for r in results if r is not None], stats


def _reuse(
    tasks: Sequence[Task],
    store: RunStore,
    results: list[dict[str, Any] | None],
    stats: FanOutStats,
    on_done: Listener | None,
) -> list[int]:
    """Fill `results` with the persisted results of finished tasks; the others' indexes."""
    finished = store.finished_tasks()  # names only
    reuse = [i for i, t in enumerate(tasks) if t.key in finished]
    # one batch read: on a resume of thousands of tasks, the reads are the resume's cost
    for i, stored in zip(reuse, store.load_tasks(tasks[i].key for i in reuse), strict=True):
        results[i] = stored  # None: unreadable, removed by the store; the task runs again
    todo: list[int] = []
    for i, t in enumerate(tasks):
        done = results[i]
        if done is not None:
            stats.reused += 1
            if on_done:
                on_done(t, done, stats)
        else:
            todo.append(i)
    return todo


async def _admit(
    task: Task,
    store: RunStore,
    control: RunControl | None,
    budget: BudgetTracker | None,
    bucket: TokenBucket | None,
) -> Task | None:
    """The task as it may start now (with the steering that applies to it), after the
    checkpoint, the budget and the rate limit; None when the budget allows no more tasks.
    A stop (pause/cancel, a cap) raises."""
    if control is not None:
        msgs = await control.checkpoint(f"{task.stage}: {task.label}")
        if msgs:
            task = dataclasses.replace(task, steering=tuple(m.text for m in msgs))
    if budget is not None:
        if not budget.may_start_task():
            return None
        budget.check(stage=task.stage, run_id=store.run_id)
        budget.tasks_started += 1
    if bucket is not None:
        await bucket.acquire()
    return task


def _record_failure(store: RunStore, stats: FanOutStats, task: Task, e: Exception) -> None:
    stats.failed += 1
    stats.failures.append(f"{task.label}: {type(e).__name__}: {e}")
    store.append_jsonl(
        "trace.jsonl",
        {"event": "task_failed", "key": task.key, "stage": task.stage, "error": repr(e)},
    )


def require_all(stats: FanOutStats, stage: str, run_id: str) -> None:
    if stats.failed:
        shown = "; ".join(stats.failures[:3])
        raise RunError(
            f"{stats.failed} of {stats.total} tasks failed: {shown}", run_id=run_id, stage=stage
        )
