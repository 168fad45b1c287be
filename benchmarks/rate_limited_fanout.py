"""Fan-out of sub-agent calls against a rate-limited fake Messages API (one run, two scenarios).

    python benchmarks/rate_limited_fanout.py --json

Each "sub-agent call" is a full `Agent.run` (spec, tools list, final_output validation)
through the real `AnthropicModel` (real SDK, real HTTP) to `FakeAnthropicServer` on
loopback, which enforces a requests-per-window token bucket (capacity = the limit, as
the real API) with 200 ms +- 100 ms latency.

1. clean: 2,000 calls, limit 600 requests per window.
2. faulted: the same 2,000 calls with 10% of responses faulted (2.5% each of injected
   429, 529, 500 and slow responses).

Time scaling: 2,000 calls at 600/min take over 3 minutes by construction. By default
the server's window is 15 s instead of 60 s (600 requests per 15 s), i.e. time runs 4x
faster, and every ratio (throughput/limit, 429 fraction, retries) is the same as with a
minute; `--window-s 60` runs the real-time version. The latency is not scaled.

throughput_ratio = accepted requests / (bucket capacity + refill rate x elapsed): the
most the server could have accepted during the run, since its bucket starts full.
`throughput_ratio_naive` (accepted / elapsed / rate) can exceed 1 because of that burst.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from subagents.agent import Agent, AgentTask, ContextDocument
from subagents.models.anthropic import AnthropicModel
from subagents.models.messages import Usage
from subagents.models.pricing import PriceTable
from subagents.models.ratelimit import AdaptiveLimiter
from subagents.spec_loader import parse_spec
from subagents.testing.fake_server import (
    FakeAnthropicServer,
    FakeServerConfig,
    FaultPlan,
)

SPEC = parse_spec(
    "---\nname: bench-analyst\ndescription: benchmark analyst that answers in one call\n"
    "tier: worker\ntools: []\noutput: analyst-findings\nmax_steps: 3\n---\n"
    "Read the document and return one finding with a verbatim quote, or abstain.\n",
    source="benchmark",
)
SHARED = "Meeting transcript shared by every task of the stage. " * 40


def responder(body: dict[str, Any]) -> list[dict[str, Any]]:
    task_text = body["messages"][0]["content"][-1]["text"]
    doc = task_text.split("document ")[-1].split(".")[0]
    finding = {
        "claim": f"Participants in {doc} want a simpler remote.",
        "evidence": [{"doc_id": doc, "segment_id": f"{doc}#3", "quote": "simpler remote"}],
        "confidence": 0.8,
    }
    return [
        {
            "type": "tool_use",
            "id": f"toolu_{doc}",
            "name": "final_output",
            "input": {"summary": "ok", "findings": [finding]},
        }
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def scenario(args: argparse.Namespace, faults: FaultPlan) -> dict[str, Any]:
    config = FakeServerConfig(
        requests_per_window=args.rpm,
        input_tokens_per_window=args.rpm * 4000,
        output_tokens_per_window=args.rpm * 1000,
        window_s=args.window_s,
        latency_s=args.latency_s,
        latency_jitter_s=args.jitter_s,
        slow_s=args.slow_s,
        faults=faults,
        seed=args.seed,
        max_lifetime_s=900,
    )
    async with FakeAnthropicServer(config, responder) as server:
        limiter = AdaptiveLimiter(max_concurrency=64, initial_concurrency=4)
        async with AnthropicModel(
            api_key="fake-key",
            base_url=server.base_url,
            limiter=limiter,
            timeout_s=30,
            seed=args.seed,
        ) as model:
            agent = Agent(SPEC, model)
            latencies: list[float] = []

            async def one(i: int) -> bool:
                task = AgentTask(
                    instructions=f"Analyse document doc{i:05d}.",
                    context=[ContextDocument(id="shared", text=SHARED)],
                    shared_context=True,
                )
                t0 = time.monotonic()
                try:
                    result = await agent.run(task)
                except Exception:
                    return False
                latencies.append(time.monotonic() - t0)
                return result.status == "ok"

            t0 = time.monotonic()
            outcomes = await asyncio.gather(*(one(i) for i in range(args.calls)))
            elapsed = time.monotonic() - t0
            stats = model.stats
        statuses = server.status_counts()
        records = server.records
    accepted = sum(1 for r in records if r.status != 429 or r.fault is not None)
    rate = args.rpm / args.window_s
    server_usage = Usage(**{k: server.usage_total[k] for k in Usage.model_fields})
    server_cost = PriceTable().cost(model.tiers["worker"], server_usage)
    rl_429 = sum(1 for r in records if r.status == 429 and r.fault is None)
    service = latencies or [0.0]
    calls = list(stats.latencies) or [0.0]
    return {
        "calls": args.calls,
        "completed": sum(outcomes),
        "failed": args.calls - sum(outcomes),
        "elapsed_s": round(elapsed, 2),
        "requests_sent": len(records),
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "rate_limit_429s": rl_429,
        "injected_faults": dict(sorted((k, v) for k, v in _faults(records).items())),
        "rate_429_fraction": round(statuses.get(429, 0) / max(1, len(records)), 4),
        "throughput_ratio": round(accepted / (args.rpm + rate * elapsed), 4),
        "throughput_ratio_naive": round(accepted / elapsed / rate, 4),
        "achieved_requests_per_window": round(accepted / elapsed * args.window_s, 1),
        "retries": dict(stats.retries_by_reason),
        "retried_attempts": stats.attempts - stats.calls,
        "cost_usd": str(stats.cost_usd),
        "server_cost_usd": str(server_cost),
        "cost_matches": Decimal(stats.cost_usd) == server_cost and stats.usage == server_usage,
        "usage": stats.usage.model_dump(),
        "limiter": {
            "learned_rate_per_s": round(limiter.request_rate or 0, 2),
            "max_in_flight": limiter.stats.max_in_flight,
            "paused_s": round(limiter.stats.paused_s, 2),
        },
        "call_latency_s": {  # first send -> answer, retries included
            "p50": round(statistics.median(calls), 3),
            "p95": round(_pct(calls, 0.95), 3),
            "p99": round(_pct(calls, 0.99), 3),
            "max": round(max(calls), 3),
        },
        "task_latency_s": {  # all tasks start at once: includes queueing for the limit
            "p50": round(statistics.median(service), 3),
            "p95": round(_pct(service, 0.95), 3),
            "p99": round(_pct(service, 0.99), 3),
            "max": round(max(service), 3),
        },
    }


def _faults(records: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        if r.fault:
            out[r.fault] = out.get(r.fault, 0) + 1
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    clean = await scenario(args, FaultPlan())
    q = args.fault_rate / 4
    faulted = await scenario(
        args, FaultPlan(rate_429=q, rate_529=q, rate_500=q, rate_slow=q, seed=args.seed + 1)
    )
    extra = Decimal(faulted["cost_usd"]) - Decimal(clean["cost_usd"])
    return {
        "benchmark": "rate_limited_fanout",
        "time_scale": f"window {args.window_s:g}s for a per-minute limit (x{60 / args.window_s:g} faster)",
        "limit_requests_per_window": args.rpm,
        "latency": f"{args.latency_s * 1000:g} ms +- {args.jitter_s * 1000:g} ms",
        "throughput_ratio": clean["throughput_ratio"],
        "failed": clean["failed"],
        "rate_429_fraction": clean["rate_429_fraction"],
        "faulted_completed": faulted["completed"],
        "faulted_failed": faulted["failed"],
        "cost_matches": clean["cost_matches"] and faulted["cost_matches"],
        "faulted_extra_cost_usd": str(extra),
        "faulted_retries": faulted["retries"],
        "faulted_extra_requests": faulted["requests_sent"] - clean["requests_sent"],
        "call_latency_s": clean["call_latency_s"],
        "faulted_call_latency_s": faulted["call_latency_s"],
        "clean": clean,
        "faulted": faulted,
    }


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
    parser.add_argument("--seed", type=int, default=7)
    ns = parser.parse_args()
    report = asyncio.run(main(ns))
    print(json.dumps(report, indent=None if ns.json else 2))
