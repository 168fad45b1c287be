"""Fan-out overhead: 10,000 tasks with a zero-latency FunctionModel, persistence included.

    python benchmarks/fanout_overhead.py --json

Measures, in one run on this machine:
- `tasks_per_s`: our asyncio executor (`workbench.runs.fanout.fan_out`) running 10,000 tasks,
  each one call to a zero-latency `FunctionModel` whose result is persisted atomically
  (one file per idempotency key) before it counts, with the run's control (steering
  checkpoint) and budget tracker on the path, as in a real run;
- `langgraph_ratio`: our speed / LangGraph's for the same 10,000 tasks fanned out with
  `Send` to a node making the same model call (LangGraph persists nothing here, so the
  comparison favours it);
- `resume_ratio`: a run is started in a child process and killed with SIGKILL once half
  of its results are on disk; resuming it takes this fraction of a full run's time. The
  resume is timed from the executor's start to its end: it lists the finished results,
  reads and parses every one of them, runs the rest, and must return the same results,
  in task order, as an uninterrupted run (checked, outside the timing).

The headline figures use the default task store, `task_store="files"`: one atomic file
per task (`tasks/<key>.json`, the run layout of DESIGN.md). `task_store="journal"` (one
appended line per task) is reported under `journal` for comparison. Each timing is the
best of 3; full runs and resumes alternate, so that both see the same machine: it may be
shared, and on it the cost of creating a file has been seen to vary tenfold over minutes
(`full_s` and `resume_s` list every run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import operator
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from subagents.models.messages import ModelRequest, user
from subagents.testing.models import FunctionModel
from workbench.core.settings import Budgets
from workbench.runs.budgets import BudgetTracker
from workbench.runs.control import RunControl
from workbench.runs.fanout import Task, fan_out, idempotency_key
from workbench.runs.store import RunStore

N = 10_000
CONCURRENCY = 64
REPEATS = 3
REQUEST = ModelRequest(messages=[user("classify this")], max_tokens=16)


class State(TypedDict):
    n: int
    results: Annotated[list[dict[str, Any]], operator.add]


class Item(TypedDict):
    i: int


def make_tasks(n: int) -> list[Task]:
    return [
        Task(key=idempotency_key("bench", "v1", i=i), stage="bench", label=f"task {i}", payload=i)
        for i in range(n)
    ]


def make_work() -> Any:
    model = FunctionModel(lambda request: "ok")

    async def work(task: Task) -> dict[str, Any]:
        r = await model.complete(REQUEST)
        return {"i": task.payload, "text": r.text, "output_tokens": r.usage.output_tokens}

    return work


async def ours(store: RunStore, tasks: list[Task]) -> tuple[float, list[dict[str, Any]], int]:
    """One fan-out of `tasks` into `store`: seconds, the results, how many were reused."""
    control = RunControl()
    control.attach(store)
    control.bind_loop()
    t0 = time.perf_counter()
    results, stats = await fan_out(
        tasks,
        make_work(),
        store,
        concurrency=CONCURRENCY,
        control=control,
        budget=BudgetTracker(Budgets()),
    )
    elapsed = time.perf_counter() - t0
    store.close()
    assert [r["i"] for r in results] == [t.payload for t in tasks]
    assert stats.reused + stats.executed == len(tasks)
    return elapsed, results, stats.reused


async def langgraph(n: int) -> float:
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Send

    model = FunctionModel(lambda request: "ok")

    async def work(item: Item) -> dict[str, Any]:
        r = await model.complete(REQUEST)
        return {"results": [{"i": item["i"], "text": r.text}]}

    def fan(state: State) -> list[Any]:
        return [Send("work", {"i": i}) for i in range(state["n"])]

    g = StateGraph(State)
    g.add_node("work", work)
    g.add_conditional_edges(START, fan, ["work"])
    g.add_edge("work", END)
    app = g.compile()
    t0 = time.perf_counter()
    out = await app.ainvoke(
        {"n": n, "results": []}, config={"recursion_limit": 10 * n, "max_concurrency": CONCURRENCY}
    )
    elapsed = time.perf_counter() - t0
    assert len(out["results"]) == n
    return elapsed


def child(run_dir: str, journal: bool) -> None:
    """The process the resume measurement kills: a full run into `run_dir`."""
    asyncio.run(ours(RunStore(Path(run_dir), journal=journal), make_tasks(N)))


def _finished(run_dir: Path, journal: bool) -> int:
    if journal:
        path = run_dir / "tasks" / "journal.jsonl"
        return path.read_bytes().count(b"\n") if path.exists() else 0
    return sum(1 for _ in os.scandir(run_dir / "tasks"))


def killed_run(root: Path, journal: bool) -> Path:
    """A full run in a child process, killed with SIGKILL once half of it is on disk."""
    run_dir = root / f"killed-{'journal' if journal else 'files'}"
    (run_dir / "tasks").mkdir(parents=True)
    cmd = [sys.executable, __file__, "--child", str(run_dir)]
    proc = subprocess.Popen([*cmd, "--journal"] if journal else cmd)
    try:
        while proc.poll() is None:
            if _finished(run_dir, journal) >= N // 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)  # polling the filesystem for observable progress
    finally:
        proc.wait()
    return run_dir


def measure(root: Path, journal: bool, lg_s: float) -> dict[str, Any]:
    """Full runs and resumes of the killed run, alternating; best of REPEATS each."""
    tasks = make_tasks(N)
    killed = killed_run(root, journal)
    done = len(RunStore(killed, journal=journal).finished_tasks())
    full, resumed = [], []
    for i in range(REPEATS):
        store = RunStore.create(root, f"{'journal' if journal else 'files'}{i}", journal=journal)
        full_s, reference, _ = asyncio.run(ours(store, tasks))
        full.append(full_s)
        copy = root / f"{killed.name}-{i}"  # each resume from its own copy of the killed run
        shutil.copytree(killed, copy)
        resume_s, results, reused = asyncio.run(ours(RunStore(copy, journal=journal), tasks))
        resumed.append(resume_s)
        assert reused == done and results == reference  # every finished result, as it was
    return {
        "tasks_per_s": round(N / min(full), 1),
        "langgraph_ratio": round(lg_s / min(full), 2),
        "resume_ratio": round(min(resumed) / min(full), 3),
        "done_at_kill": round(done / N, 3),
        "full_s": [round(x, 3) for x in full],
        "resume_s": [round(x, 3) for x in resumed],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child")
    ap.add_argument("--journal", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.journal)
        return
    with tempfile.TemporaryDirectory(prefix="wb-fanout-") as tmp:
        root = Path(tmp)
        lg_s = min(asyncio.run(langgraph(N)) for _ in range(REPEATS))
        files = measure(root, journal=False, lg_s=lg_s)
        journal = measure(root, journal=True, lg_s=lg_s)
    result = {
        "tasks": N,
        **files,
        "persistence": "task_store='files' (default): one atomic file per task, before it counts",
        "langgraph_tasks_per_s": round(N / lg_s, 1),
        "journal": {
            "persistence": "task_store='journal': one appended line per task, before it counts",
            **journal,
        },
        "concurrency": CONCURRENCY,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
