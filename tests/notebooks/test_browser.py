"""JupyterLab in a real browser: open the quickstart, run it, steer it, approve its plan.

JupyterLab listens on 127.0.0.1 only; Debian's chromium is driven headless by Playwright
(`executable_path`: Playwright's own browser download does not work here). The
screenshot of the panel is kept in the test's temporary folder (and copied to
`$WORKBENCH_SCREENSHOTS` when set) for a person to look at.

Every wait for something the kernel does (a cell's execution count, the panel, the plan
to approve, the run's end) is bounded by the kernel's state as the Jupyter server sees
it, not by a fixed time: a busy kernel, or one whose last activity keeps moving (the
panel redraws its elapsed time while a run works), is waited for however slow the
machine is; a dead kernel, or one quiet for `QUIET_S` with the thing still missing,
fails the test at once with what it was waiting for.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

# no fixed waits inside; this only bounds a run that hangs while the kernel stays active
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(1800)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STEER = "focus on the battery and the price"
QUIET_S = 90.0  # a kernel with no activity for this long while we wait for it: stuck


@dataclass
class Lab:
    url: str  # the quickstart notebook in JupyterLab
    base: str
    token: str

    def kernel(self) -> dict[str, Any] | None:
        """The notebook's kernel as the server sees it (execution_state, last_activity)."""
        with urllib.request.urlopen(f"{self.base}/api/kernels?token={self.token}", timeout=10) as r:
            kernels = json.loads(r.read())
        return kernels[0] if kernels else None


def wait_on_kernel(
    page: Any,
    lab: Lab,
    done: Callable[[], bool],
    what: str,
    *,
    sample: Callable[[], None] = lambda: None,
) -> None:
    """Poll `done()` while the kernel works; fail when it died or went quiet without it."""
    last: tuple[str, str] | None = None
    quiet_since = time.monotonic()
    while not done():
        sample()
        k = lab.kernel()
        state = k["execution_state"] if k else "no kernel yet"
        if state == "dead":
            pytest.fail(f"the kernel died while waiting for {what}")
        mark = (state, k["last_activity"] if k else "")
        if state in ("busy", "starting") or (k is not None and mark != last):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > QUIET_S:
            pytest.fail(
                f"waiting for {what}: the kernel is {state} with no activity for {QUIET_S:.0f}s"
            )
        last = mark
        page.wait_for_timeout(200)  # the poll interval; the bound is the kernel's state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian chromium is missing: apt-get install -y chromium")
    return path


@pytest.fixture
def lab(tmp_path: Path, repo_root: Path, meetings: Path, nb_project: Path) -> Iterator[Lab]:
    """JupyterLab serving a copy of the quickstart pointed at the test corpus."""
    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.read(str(repo_root / "notebooks" / "quickstart.ipynb"), as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = (
        f"corpus_path = {str(meetings)!r}\n"
        f'question = "What do the teams want from the new remote control, and what worries them?"\n'
        f"project_dir = {str(nb_project)!r}\n"
        'autonomy = "review-plan"\n'
    )
    nbformat.write(nb, str(root / "quickstart.ipynb"))
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_UI", "JPY_SESSION_NAME")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    log = open(tmp_path / "lab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
            "--ServerApp.allow_root=True",  # CI containers run as root
            "--LabApp.extension_manager=readonly",  # no PyPI look-ups from the server
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:  # the server is up when its API answers; it failed when it exited
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                try:
                    proc.wait(timeout=0.3)  # the poll interval, cut short if the server exits
                except subprocess.TimeoutExpired:
                    continue
                pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()}")
        yield Lab(f"{base}/lab/tree/quickstart.ipynb?token={token}", base, token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_quickstart_panel_in_jupyterlab(lab: Lab, tmp_path: Path, nb_project: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.set_default_timeout(60_000)  # browser-side steps only; kernel work: wait_on_kernel
        page.goto(lab.url)

        def shown(selector: str) -> Callable[[], bool]:
            return lambda: page.locator(selector).count() > 0

        wait_on_kernel(
            page, lab, shown(".jp-Notebook-ExecutionIndicator[data-status='idle']"), "the kernel"
        )
        news = page.get_by_role("alert").get_by_role("button", name="No")
        if news.count():  # "Would you like to get notified about official Jupyter news?"
            news.click()
        # intro, parameters, imports, text, start: run each cell explicitly and, for code
        # cells, wait for its execution count, so a late popup cannot skip a cell. The
        # cell is selected and run with clicks (the toolbar's run button), not key
        # presses: on a loaded machine a key press can reach the page before the focus
        # does, and the cell never runs
        cells = page.locator(".jp-Notebook .jp-Cell")
        run = page.locator(
            ".jp-NotebookPanel-toolbar [data-command='notebook:run-cell-and-select-next']"
        )
        for i in range(5):
            cell = cells.nth(i)
            cell.locator(".jp-InputArea-prompt").click()
            expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
            run.click()
            if "jp-CodeCell" in (cell.get_attribute("class") or ""):
                prompt = cell.locator(".jp-InputArea-prompt")
                wait_on_kernel(
                    page,
                    lab,
                    lambda p=prompt: re.search(r"\[\d+\]", p.inner_text()) is not None,
                    f"cell {i} to run",
                )
        panel = page.locator(".wb-panel-root")
        wait_on_kernel(page, lab, panel.is_visible, "the run panel")
        approve = page.locator("button.wb-approve")
        # the plan waits for a person
        wait_on_kernel(
            page, lab, lambda: approve.count() > 0 and approve.is_enabled(), "the plan to approve"
        )

        page.locator(".wb-steer-input input").fill(STEER)
        page.locator("button.wb-steer-send").click()
        expect(page.locator(".wb-steering")).to_contain_text(STEER)
        approve.click()
        expect(approve).to_be_hidden()  # the plan stays in view, its approval controls go

        seen: list[str] = []  # what the stage bars said, sampled while the run works

        def look() -> None:
            text = page.locator(".wb-stages").inner_text()
            if not seen or text != seen[-1]:
                seen.append(text)

        wait_on_kernel(page, lab, shown(".wb-badge.wb-done"), "the run to finish", sample=look)
        seen.append(page.locator(".wb-stages").inner_text())
        assert len(seen) >= 3, seen  # the progress advanced in front of us
        assert "3/3" in seen[-1]
        expect(page.locator(".wb-steering")).to_contain_text("applied at")
        page.get_by_role("tab", name="Findings").click()
        expect(page.locator(".wb-findings")).to_contain_text("findings 1-")
        shot = tmp_path / "panel.png"
        panel.screenshot(path=str(shot))
        page.get_by_role("tab", name="Results").click()
        expect(page.locator(".wb-panel-root img").first).to_be_visible()
        shot2 = tmp_path / "panel-results.png"
        panel.screenshot(path=str(shot2))
        browser.close()

    keep = os.environ.get("WORKBENCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for s in (shot, shot2):
            shutil.copy(s, Path(keep) / s.name)
    assert shot.stat().st_size > 20_000
    # the steering message is recorded in the run, with where it took effect
    run_dir = max((nb_project / ".workbench" / "runs").iterdir(), key=lambda d: d.stat().st_mtime)
    records = [json.loads(line) for line in (run_dir / "steering.jsonl").read_text().splitlines()]
    sent = [r for r in records if r.get("type") == "message" and r.get("text") == STEER]
    assert sent and sent[0]["source"] == "widget"
    assert any(r.get("type") == "applied" and r.get("id") == sent[0]["id"] for r in records)
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["autonomy"] == "review-plan"
