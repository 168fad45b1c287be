"""Retrieval quality per embedder backend on the two dev retrieval benchmarks.

    python benchmarks/embedder_quality.py --json [--backends torch,onnx-int8,onnx-fp32]
        [--cache DIR] [--only repo-nav|meeting-spans]

Each backend runs `benchmarks/retrieval_bench.py --json` in a process of its own with
`WORKBENCH_EMBEDDER` set and its own cache folder (`DIR/<backend>`: the indexes are per
embedder, so a second run only queries). The reference is `torch` (the embedder before
the ONNX default). Prints one JSON object:

- `headlines`: {"<bench> <metric>": {backend: value}} for repo-nav R@5 and meeting-spans
  hit@5 and turn_recall@5 (the fused retriever);
- `drop`: per backend, the largest drop from torch on those metrics (negative: a gain);
- `retrieval_delta`: that drop for the default backend (`retrieval.embedder.DEFAULT_BACKEND`);
- `seconds`: per backend, the wall time of its run (embedding, when the cache is cold).

`benchmarks/scale.py` reports the same `retrieval_delta` from `measure`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADLINES = {
    "repo-nav-pytest": ("R@5",),
    "meeting-spans-qmsum-product": ("hit@5", "turn_recall@5"),
}
REFERENCE = "torch"


def run_backend(backend: str, cache: Path, only: str | None, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "WORKBENCH_EMBEDDER": backend, "WORKBENCH_CACHE": str(cache / backend)}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "retrieval_bench.py"), "--json"]
    if only:
        cmd += ["--only", only]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"retrieval_bench.py with {backend} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure(
    backends: list[str], cache: Path, *, only: str | None = None, timeout: float = 6 * 3600
) -> dict[str, Any]:
    from retrieval.embedder import DEFAULT_BACKEND

    wanted = list(dict.fromkeys([REFERENCE, DEFAULT_BACKEND, *backends]))
    results: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    for backend in wanted:
        start = time.perf_counter()
        results[backend] = run_backend(backend, cache, only, timeout)
        seconds[backend] = round(time.perf_counter() - start, 1)
    headlines: dict[str, dict[str, float]] = {}
    for bench, metrics in HEADLINES.items():
        if bench not in results[REFERENCE]:
            continue
        for m in metrics:
            headlines[f"{bench} {m}"] = {b: results[b][bench]["fused"][m] for b in wanted}
    drop = {
        b: round(max(v[REFERENCE] - v[b] for v in headlines.values()), 4)
        for b in wanted
        if b != REFERENCE
    }
    return {
        "default": DEFAULT_BACKEND,
        "headlines": headlines,
        "drop": drop,
        "retrieval_delta": drop[DEFAULT_BACKEND] if DEFAULT_BACKEND != REFERENCE else 0.0,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backends", default="torch,onnx-int8,onnx-fp32")
    parser.add_argument("--only", choices=["repo-nav", "meeting-spans"])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "wb-embedder-quality"
    )
    args = parser.parse_args()
    out = measure([b for b in args.backends.split(",") if b], args.cache, only=args.only)
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
