"""Corpora of thousands: end to end, synthesis, embedder and model-engine figures (issue #19).

    python benchmarks/scale.py --json                      # everything (hours on 2 cores)
    python benchmarks/scale.py --json --sizes 150,500 --skip synthesis,retrieval,model

Prints one JSON object with these keys (a figure that could not be measured is null and
its reason is under `notes`):

- `e2e_s`: {"150", "500", "1500", "20000"} -> seconds of `Project.analyze` (offline
  engine, the question below) on the first N NLBSE'24 tickets
  (<repo>/../shared/corpora/nlbse24-issues/train.csv). That file has 1,500 tickets: the
  20,000-document corpus is those tickets repeated with variations (each copy drops some
  sentences of the body, and its title and body get a variant marker), which is said in
  `corpus_20000`. Each size runs in a fresh process; `stages_s` has its wall time per
  stage (load, index, then each plan stage) and `peak_rss_mb` its peak resident memory.
- `growth_exponent`: the slope of log(seconds) on log(documents) over the sizes run.
- `peak_rss_mb_20000`: peak RSS of the 20,000-document run.
- `synthesis_s`, `synthesis_peak_mb`: {"10000", "50000", "100000"} findings through the
  offline synthesis that is on this branch, each size in a fresh process under an 8 GiB
  address-space limit (so that a quadratic step fails alone rather than take the shared
  machine's memory). The findings are sentences of the real tickets (repeated with
  variations past the pool); their vectors come from the real embedder once per distinct
  sentence, and a variation is its sentence's vector with a small deterministic noise, so
  the time is the synthesis's, not a re-measure of the embedder (see `embed_speedup`).
- `embed_speedup`: chunks/s of the default embedder over the torch path on the same
  ticket chunks, the two alternated in this run (`embed`: the rounds).
- `retrieval_delta`: the largest drop from the torch embedder to the default one on the
  headline metrics of the two dev retrieval benchmarks (repo-nav R@5, meeting-spans hit@5
  and turn_recall@5), from `benchmarks/embedder_quality.py` (`retrieval`: every backend).
- `max_request_tokens_5000_docs`, `small_window_completed`: from
  `benchmarks/model_context.measure()` when that module is present.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TICKETS = ROOT.parent / "shared" / "corpora" / "nlbse24-issues" / "train.csv"
QUESTION = "What problems do users report, and what do they ask for?"
E2E_SIZES = (150, 500, 1500, 20000)
SYNTH_SIZES = (10_000, 50_000, 100_000)
SYNTH_MEMORY_LIMIT = 8 << 30


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)


def read_tickets() -> list[dict[str, str]]:
    csv.field_size_limit(max(csv.field_size_limit(), TICKETS.stat().st_size + 1))
    with TICKETS.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def varied(row: dict[str, str], copy: int, rng: random.Random) -> dict[str, str]:
    """Copy `copy` (>= 1) of a ticket: some body sentences dropped, a variant marker added."""
    parts = [p for p in _SENTENCE.split(row["body"]) if p.strip()]
    kept = [p for p in parts if rng.random() > 0.2] or parts[:1]
    marker = f"(report {copy + 1} of this problem)"
    return {
        **row,
        "title": f"{row['title']} {marker}",
        "body": "\n".join(kept) + f"\n\nSeen again, {marker}.",
    }


def write_corpus(rows: list[dict[str, str]], n: int, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    out: list[dict[str, str]] = []
    rng = random.Random(19)
    copy = 0
    while len(out) < n:
        for row in rows:
            if len(out) >= n:
                break
            out.append(row if copy == 0 else varied(row, copy, rng))
        copy += 1
    if n <= 5000:
        with (folder / "tickets.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(out)
    else:
        # the loader refuses a file over 20 MiB (20,000 tickets are ~39 MiB), and its CSV
        # dialect sniffing misreads some 5,000-ticket slices: JSON lines, 5,000 a file
        for part, first in enumerate(range(0, n, 5000)):
            lines = [json.dumps(r, ensure_ascii=False) for r in out[first : first + 5000]]
            (folder / f"tickets-{part + 1}.jsonl").write_text(
                "\n".join(lines) + "\n", encoding="utf-8"
            )
    if n <= len(rows):
        return f"the first {n} real tickets"
    return (
        f"{len(rows)} real tickets repeated with variations to {n} "
        f"({copy - 1} varied copies of each: body sentences dropped at random, a marker added)"
    )


# ----------------------------------------------------------------------------- end to end
def one_e2e(n: int, workdir: Path) -> dict[str, Any]:
    """One end-to-end run (called in a fresh process by `e2e`)."""
    import workbench as wb
    from workbench.core.settings import Settings

    t0 = time.perf_counter()
    described = write_corpus(read_tickets(), n, workdir / "corpus")
    marks: dict[str, list[float]] = {}

    def on_event(event: Any) -> None:
        now = time.perf_counter()
        stage = getattr(event, "stage", "") or ""
        span = marks.setdefault(stage, [now, now])
        span[1] = now

    project = wb.Project(workdir / "project", settings=Settings(engine="offline"))
    start = time.perf_counter()
    run = project.analyze(workdir / "corpus", QUESTION, on_event=on_event)
    total = time.perf_counter() - start
    timings = dict(run.record.timings_s)
    stages = {k: round(b - a, 2) for k, (a, b) in marks.items() if k}
    # outside the run's own timings: opening the project, the run bundle, start-up
    stages["other"] = round(total - float(timings.get("total") or 0.0), 2)
    themed = {d for t in run.themes for d in t.doc_ids}
    outside = run.synthesis.unassigned_doc_ids
    return {
        "documents": n,
        "corpus": described,
        "seconds": round(total, 2),
        "status": run.status,
        "stages_s": {**{k: v for k, v in timings.items() if k != "total"}, **stages},
        "findings": len(run.findings),
        "themes": len(run.themes),
        # what a support lead reads: each theme's label and tickets, and how many tickets
        # are in a theme or listed outside them with the reason
        "theme_labels": [f"{t.label} ({t.n_documents})" for t in run.themes],
        "themed_share": round(len(themed) / max(1, len(themed) + len(outside)), 3),
        "unthemed_with_reason": sum(1 for d in outside if run.synthesis.unassigned_reasons.get(d)),
        "peak_rss_mb": peak_rss_mb(),
        "prepare_s": round(start - t0, 2),
    }


def in_subprocess(args: list[str], timeout: float, memory: int | None = None) -> dict[str, Any]:
    def limit() -> None:
        os.nice(5)
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    try:
        proc = subprocess.run(
            [sys.executable, __file__, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail[:300]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def e2e(sizes: list[int], timeout: float) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"wb-scale-{n}-") as tmp:
            runs[str(n)] = in_subprocess(["--one-e2e", str(n), "--workdir", tmp], timeout)
        print(f"e2e {n}: {runs[str(n)]}", file=sys.stderr)
    return runs


def growth_exponent(points: dict[int, float]) -> float | None:
    pts = [(math.log(n), math.log(s)) for n, s in points.items() if s and s > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return round(sum((x - mx) * (y - my) for x, y in pts) / sxx, 3) if sxx else None


# ----------------------------------------------------------------------------- synthesis
def one_synthesis(n: int) -> dict[str, Any]:
    import numpy as np

    from retrieval import Embedder
    from subagents.findings import Evidence, Finding
    from subagents.offline.synthesis import ClusteringSynthesizer

    rows = read_tickets()
    pool: list[tuple[str, int]] = []
    for i, row in enumerate(rows):
        for part in _SENTENCE.split(row["body"]):
            words = part.split()
            if 6 <= len(words) <= 40 and not part.lstrip().startswith(("#", "```", "|")):
                pool.append((part.strip(), i))
    pool = list(dict.fromkeys(pool))[: min(8000, n)]
    vectors = Embedder().encode([t for t, _ in pool])
    index = {t: v for (t, _), v in zip(pool, vectors, strict=True)}
    rng = np.random.default_rng(19)

    class PoolEncoder:
        """The real embedder's vector of each pool sentence; a variant gets a little noise."""

        def encode(self, texts: list[str]) -> np.ndarray:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            for i, text in enumerate(texts):
                base, _, copy = text.partition(" [copy ")
                v = index.get(base)
                if v is None:
                    v = vectors[hash(base) % len(vectors)]
                if copy:
                    v = v + rng.normal(0, 0.02, v.shape).astype(np.float32)
                out[i] = v / np.linalg.norm(v)
            return out

    findings = []
    docs_per = max(1, n // 3)
    for i in range(n):
        text, row = pool[i % len(pool)]
        copy = i // len(pool)
        doc = f"t/{(row + copy * len(rows)) % docs_per}"
        claim = text if copy == 0 else f"{text} [copy {copy}]"
        findings.append(
            Finding(
                id=f"f{i}",
                task_key="bench",
                doc_id=doc,
                claim=claim,
                evidence=[Evidence(doc_id=doc, segment_id=f"{doc}#0", quote=text)],
                confidence=0.6,
            )
        )
    doc_ids = sorted({f.doc_id for f in findings})
    start = time.perf_counter()
    result = ClusteringSynthesizer(PoolEncoder()).synthesize(
        findings, doc_ids, noun="tickets", question=QUESTION
    )
    return {
        "findings": n,
        "seconds": round(time.perf_counter() - start, 2),
        "themes": len(result.themes),
        "peak_rss_mb": peak_rss_mb(),
    }


def synthesis(sizes: list[int], timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in sizes:
        out[str(n)] = in_subprocess(["--one-synthesis", str(n)], timeout, SYNTH_MEMORY_LIMIT)
        print(f"synthesis {n}: {out[str(n)]}", file=sys.stderr)
    return out


# ----------------------------------------------------------------------------- embedder
def embed_speed(rounds: int, limit: int) -> dict[str, Any]:
    from retrieval import Embedder, load_corpus
    from retrieval.chunking import chunk_documents, search_text

    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(read_tickets(), limit, Path(tmp))
        docs = load_corpus(Path(tmp)).documents
    texts = [search_text(c) for c in chunk_documents(docs)]
    backends = {"default": Embedder(), "torch": Embedder(backend="torch")}
    for e in backends.values():
        e.encode(texts[:4])  # load (and, the first time, build) the model
    rates: dict[str, list[float]] = {k: [] for k in backends}
    for _ in range(rounds):
        for name, e in backends.items():
            start = time.perf_counter()
            e.encode(texts)
            rates[name].append(round(len(texts) / (time.perf_counter() - start), 2))
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    return {
        "chunks": len(texts),
        "backend": backends["default"].name,
        "chunks_per_s": rates,
        "speedup": round(mean["default"] / mean["torch"], 3),
    }


# ----------------------------------------------------------------------------- retrieval
def retrieval(cache: Path, timeout: float) -> dict[str, Any]:
    from benchmarks.embedder_quality import measure

    r = measure(["torch", "onnx-int8", "onnx-fp32"], cache, timeout=timeout)
    return {"headlines": r["headlines"], "retrieval_delta": r["retrieval_delta"]}


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default=",".join(map(str, E2E_SIZES)))
    parser.add_argument("--synthesis-sizes", default=",".join(map(str, SYNTH_SIZES)))
    parser.add_argument(
        "--skip", default="", help="comma list: e2e,synthesis,embed,retrieval,model"
    )
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="per end-to-end run")
    parser.add_argument("--embed-rounds", type=int, default=2)
    parser.add_argument("--embed-tickets", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=None, help="retrieval bench caches")
    parser.add_argument("--one-e2e", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-synthesis", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_e2e:
        print(json.dumps(one_e2e(args.one_e2e, args.workdir)))
        return
    if args.one_synthesis:
        print(json.dumps(one_synthesis(args.one_synthesis)))
        return
    if not TICKETS.exists():
        sys.exit(f"{TICKETS} not found: the scale benchmark needs the NLBSE'24 tickets")
    skip = set(filter(None, args.skip.split(",")))
    out: dict[str, Any] = {"question": QUESTION, "notes": {}}
    notes: dict[str, str] = out["notes"]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if "e2e" not in skip:
        runs = e2e(sizes, args.timeout)
        out["e2e"] = runs
        out["e2e_s"] = {k: r.get("seconds") for k, r in runs.items()}
        out["growth_exponent"] = growth_exponent({int(k): s for k, s in out["e2e_s"].items() if s})
        out["peak_rss_mb_20000"] = runs.get("20000", {}).get("peak_rss_mb")
        out["corpus_20000"] = runs.get("20000", {}).get("corpus")
        for k, r in runs.items():
            if "error" in r:
                notes[f"e2e {k}"] = r["error"]
    if "synthesis" not in skip:
        synth = synthesis([int(s) for s in args.synthesis_sizes.split(",") if s], 3600)
        out["synthesis"] = synth
        out["synthesis_s"] = {k: r.get("seconds") for k, r in synth.items()}
        out["synthesis_peak_mb"] = {k: r.get("peak_rss_mb") for k, r in synth.items()}
        for k, r in synth.items():
            if "error" in r:
                notes[f"synthesis {k}"] = r["error"]
    if "embed" not in skip:
        try:
            out["embed"] = embed_speed(args.embed_rounds, args.embed_tickets)
            out["embed_speedup"] = out["embed"]["speedup"]
        except Exception as exc:  # torch not installed: the default path has none
            out["embed_speedup"] = None
            notes["embed_speedup"] = f"{type(exc).__name__}: {exc}"
    if "retrieval" not in skip:
        cache = args.cache or Path(tempfile.gettempdir()) / "wb-scale-retrieval"
        r = retrieval(cache, 6 * 3600)
        out["retrieval"] = r["headlines"]
        out["retrieval_delta"] = r["retrieval_delta"]
    if "model" not in skip:
        try:
            from benchmarks.model_context import measure  # type: ignore[import-not-found]
        except ImportError:
            out["max_request_tokens_5000_docs"] = None
            out["small_window_completed"] = None
            notes["model"] = (
                "benchmarks/model_context.py (the model-engine measure, issue 16) is not on "
                "this branch"
            )
        else:
            m = measure(5000)
            out["model_context"] = {k: v for k, v in m.items() if not isinstance(v, dict)}
            out["max_request_tokens_5000_docs"] = m["max_request_tokens_5000_docs"]
            out["small_window_completed"] = m["small_window_completed"]
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
