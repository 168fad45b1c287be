"""The async sandbox and the warm pool, on real kernels."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from sandboxes import AsyncLocalSandbox, SandboxLimits, SandboxPool

pytestmark = pytest.mark.anyio

CHART = """\
import json, os, matplotlib.pyplot as plt
rows = json.load(open(os.path.join(os.environ["SANDBOX_INPUTS_DIR"], "findings.json")))
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar([r["theme"] for r in rows], [r["n"] for r in rows])
fig.savefig("chart.png")
plt.close(fig)
len(rows)
"""


async def test_async_sandbox_runs_code_and_files(tmp_path: Path, limits: SandboxLimits) -> None:
    async with AsyncLocalSandbox(work_dir=tmp_path, limits=limits) as sb:
        ex = await sb.run_code("sum(range(10))")
        assert ex.text == "45"
        await sb.files.write("in.txt", "abc")
        assert (await sb.run_code("open('in.txt').read().upper()")).text == "'ABC'"
        assert (tmp_path / "in.txt").read_text() == "abc"


async def test_pool_runs_chart_jobs_with_their_own_inputs(
    tmp_path: Path, limits: SandboxLimits
) -> None:
    jobs = []
    for i in range(6):
        path = tmp_path / f"findings{i}.json"
        path.write_text(f'[{{"theme": "t{i}", "n": {i + 1}}}, {{"theme": "u", "n": 2}}]')
        jobs.append(path)
    results: list[tuple[int, str | None, bytes]] = []

    async with SandboxPool(size=2, limits=limits) as pool:

        async def job(i: int) -> None:
            ex, files = await pool.run(
                CHART, inputs={"findings.json": jobs[i]}, outputs=["chart.png"]
            )
            assert ex.error is None, ex.error
            results.append((i, ex.text, files["chart.png"]))

        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(job, i)
    assert sorted(i for i, _, _ in results) == list(range(6))
    assert all(text == "2" and png.startswith(b"\x89PNG") for _, text, png in results)


async def test_pool_resets_state_and_files_between_jobs(limits: SandboxLimits) -> None:
    async with SandboxPool(size=1, limits=limits, preload=()) as pool:
        async with pool.acquire() as sb:
            await sb.run_code("leftover = 1\nopen('left.txt', 'w').write('x')")
        async with pool.acquire() as sb:
            ex = await sb.run_code("'leftover' in dir()")
            assert ex.text == "False"
            assert not await sb.files.exists("left.txt")


async def test_pool_replaces_sandboxes_after_max_uses(limits: SandboxLimits) -> None:
    async with SandboxPool(size=1, max_uses=2, limits=limits, preload=()) as pool:
        for _ in range(3):
            ex, _ = await pool.run("1 + 1")
            assert ex.text == "2"
        assert pool.replaced >= 1
