"""Retrieval quality on the benchmarks in <repo>/../shared/bench (dev parts), per retriever.

    python benchmarks/retrieval_bench.py --json [--only repo-nav|meeting-spans] [--limit N] [--before]

repo-nav-pytest needs the pytest 9.1.1 sdist; it is fetched once with
`pip download --no-deps --no-binary :all: pytest==9.1.1` into the cache folder
($WORKBENCH_CACHE or ~/.cache/research-workbench). Indexes are cached there too and
updated incrementally, so a second run only re-embeds what changed. The first run
embeds every chunk (about 5,600 code chunks and 15,500 meeting windows): on 2 CPU cores
that takes tens of minutes.

Prints one JSON object: {bench name: {"fused": {...}, "bm25": {...}, "dense": {...},
"synthetic": {...}, "structure": {...}}}, the same shape as `workbench eval retrieval
--json` per bench. `--before` adds "fused_before" to the file-ranking bench: the document
ranking without the code map and with the earlier fusion, on the same index in the same
run (`retrieval.docrank.BEFORE_STRUCTURE`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.docrank import BEFORE_STRUCTURE  # noqa: E402
from retrieval.eval import evaluate  # noqa: E402

SHARED = ROOT.parent / "shared"


def cache_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_CACHE", Path.home() / ".cache" / "research-workbench"))


def pytest_sdist() -> Path:
    target = cache_dir() / "corpora" / "pytest-9.1.1"
    sdist = target / "pytest-9.1.1.tar.gz"
    if not sdist.exists():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "pytest==9.1.1", "-d", str(target)],
            check=True, capture_output=True,
        )  # fmt: skip
    return sdist


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["repo-nav", "meeting-spans"])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--before", action="store_true")
    args = parser.parse_args()
    benches = {
        "repo-nav": (SHARED / "bench" / "repo-nav-pytest.dev.json", pytest_sdist),
        "meeting-spans": (
            SHARED / "bench" / "meeting-spans-qmsum-product.dev.json",
            lambda: SHARED / "corpora" / "ami-meetings",
        ),
    }
    out: dict[str, object] = {}
    for name, (bench, corpus) in benches.items():
        if args.only and args.only != name:
            continue
        t0 = time.perf_counter()
        log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr))
        compare = {"fused_before": BEFORE_STRUCTURE} if args.before else None
        result = evaluate(bench, corpus(), limit=args.limit, progress=log, compare=compare)
        out[json.loads(bench.read_text())["name"]] = result
        if not args.json:
            print(f"{name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
