"""The same fan-out against both model backends: Anthropic Messages and OpenAI-compatible.

    python benchmarks/model_fanout.py --json

Each "sub-agent call" is a full `Agent.run` through the real client (real SDK, real
HTTP) to a fake server on loopback: `AnthropicModel` -> `FakeAnthropicServer`,
`OpenAICompatibleModel` -> `FakeOpenAIServer` (JSON-schema structured output, since the
benchmark analyst has no tools).

1. faulted, per backend: 2,000 calls against a limit of 600 requests per window
   (token bucket, capacity = the limit), 200 ms +- 100 ms latency, 10% of responses
   faulted (2.5% each: injected 429, 529 / 503 overloaded, 500, slow).
   - throughput_ratio = requests the bucket admitted / (capacity + refill x elapsed);
   - rate_429_fraction = 429s from the enforced limit / requests sent (the injected
     429s are faults, reported apart as `injected_429`);
   - cost_matches: the client's cost and usage equal the server's usage priced by the
     same table (the OpenAI backend is priced like a hosted model so cost is not 0).
2. malformed, per backend: 2,000 calls, no rate limit, 20% of responses malformed
   (10% unparseable or schema-breaking tool input, 10% missing a required field). Each
   task analyses its own generated document; 5% of well-formed answers add a finding
   whose quote is a paraphrase. The findings then pass the verbatim gate
   (`subagents.verify.check_findings`).
   - completed: every task ended with a result (ok or abstained);
   - quotes_verbatim: every quote the gate kept is a substring of its segment, and the
     gate dropped exactly the paraphrases;
   - repaired_share: tasks whose answer was sent back for repair at least once.

Time scaling: the window is 15 s instead of 60 s (x4 faster); every ratio is the same.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.types import Document, Segment
from subagents.agent import Agent, AgentTask, ContextDocument
from subagents.models.anthropic import AnthropicModel
from subagents.models.messages import Usage
from subagents.models.openai_compat import OpenAICompatibleModel
from subagents.models.pricing import ModelPrice, PriceTable
from subagents.models.ratelimit import AdaptiveLimiter
from subagents.outputs import AnalystOutput
from subagents.spec_loader import parse_spec
from subagents.testing.fake_openai_server import (
    FakeOpenAIConfig,
    FakeOpenAIServer,
    OpenAIFaultPlan,
    blocks_responder,
)
from subagents.testing.fake_server import FakeAnthropicServer, FakeServerConfig, FaultPlan
from subagents.verify import check_findings

SPEC = parse_spec(
    "---\nname: bench-analyst\ndescription: benchmark analyst that answers in one call\n"
    "tier: worker\ntools: []\noutput: analyst-findings\nmax_steps: 8\n---\n"
    "Read the document and return findings with verbatim quotes, or abstain.\n",
    source="benchmark",
)
SHARED = "Meeting transcript shared by every task of the stage. " * 40
OPENAI_TIERS = {"lead": "hosted-large", "worker": "hosted-medium", "fast": "hosted-small"}
OPENAI_PRICES = PriceTable(
    {
        m: ModelPrice(Decimal("2"), Decimal("8"), cache_read=Decimal("0.5"))
        for m in OPENAI_TIERS.values()
    }
)
WORDS = "remote battery button screen voice menu colour price weight scroll wheel case".split()


def make_document(i: int) -> Document:
    """A small generated transcript: five turns, each a different sentence."""
    texts = [
        f"Turn {k} of doc{i:05d}: the {WORDS[(i + k) % len(WORDS)]} should be "
        f"{['simpler', 'lighter', 'cheaper', 'louder', 'brighter'][(i * 3 + k) % 5]} for most users."
        for k in range(5)
    ]
    segments, text, at = [], "", 0
    for k, t in enumerate(texts):
        segments.append(
            Segment(
                id=f"doc{i:05d}#{k}",
                doc_id=f"doc{i:05d}",
                index=k,
                text=t,
                speaker="A" if k % 2 else "B",
                start_char=at,
                end_char=at + len(t),
            )
        )
        text += t + "\n"
        at += len(t) + 1
    return Document(id=f"doc{i:05d}", kind="conversation", title=f"doc{i:05d}",
                    source_path=f"doc{i:05d}.txt", text=text, segments=segments)  # fmt: skip


def paraphrases(doc_id: str) -> bool:
    return int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) % 100 < 5


def responder(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages-shaped: one verbatim finding from the task's document (plus a paraphrase
    for 5% of documents); in the faulted runs the shared context has no document."""
    first = body["messages"][0]["content"]
    docs = [b for b in first if b.get("type") == "document" and b.get("title") != "shared"]
    task_text = next(b["text"] for b in first if b.get("type") == "text")
    doc_id = task_text.split("document ")[-1].split(".")[0]
    seg_id, quote = f"{doc_id}#3", "simpler remote"
    if docs:
        line = docs[0]["source"]["data"].splitlines()[1]
        head, text = line.split(": ", 1)
        seg_id, quote = head.split()[0], text[:30]
    findings = [
        {
            "claim": f"Participants in {doc_id} want a change.",
            "evidence": [{"doc_id": doc_id, "segment_id": seg_id, "quote": quote}],
            "confidence": 0.8,
        }
    ]
    if docs and paraphrases(doc_id):
        findings.append(
            {
                "claim": f"Participants in {doc_id} said something nobody said.",
                "evidence": [{"doc_id": doc_id, "segment_id": seg_id, "quote": "a paraphrase"}],
                "confidence": 0.9,
            }
        )
    return [
        {
            "type": "tool_use",
            "id": f"toolu_{doc_id}",
            "name": "final_output",
            "input": {"summary": "ok", "findings": findings},
        }
    ]


def _server(backend: str, args: argparse.Namespace, faults: dict[str, float], limited: bool) -> Any:
    rpm = args.rpm if limited else None
    # unlimited runs (the malformed ones) measure correctness, not pacing: short latency
    latency, jitter = (args.latency_s, args.jitter_s) if limited else (0.01, 0.0)
    if backend == "anthropic":
        return FakeAnthropicServer(
            FakeServerConfig(
                requests_per_window=rpm,
                input_tokens_per_window=args.rpm * 4000 if limited else None,
                window_s=args.window_s,
                latency_s=latency,
                latency_jitter_s=jitter,
                slow_s=args.slow_s,
                faults=FaultPlan(**faults, seed=args.seed + 1),
                seed=args.seed,
            ),
            responder,
        )
    renamed = {
        k.replace("529", "503").replace("malformed_tool", "malformed_json"): v
        for k, v in faults.items()
    }
    return FakeOpenAIServer(
        FakeOpenAIConfig(
            requests_per_window=rpm,
            tokens_per_window=args.rpm * 4000 if limited else None,
            window_s=args.window_s,
            latency_s=latency,
            latency_jitter_s=jitter,
            slow_s=args.slow_s,
            faults=OpenAIFaultPlan(**renamed, seed=args.seed + 1),
            seed=args.seed,
        ),
        blocks_responder(responder),
    )


def _client(backend: str, server: Any, limiter: AdaptiveLimiter, seed: int) -> Any:
    if backend == "anthropic":
        return AnthropicModel(api_key="fake-key", base_url=server.base_url, limiter=limiter,
                              timeout_s=30, seed=seed)  # fmt: skip
    return OpenAICompatibleModel(base_url=server.base_url, api_key="fake-key", tiers=OPENAI_TIERS,  # type: ignore[arg-type]
                                 prices=OPENAI_PRICES, limiter=limiter, timeout_s=30, seed=seed)  # fmt: skip


async def fan_out(
    backend: str,
    args: argparse.Namespace,
    faults: dict[str, float],
    *,
    limited: bool,
    task_for: Callable[[int], AgentTask],
) -> tuple[dict[str, Any], list[Any]]:
    async with _server(backend, args, faults, limited) as server:
        limiter = AdaptiveLimiter(max_concurrency=64, initial_concurrency=4 if limited else 32)
        async with _client(backend, server, limiter, args.seed) as model:
            agent = Agent(SPEC, model)

            async def one(i: int) -> Any:
                try:
                    return await agent.run(task_for(i))
                except Exception as e:  # a failed call is a failed task, counted
                    return e

            t0 = time.monotonic()
            results = await asyncio.gather(*(one(i) for i in range(args.calls)))
            elapsed = time.monotonic() - t0
            stats = model.stats
            prices = model.prices
            worker = model.tiers["worker"]
        records = list(server.records)
        usage_total = dict(server.usage_total)
    statuses: dict[int, int] = {}
    for r in records:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    rate_limited = sum(1 for r in records if r.status == 429 and r.fault is None)
    accepted = sum(1 for r in records if r.status != 429 or r.fault is not None)
    rate = args.rpm / args.window_s
    server_usage = Usage(**{k: usage_total.get(k, 0) for k in Usage.model_fields})
    server_cost = prices.cost(worker, server_usage)
    ok = [r for r in results if not isinstance(r, Exception) and r.ok]
    out = {
        "calls": args.calls,
        "completed": len(ok),
        "failed": args.calls - len(ok),
        "elapsed_s": round(elapsed, 2),
        "requests_sent": len(records),
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "rate_429_fraction": round(rate_limited / max(1, len(records)), 4),
        "injected_429": sum(1 for r in records if r.fault == "429"),
        "injected_faults": _faults(records),
        "retries": dict(stats.retries_by_reason),
        "cost_usd": str(stats.cost_usd),
        "server_cost_usd": str(server_cost),
        "cost_matches": Decimal(stats.cost_usd) == server_cost and stats.usage == server_usage,
    }
    if limited:
        out["throughput_ratio"] = round(accepted / (args.rpm + rate * elapsed), 4)
        out["learned_rate_per_s"] = round(limiter.request_rate or 0, 2)
    return out, results


def _faults(records: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        if r.fault:
            out[r.fault] = out.get(r.fault, 0) + 1
    return dict(sorted(out.items()))


async def faulted(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    q = args.fault_rate / 4
    faults = {"rate_429": q, "rate_529": q, "rate_500": q, "rate_slow": q}

    def task(i: int) -> AgentTask:
        return AgentTask(
            instructions=f"Analyse document doc{i:05d}.",
            context=[ContextDocument(id="shared", title="shared", text=SHARED)],
            shared_context=True,
        )

    out, _ = await fan_out(backend, args, faults, limited=True, task_for=task)
    return out


async def malformed(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    from workbench.engines.render import render_document

    docs = {d.id: d for d in (make_document(i) for i in range(args.calls))}
    half = args.malformed_rate / 2
    faults = {"rate_malformed_tool": half, "rate_missing_fields": half}

    def task(i: int) -> AgentTask:
        d = docs[f"doc{i:05d}"]
        return AgentTask(
            instructions=f"Analyse document {d.id}.",
            context=[ContextDocument(id=d.id, title=d.title, text=render_document(d))],
        )

    out, results = await fan_out(backend, args, faults, limited=False, task_for=task)
    findings = []
    for i, r in enumerate(results):
        if isinstance(r, Exception) or not isinstance(r.output, AnalystOutput):
            continue
        findings.extend(r.output.to_findings(task_key=f"t{i}"))
    problems = check_findings(findings, docs)
    bad = {p.finding_id for p in problems}
    kept = [f for f in findings if f.id not in bad]
    expected_paraphrases = sum(1 for d in docs if paraphrases(d))
    verbatim = all(
        ev.quote in docs[f.doc_id].segment(ev.segment_id).text for f in kept for ev in f.evidence
    )
    repaired = sum(1 for r in results if not isinstance(r, Exception) and r.repairs > 0)
    return {
        **{
            k: out[k]
            for k in (
                "calls",
                "completed",
                "failed",
                "elapsed_s",
                "requests_sent",
                "injected_faults",
            )
        },
        "run_completed": out["failed"] == 0,
        "findings_kept": len(kept),
        "dropped_by_verbatim_gate": len(problems),
        "paraphrases_sent": expected_paraphrases,
        "quotes_verbatim": verbatim and len(problems) == expected_paraphrases,
        "repaired_tasks": repaired,
        "repaired_share": round(repaired / args.calls, 4),
        "cost_matches": out["cost_matches"],
    }


def _headline(run: dict[str, Any]) -> dict[str, Any]:
    keys = ("throughput_ratio", "failed", "rate_429_fraction", "cost_matches")
    return {**{k: run[k] for k in keys}, "run": run}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"benchmark": "model_fanout"}
    bad: dict[str, Any] = {}
    for backend in args.backends:
        report[backend] = _headline(await faulted(backend, args))
        bad[backend] = await malformed(backend, args)
    report["malformed"] = {
        "completed": all(b["run_completed"] for b in bad.values()),
        "quotes_verbatim": all(b["quotes_verbatim"] for b in bad.values()),
        "repaired_share": round(
            sum(b["repaired_tasks"] for b in bad.values()) / (2 * args.calls), 4
        ),
        **bad,
    }
    report["setup"] = {
        "calls": args.calls,
        "limit_requests_per_window": args.rpm,
        "time_scale": f"window {args.window_s:g}s for a per-minute limit (x{60 / args.window_s:g} faster)",
        "latency": f"{args.latency_s * 1000:g} ms +- {args.jitter_s * 1000:g} ms",
        "fault_rate": args.fault_rate,
        "malformed_rate": args.malformed_rate,
    }
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rpm", type=int, default=600, help="requests per window")
    parser.add_argument("--window-s", type=float, default=15.0, help="60 = real time")
    parser.add_argument("--latency-s", type=float, default=0.2)
    parser.add_argument("--jitter-s", type=float, default=0.1)
    parser.add_argument("--slow-s", type=float, default=2.0)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--malformed-rate", type=float, default=0.20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--backends", nargs="+", default=["anthropic", "openai"], choices=["anthropic", "openai"]
    )
    ns = parser.parse_args()
    print(json.dumps(asyncio.run(main(ns)), indent=None if ns.json else 2))
