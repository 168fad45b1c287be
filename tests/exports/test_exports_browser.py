"""The report in a real headless Chromium: no network request, quotes expand, clips play."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exports.clips import cut_clip
from exports.report import write_html

from .exports_fixtures import AmiRun

pytestmark = pytest.mark.browser

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("headless Chromium is needed: apt-get install -y chromium (Debian package)")
    return path


@pytest.mark.parametrize("suffix", [".m4a", ".mp3"])
def test_report_makes_no_network_request_and_its_clips_play(
    ami: AmiRun, sonnet_dir: Path, tmp_path: Path, chromium: str, suffix: str
) -> None:
    from playwright.sync_api import sync_playwright

    run = tmp_path / "run"
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    clip = cut_clip(sonnet_dir / "sonnet001.wav", 5.88, 8.64, run / "clips" / f"line2{suffix}")
    spec = ami.spec.model_copy(deep=True)
    spec.themes[0].quotes[0].media_path = f"clips/line2{suffix}"
    html = write_html(spec, run, run / "report.html")
    url = html.resolve().as_uri()
    requests: list[str] = []
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console.append(m.text))
            page.goto(url, wait_until="load")
            assert page.locator("#engine-note").inner_text() == spec.engine_note
            # every chart image decoded
            widths = page.eval_on_selector_all("figure img", "els => els.map(e => e.naturalWidth)")
            assert widths and all(w > 1000 for w in widths)
            # a quote expands to its source: its own turn whole and the turns around it,
            # each with its speaker
            block = page.locator("section.theme > blockquote.quote").first
            excerpt = block.locator(".excerpt")
            assert not excerpt.is_visible()
            block.locator("summary").click()
            assert excerpt.is_visible()
            shown = excerpt.inner_text()
            for turn in spec.themes[0].quotes[0].turns:
                assert f"{turn.speaker}:" in shown and turn.text[:40] in shown
            assert excerpt.locator("mark").count() == 1
            # the embedded clip loads and has the clip's duration
            duration = page.evaluate(
                """() => new Promise((resolve, reject) => {
                    const a = document.querySelector('audio.clip');
                    if (a.readyState >= 1) return resolve(a.duration);
                    a.addEventListener('loadedmetadata', () => resolve(a.duration));
                    a.addEventListener('error', () => reject(new Error('media error ' + a.error.code)));
                    a.load();
                })"""
            )
            assert abs(duration - clip.duration) < 0.1
        finally:
            browser.close()
    external = [u for u in requests if u != url and not u.startswith("data:")]
    assert external == []
    assert not [m for m in console if "Refused" in m or "Content Security Policy" in m]
