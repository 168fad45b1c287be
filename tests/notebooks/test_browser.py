"""JupyterLab in a real browser: open the quickstart, run it, steer it, approve its plan.

JupyterLab listens on 127.0.0.1 only; Debian's chromium is driven headless by Playwright
(`executable_path`: Playwright's own browser download does not work here). The
screenshot of the panel is kept in the test's temporary folder (and copied to
`$WORKBENCH_SCREENSHOTS` when set) for a person to look at.
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
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STEER = "focus on the battery and the price"


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
def lab(tmp_path: Path, repo_root: Path, meetings: Path, nb_project: Path) -> Iterator[str]:
    """JupyterLab serving a copy of the quickstart pointed at the test corpus; yields its URL."""
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
        deadline = time.monotonic() + 90
        while True:  # the server is up when its API answers
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()}")
                time.sleep(0.3)
        yield f"{base}/lab/tree/quickstart.ipynb?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_quickstart_panel_in_jupyterlab(lab: str, tmp_path: Path, nb_project: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.set_default_timeout(120_000)
        expect.set_options(timeout=120_000)
        page.goto(lab)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        news = page.get_by_role("alert").get_by_role("button", name="No")
        if news.count():  # "Would you like to get notified about official Jupyter news?"
            news.click()
        # intro, parameters, imports, text, start: run each cell explicitly and, for code
        # cells, wait for its execution count, so a late popup cannot skip a cell
        cells = page.locator(".jp-Notebook .jp-Cell")
        for i in range(5):
            cell = cells.nth(i)
            cell.locator(".jp-InputArea-prompt").click()
            page.keyboard.press("Escape")
            page.keyboard.press("Shift+Enter")
            if "jp-CodeCell" in (cell.get_attribute("class") or ""):
                expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]"))
        panel = page.locator(".wb-panel-root")
        expect(panel).to_be_visible()
        approve = page.locator("button.wb-approve")
        expect(approve).to_be_enabled(timeout=240_000)  # the plan waits for a person

        page.locator(".wb-steer-input input").fill(STEER)
        page.locator("button.wb-steer-send").click()
        expect(page.locator(".wb-steering")).to_contain_text(STEER)
        approve.click()
        expect(approve).to_be_hidden()  # the plan stays in view, its approval controls go

        seen: list[str] = []  # what the stage bars said, sampled while the run works
        deadline = time.monotonic() + 240
        while not page.locator(".wb-badge.wb-done").count():
            text = page.locator(".wb-stages").inner_text()
            if not seen or text != seen[-1]:
                seen.append(text)
            assert time.monotonic() < deadline, f"the run did not finish; stages: {seen[-1:]}"
            page.wait_for_timeout(250)
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
