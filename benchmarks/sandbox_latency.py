"""Sandbox latency: warm/cold/chart p50, isolation overhead against a bare kernel, pool jobs.

    python benchmarks/sandbox_latency.py --json

Targets (issue 4): warm ``1+1`` p50 < 20 ms; matplotlib bar chart as PNG, warm, p50 < 1 s;
cold start p50 < 1.5 s; LocalSandbox / bare jupyter_client kernel p50 ratio <= 1.2 on the
same code; a pool of 4 runs 200 chart jobs with zero failures. All figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from sandboxes import AsyncLocalSandbox, SandboxPool

WARM_CODE = "1+1"
CHART_CODE = """\
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["alpha", "beta", "gamma", "delta"], [12, 7, 4, 9])
ax.set_title("Mentions by theme (n of 40)")
plt.show()
"""
POOL_CODE = """\
import json, os, polars as pl, matplotlib.pyplot as plt
df = pl.DataFrame(json.load(open(os.path.join(os.environ["SANDBOX_INPUTS_DIR"], "findings.json"))))
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(df["theme"].to_list(), df["n"].to_list())
fig.savefig("chart.png", dpi=80)
plt.close(fig)
df.height
"""


def p50_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


async def cold_starts(n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with AsyncLocalSandbox() as sb:
            ex = await sb.run_code(WARM_CODE)
            out.append(time.perf_counter() - t0)
            assert ex.text == "2", ex
    return out


async def bare_kernel_run(kc: Any, code: str) -> None:
    """The leanest jupyter_client round trip: send, read IOPub until idle, read the reply."""
    msg_id = kc.execute(code)
    while True:
        msg = await kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            raise AssertionError(msg["content"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    await kc.get_shell_msg(timeout=60)


async def overhead(n: int, code: str) -> tuple[list[float], list[float]]:
    """Interleave the same code on a bare kernel (no sandbox, plain launch, lean client loop)
    and an AsyncLocalSandbox: the ratio is the price of isolation plus our bookkeeping."""
    # same transport (IPC) and kernel flags as the sandbox: the ratio isolates bwrap + our loop
    tmp = tempfile.mkdtemp(prefix="bare-kernel-")
    km = AsyncKernelManager(
        kernel_name="python3", transport="ipc", ip=f"{tmp}/s", connection_file=f"{tmp}/k.json"
    )
    await km.start_kernel(
        extra_arguments=["--HistoryManager.enabled=False", "--IPKernelApp.quiet=True"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    bare: list[float] = []
    boxed: list[float] = []
    try:
        async with AsyncLocalSandbox(preload=("matplotlib.pyplot",)) as sb:
            await bare_kernel_run(kc, "import matplotlib.pyplot")
            for _ in range(3):  # warm both
                await bare_kernel_run(kc, code)
                await sb.run_code(code)
            for i in range(n):
                for which in ("bare", "boxed") if i % 2 == 0 else ("boxed", "bare"):  # ABBA
                    t0 = time.perf_counter()
                    if which == "bare":
                        await bare_kernel_run(kc, code)
                        bare.append(time.perf_counter() - t0)
                    else:
                        ex = await sb.run_code(code)
                        boxed.append(time.perf_counter() - t0)
                        assert ex.error is None, ex.error
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return bare, boxed


async def warm_and_chart(n_warm: int, n_chart: int) -> tuple[list[float], list[float]]:
    async with AsyncLocalSandbox(preload=("polars", "matplotlib.pyplot")) as sb:
        warm = []
        for _ in range(n_warm):
            t0 = time.perf_counter()
            await sb.run_code(WARM_CODE)
            warm.append(time.perf_counter() - t0)
        await sb.run_code(CHART_CODE)  # first figure: font cache, backend set-up
        chart = []
        for _ in range(n_chart):
            t0 = time.perf_counter()
            ex = await sb.run_code(CHART_CODE)
            chart.append(time.perf_counter() - t0)
            assert ex.error is None and any(r.png for r in ex.results), ex
    return warm, chart


async def pool_jobs(n_jobs: int, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        for i in range(n_jobs):
            path = Path(tmp) / f"findings{i}.json"
            rows = [{"theme": f"theme {k}", "n": (i * 7 + k * 3) % 17 + 1} for k in range(5)]
            path.write_text(json.dumps(rows))
            inputs.append(path)
        failures: list[str] = []
        t0 = time.perf_counter()
        async with SandboxPool(size=size) as pool:
            started = time.perf_counter()

            async def job(i: int) -> None:
                try:
                    ex, files = await pool.run(
                        POOL_CODE, inputs={"findings.json": inputs[i]}, outputs=["chart.png"]
                    )
                    if ex.error is not None:
                        failures.append(f"job {i}: {ex.error.name}: {ex.error.value}")
                    elif ex.text != "5" or not files.get("chart.png", b"").startswith(b"\x89PNG"):
                        failures.append(f"job {i}: wrong output {ex.text!r}")
                except Exception as exc:
                    failures.append(f"job {i}: {type(exc).__name__}: {exc}")

            await asyncio.gather(*(job(i) for i in range(n_jobs)))
            done = time.perf_counter()
        return {
            "pool_failures": len(failures),
            "pool_failure_examples": failures[:3],
            "pool_jobs": n_jobs,
            "pool_size": size,
            "pool_start_s": round(started - t0, 2),
            "pool_jobs_per_s": round(n_jobs / (done - started), 2),
        }


async def main_async(quick: bool) -> dict[str, Any]:
    scale = 4 if quick else 1
    cold = await cold_starts(5)
    warm, chart = await warm_and_chart(200 // scale, 20 // scale)
    bare, boxed = await overhead(400 // scale, WARM_CODE)
    bare_chart, boxed_chart = await overhead(20 // scale, CHART_CODE)
    out: dict[str, Any] = {
        "warm_p50_ms": p50_ms(warm),
        "chart_p50_ms": p50_ms(chart),
        "cold_p50_ms": p50_ms(cold),
        "overhead_ratio": round(statistics.median(boxed) / statistics.median(bare), 3),
        "bare_warm_p50_ms": p50_ms(bare),
        "boxed_warm_p50_ms": p50_ms(boxed),
        "overhead_ratio_chart": round(
            statistics.median(boxed_chart) / statistics.median(bare_chart), 3
        ),
        "bare_chart_p50_ms": p50_ms(bare_chart),
        "boxed_chart_p50_ms": p50_ms(boxed_chart),
    }
    out.update(await pool_jobs(200 // scale, 4))
    out["targets_met"] = {
        "warm_p50_ms<20": out["warm_p50_ms"] < 20,
        "chart_p50_ms<1000": out["chart_p50_ms"] < 1000,
        "cold_p50_ms<1500": out["cold_p50_ms"] < 1500,
        "overhead_ratio<=1.2": out["overhead_ratio"] <= 1.2,
        "pool_failures==0": out["pool_failures"] == 0,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="a quarter of the samples")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.quick))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    sys.exit(0)


if __name__ == "__main__":
    main()
