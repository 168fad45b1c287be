#!/usr/bin/env python
"""What the live panel costs a run, and how often it redraws.

    python benchmarks/widget_overhead.py --json [--runs 3] [--docs 6]

The same offline run (the `themes` recipe over sample meetings; the index is built
once beforehand and not timed) is started with `Project.start` several times,
alternating: headless (no listener but the handle's own) and watched by a `RunPanel`
redrawing every 0.25 s (widgets without a frontend: every redraw builds and serialises
its messages; only the send goes nowhere). Each kind's best time is kept.

- `updates_per_s`: the panel's redraws per second of run time (target >= 2)
- `slowdown_ratio`: watched time / headless time (target <= 1.05)
- `table_render_ms`: redrawing the findings table with 2,000 findings (one page)
- `events_per_s`: run events the panel's state folds per second
- `refresh_ms`: CPU time of one redraw during a run (stage bar, header, task-file poll);
  times 4 redraws a second, the panel's share of one core: the noise-free lower bound
  of the slowdown, which on a loaded machine the run-time ratio cannot resolve
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
QUESTION = "What do the teams want from the new remote control, and what worries them?"
MEETINGS = ["ES2002a", "IS1000a", "TS3005a", "ES2002b", "IS1000b", "TS3005b"]


def _timed_run(project, corpus, watched: bool) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from workbench.ui.panel import RunPanel

    t0 = time.perf_counter()
    handle = project.start(corpus, QUESTION, resume=False, on_event=lambda ev: None)
    panel = RunPanel(handle, refresh_s=0.25, thumbnails=False) if watched else None
    handle.wait()
    seconds = time.perf_counter() - t0
    rate = 0.0
    if panel is not None:
        rate = panel.updates / seconds
        panel.stop()
    return seconds, rate


def table_render_ms() -> float:
    from subagents.findings import Evidence, Finding
    from workbench.ui.panel import RunPanel

    panel = RunPanel(None, start=False, thumbnails=False)
    panel.state.add_findings(
        Finding(
            id=f"f{i}",
            task_key="k",
            doc_id=f"doc{i % 50}",
            claim=f"claim {i} " * 5,
            evidence=[Evidence(doc_id=f"doc{i % 50}", segment_id="s", quote=f"quote {i} " * 8)],
            confidence=0.5,
        )
        for i in range(2000)
    )
    times = []
    for _ in range(5):
        panel.state._touch("findings")
        t0 = time.perf_counter()
        panel.refresh()
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times), 2)


def refresh_ms(n: int = 200) -> float:
    from workbench.core.events import Event
    from workbench.runs.control import RunControl
    from workbench.runs.handle import RunHandle
    from workbench.runs.store import RunStore
    from workbench.ui.panel import RunPanel

    with tempfile.TemporaryDirectory(prefix="wb-refresh-") as tmp:
        handle = RunHandle(RunControl())
        store = RunStore.create(Path(tmp), "bench")
        handle.run_dir = store.dir
        for i in range(50):
            store.save_task(f"analyze-{i}", {"findings": []})
        panel = RunPanel(handle, start=False, thumbnails=False)
        t0 = time.process_time()
        for i in range(n):
            handle._on_event(Event("task_done", "analyze", f"doc{i}", done=i + 1, total=n))
            panel._next_tail = 0.0  # poll the task files every time (the panel: every 0.5 s)
            panel.refresh()
        return round(1000 * (time.process_time() - t0) / n, 3)


def events_per_s(n: int = 20_000) -> float:
    from workbench.core.events import Event
    from workbench.ui.state import PanelState

    st = PanelState()
    evs = [Event("task_done", "analyze", f"doc{i}", done=i + 1, total=n) for i in range(n)]
    t0 = time.perf_counter()
    for ev in evs:
        st.apply(ev)
    return round(n / (time.perf_counter() - t0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--runs", type=int, default=3, help="runs of each kind (alternating)")
    ap.add_argument("--docs", type=int, default=6, help="sample meetings in the corpus")
    args = ap.parse_args()

    import workbench as wb

    with tempfile.TemporaryDirectory(prefix="wb-widget-bench-") as tmp:
        corpus_dir = Path(tmp) / "meetings"
        corpus_dir.mkdir()
        for m in MEETINGS[: args.docs]:
            shutil.copy(REPO / "samples" / "ami-meetings" / f"{m}.json", corpus_dir)
        project = wb.Project(Path(tmp) / "project")
        corpus = wb.Corpus.load(corpus_dir)
        project.index_for(corpus).update(corpus.documents)  # not timed
        _timed_run(project, corpus, watched=False)  # warm-up: models, sandbox pool, caches
        headless, watched, rates = [], [], []
        for _ in range(args.runs):
            headless.append(_timed_run(project, corpus, watched=False)[0])
            s, r = _timed_run(project, corpus, watched=True)
            watched.append(s)
            rates.append(r)
    result = {
        "updates_per_s": round(statistics.median(rates), 2),
        "slowdown_ratio": round(min(watched) / min(headless), 3),
        "headless_s": [round(s, 2) for s in headless],
        "watched_s": [round(s, 2) for s in watched],
        "table_render_ms": table_render_ms(),
        "events_per_s": events_per_s(),
        "refresh_ms": refresh_ms(),
        "documents": args.docs,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
