"""A scaled-down rate_limited_fanout: real Agent + AnthropicModel against the fake server."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from pathlib import Path

from subagents.testing.fake_server import FaultPlan

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "rate_limited_fanout.py"


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("rate_limited_fanout", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(**kw: float) -> argparse.Namespace:
    base = dict(
        calls=150,
        rpm=60,
        window_s=3.0,
        latency_s=0.05,
        jitter_s=0.03,
        slow_s=0.5,
        fault_rate=0.1,
        seed=3,
    )
    base.update(kw)
    return argparse.Namespace(**base)


def test_fanout_stays_under_the_limit_and_accounts_cost_exactly() -> None:
    bench = _bench()
    report = asyncio.run(bench.scenario(_args(), FaultPlan()))  # type: ignore[attr-defined]
    assert report["failed"] == 0
    assert report["cost_matches"]
    assert report["rate_429_fraction"] < 0.05
    assert report["throughput_ratio"] > 0.8
    assert abs(report["limiter"]["learned_rate_per_s"] - 20.0) < 3.0


def test_fanout_with_faults_completes_every_task() -> None:
    bench = _bench()
    q = 0.025
    faults = FaultPlan(rate_429=q, rate_529=q, rate_500=q, rate_slow=q, seed=5)
    report = asyncio.run(bench.scenario(_args(calls=120), faults))  # type: ignore[attr-defined]
    assert report["completed"] == 120 and report["failed"] == 0
    assert report["cost_matches"]
    assert report["retried_attempts"] >= 1
