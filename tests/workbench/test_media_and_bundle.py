"""Clips cut from a real recording for quotes of timed transcripts; the shareable bundle."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory, sonnet_dir: Path) -> Path:
    """Three 'interviews': the same public-domain reading, each with its recording."""
    src = sonnet_dir
    folder = tmp_path_factory.mktemp("readings") / "readings"
    folder.mkdir()
    vtt = (src / "sonnet001.vtt").read_text(encoding="utf-8")
    head, *cues = vtt.strip().split("\n\n")
    # each session reads part of the poem, every line in two of the three: text read out
    # in three or more sessions would be a script, never evidence
    n = len(cues)
    parts = (range(0, 2 * n // 3), range(n // 3, n), [*range(0, n // 3), *range(2 * n // 3, n)])
    for name, part in zip(("reader-a", "reader-b", "reader-c"), parts, strict=True):
        text = "\n\n".join([head, *(cues[i] for i in part)]) + "\n"
        (folder / f"{name}.vtt").write_text(text, encoding="utf-8")
        shutil.copy(src / "sonnet001.wav", folder / f"{name}.wav")
    return folder


def test_timed_quotes_get_clips_reels_and_a_gallery(readings: Path, tmp_path: Path) -> None:
    import workbench as wb

    run = wb.Project(tmp_path / "p").analyze(
        readings, "What does the poem say about beauty, time and waste?", on_event=lambda e: None
    )
    spec = json.loads((run.dir / "report_spec.json").read_text())
    quotes = [q for t in spec["themes"] for q in t["quotes"]]
    assert quotes, "expected themes with quotes"
    clipped = [q for q in quotes if q["media_path"]]
    assert clipped and len(clipped) == len(quotes)
    for q in clipped:
        clip = run.dir / q["media_path"]
        assert clip.is_file() and clip.stat().st_size > 1000
        # the clip covers the quote's cue plus padding, no more
        assert q["end_time"] - q["start_time"] > 0
    assert (run.dir / "clips" / "gallery.html").is_file()
    assert list((run.dir / "clips" / "reels").glob("*.m4a"))
    assert "<audio" in (run.dir / "report.html").read_text()
    assert run.manifest["outputs"]["clips_gallery"] == "clips/gallery.html"
    with wave.open(str(readings / "reader-a.wav")) as w:
        assert w.getframerate() == 16000  # the source really is the recording


def test_finished_run_is_bundled_and_reopens_offline(analysed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import workbench as wb

    _, run, _ = analysed
    bundle = run.dir / "bundle.zip"
    assert bundle.is_file() and run.manifest["outputs"]["bundle"] == "bundle.zip"
    opened = wb.open_bundle(bundle, tmp_path / "opened")
    assert opened.run_id == run.id
    run_manifest = json.loads((opened.path / "manifest.json").read_text())
    assert run_manifest["status"] == "complete" and run_manifest["engine"] == "offline"
    outputs = opened.rerender(tmp_path / "again")
    assert Path(outputs["deck"]).is_file() and Path(outputs["html"]).is_file()
    assert "offline engine" in Path(outputs["html"]).read_text().lower()
    with pytest.raises(wb.UserError, match="not found"):
        wb.open_bundle(tmp_path / "missing.zip")
