"""Offline synthesis at 10k / 50k / 100k findings: wall time and peak memory.

    python benchmarks/synthesis_scale.py --json [--sizes 10000,50000,100000]

Findings are sentences of real tickets (the bundled npm issues, or the NLBSE issues in
../shared when present), repeated with variations to reach each size (said so in the
output): each copy gets its own document id and a small random perturbation of its
embedding, so the clustering sees N distinct points. The sentences are embedded once by
MiniLM; each size then runs `ClusteringSynthesizer.synthesize` with those vectors in a
fresh process (peak RSS from getrusage), so the figures are the clustering, codes,
names and prevalence, not the encoder. Baseline in the same run: the same synthesis on
2,000 findings, so `time_ratio` and `growth_exponent` say how the cost grows.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NLBSE = REPO.parent / "shared" / "corpora" / "nlbse24-issues" / "train.csv"
NPM = REPO / "samples" / "npm-issues" / "tickets.jsonl"


def _sentences(limit: int = 3000) -> list[str]:
    import csv
    import re

    texts: list[str] = []
    if NLBSE.exists():
        csv.field_size_limit(1 << 30)
        with NLBSE.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                texts.append(f"{row.get('title', '')}. {row.get('body', '')}")
    else:
        for line in NPM.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            texts.append(f"{d.get('title', '')}. {d.get('body', '')}")
    out: list[str] = []
    for t in texts:
        for s in re.split(r"(?<=[.!?])\s+", t):
            s = " ".join(s.split())
            if 40 <= len(s) <= 300 and not s.startswith(("#", "```", "-", "*", ">")):
                out.append(s)
    return list(dict.fromkeys(out))[:limit]


def _prepare(work: Path) -> dict[str, Any]:
    import numpy as np

    from retrieval import Embedder

    sents = _sentences()
    vecs = Embedder().encode(sents)
    np.save(work / "base.npy", vecs)
    (work / "base.json").write_text(json.dumps(sents))
    return {"base_sentences": len(sents), "source": "nlbse24" if NLBSE.exists() else "npm-issues"}


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
from subagents.findings import Evidence, Finding
from subagents.offline.synthesis import ClusteringSynthesizer

work, n = Path(sys.argv[1]), int(sys.argv[2])
base = np.load(work / "base.npy"); sents = json.loads((work / "base.json").read_text())
rng = np.random.default_rng(0)
idx = np.arange(n) % len(sents)
vecs = base[idx] + rng.normal(0, 0.02, size=(n, base.shape[1])).astype(np.float32)
docs_per = 3  # findings per ticket, as the analyst gives on real tickets
findings = [
    Finding(id=f"f{i}", task_key="t", doc_id=f"t{i // docs_per}", claim=sents[j], confidence=0.7,
            evidence=[Evidence(doc_id=f"t{i // docs_per}", segment_id=f"t{i // docs_per}#0", quote=sents[j])])
    for i, j in enumerate(idx)
]
doc_ids = sorted({f.doc_id for f in findings})

class NoEncoder:
    def encode(self, texts):  # names and descriptions still need a few encodings
        from retrieval import Embedder
        return Embedder().encode(texts)

t0 = time.perf_counter()
syn = ClusteringSynthesizer(NoEncoder()).synthesize(findings, doc_ids, noun="tickets", vectors=vecs)
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
themed = sum(len(t.finding_ids) for t in syn.themes)
print(json.dumps({"seconds": seconds, "peak_mb": rss, "themes": len(syn.themes),
                  "themed_share": themed / n, "labels": [t.label for t in syn.themes]}))
"""


def _one(work: Path, n: int) -> dict[str, Any]:
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(work), str(n)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if p.returncode != 0:
        raise SystemExit(f"synthesis at {n} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sizes", default="10000,50000,100000")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    out: dict[str, Any] = {"note": "findings are real ticket sentences repeated with variations"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wb-synth-scale-") as tmp:
        work = Path(tmp)
        out.update(_prepare(work))
        base = _one(work, 2000)
        runs = {str(n): _one(work, n) for n in sizes}
    out["baseline_2000"] = base
    out["synthesis_s"] = {k: round(v["seconds"], 1) for k, v in runs.items()}
    out["synthesis_peak_mb"] = {k: round(v["peak_mb"]) for k, v in runs.items()}
    out["themes"] = {k: v["themes"] for k, v in runs.items()}
    out["themed_share"] = {k: round(v["themed_share"], 3) for k, v in runs.items()}
    out["labels"] = {k: v["labels"] for k, v in runs.items()}
    out["time_ratio_to_2000"] = {
        k: round(v["seconds"] / base["seconds"], 2) for k, v in runs.items()
    }
    xs = [math.log(2000)] + [math.log(n) for n in sizes]
    ys = [math.log(base["seconds"])] + [math.log(runs[str(n)]["seconds"]) for n in sizes]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    out["growth_exponent"] = round(
        sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        / sum((x - mx) ** 2 for x in xs),
        2,
    )
    out["seconds_total"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
