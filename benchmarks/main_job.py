"""The main job's baselines: a cold run (index + analysis + exports), a second run on the
same project (index reused), and the cost of `import workbench`.

    python benchmarks/main_job.py --json [--corpus DIR] [--question Q]

Each run is a separate `workbench analyze` process; peak memory is the largest resident
set of any process of that run (the CLI or its sandbox kernel), from getrusage.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTION = "What do the teams want from the new remote control, and what worries them?"


def _measure(cmd: list[str]) -> tuple[float, float, dict]:
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'rc': p.returncode, 'wall': wall, 'rss_mb': rss, 'out': p.stdout, 'err': p.stderr[-2000:]}))\n"
    )
    res = json.loads(
        subprocess.run(
            [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True
        ).stdout
    )
    if res["rc"] != 0:
        raise SystemExit(f"run failed: {res['err']}")
    return res["wall"], res["rss_mb"], json.loads(res["out"])


def _import_cost(n: int = 15) -> dict[str, float]:
    def t(code: str) -> float:
        samples = []
        for _ in range(n):
            s = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - s)
        return statistics.median(samples) * 1000

    bare = t("pass")
    wb = t("import workbench")
    return {
        "import_workbench_ms": round(wb - bare, 1),
        "python_startup_ms": round(bare, 1),
        "import_ratio_to_startup": round(wb / bare, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--corpus", type=Path, default=REPO.parent / "shared" / "corpora" / "ami-meetings"
    )
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--project", type=Path, default=None, help="default: a fresh temp dir")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    project = args.project or Path(tempfile.mkdtemp(prefix="wb-bench-"))
    cli = [
        sys.executable,
        "-m",
        "workbench.cli.app",
        "analyze",
        str(args.corpus),
        "-q",
        args.question,
        "--project",
        str(project),
        "--json",
    ]
    cold_wall, cold_rss, cold = _measure(cli)
    warm_wall, warm_rss, warm = _measure([*cli, "--new-run"])
    out = {
        "corpus": str(args.corpus),
        "documents": cold["documents"],
        "findings": cold["findings"],
        "themes": [
            f"{t['label']} ({t['n_documents']}/{t['total_documents']})" for t in cold["themes"]
        ],
        "cold_wall_s": round(cold_wall, 1),
        "cold_peak_rss_mb": round(cold_rss),
        "cold_timings_s": cold["timings_s"],
        "second_wall_s": round(warm_wall, 1),
        "second_peak_rss_mb": round(warm_rss),
        "second_timings_s": warm["timings_s"],
        "second_to_cold_ratio": round(warm_wall / cold_wall, 3),
        **_import_cost(),
    }
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
