"""The Ray backend of the fan-out executor: same task contract, work in Ray actors.

`ray_fan_out` is `fanout.fan_out` with each task's work sent to one of a pool of Ray
actors; everything else (idempotency keys, persisting before counting, results in task
order, steering, pause/cancel, budgets) stays in the driver and is the very same code,
so both backends give identical results.

Each actor builds its worker once from the engine's `worker_spec()` (plain data): the
offline engine's worker opens the index from its directory, so on a multi-machine
cluster that directory must be on a shared filesystem (or the index served by Chroma
with CHROMA_HOST set). `ray.init(address=...)` joins an existing cluster; without an
address a local one is started. The model engine runs on the asyncio executor only:
an injected model (a test double, a client with its own base URL) cannot be shipped
to other processes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from workbench.core.errors import UserError
from workbench.runs.fanout import FanOutStats, Task, fan_out
from workbench.runs.store import RunStore


class _Worker:
    """The actor body: builds the engine's worker once, then runs tasks."""

    def __init__(self, spec: Any) -> None:
        self.worker = spec.build()

    def run(self, task: Task) -> dict[str, Any]:
        result: dict[str, Any] = self.worker.analyze_sync(task)
        return result


def ensure_ray(address: str | None, num_cpus: int | None = None) -> Any:
    try:
        import ray
    except ModuleNotFoundError as e:
        raise UserError("executor='ray' needs Ray: pip install 'research-workbench[ray]'") from e
    if not ray.is_initialized():
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    return ray


async def ray_fan_out(
    tasks: list[Task],
    runner: Any,
    store: RunStore,
    *,
    concurrency: int,
    address: str | None = None,
    **contract: Any,
) -> tuple[list[dict[str, Any]], FanOutStats]:
    """Run `tasks` on Ray actors; `contract` is passed to `fan_out` unchanged."""
    spec_of = getattr(runner, "worker_spec", None)
    if spec_of is None:
        raise UserError(
            f"executor='ray' cannot run the {runner.name} engine; use executor='asyncio'"
        )
    todo = [t for t in tasks if not store.has_task(t.key)]
    n = max(1, min(concurrency, len(todo)))
    if not todo:
        return await fan_out(tasks, _never, store, concurrency=1, **contract)
    ray = ensure_ray(address, num_cpus=None)
    actor_cls = ray.remote(num_cpus=0.5)(_Worker)
    spec = spec_of()
    actors = [actor_cls.remote(spec) for _ in range(n)]
    idle: asyncio.Queue[Any] = asyncio.Queue()
    for a in actors:
        idle.put_nowait(a)

    async def run_task(task: Task) -> dict[str, Any]:
        actor = await idle.get()
        try:
            result: dict[str, Any] = await actor.run.remote(task)
            return result
        finally:
            idle.put_nowait(actor)

    try:
        return await fan_out(tasks, run_task, store, concurrency=n, **contract)
    finally:
        for a in actors:
            ray.kill(a)


async def _never(task: Task) -> dict[str, Any]:
    raise AssertionError("every task was already finished")
