"""Clips cut from the real sonnet reading: boundaries match the forced alignment, clips play."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from exports import QuoteSpec
from exports.clips import (
    clip_for_quote,
    cut_clip,
    decode_pcm,
    ffmpeg_exe,
    highlight_reel,
    media_duration,
    probe,
    text_clip,
    theme_reels,
)
from exports.errors import ExportInputError
from exports.gallery import write_gallery
from exports.spec import ThemeSpec

from .exports_fixtures import AmiRun

RATE = 16000
TOL = 0.050  # seconds


@pytest.fixture(scope="module")
def fragments(sonnet_dir: Path) -> list[dict[str, object]]:
    data = json.loads((sonnet_dir / "sonnet001.aeneas.json").read_text())
    return [
        {"begin": float(f["begin"]), "end": float(f["end"]), "text": " ".join(f["lines"])}
        for f in data["fragments"]
    ]


@pytest.fixture(scope="module")
def source_pcm(sonnet_dir: Path) -> np.ndarray:
    return decode_pcm(sonnet_dir / "sonnet001.wav", RATE).astype(np.float64)


def _locate(source: np.ndarray, clip: np.ndarray, expected_s: float, skip_s: float) -> float:
    """Where (seconds) the clip's body sits in the source, searched +-0.25 s around expected."""
    body = clip[int(skip_s * RATE) : int((skip_s + 0.8) * RATE)]
    lo = max(0, int((expected_s + skip_s - 0.25) * RATE))
    window = source[lo : lo + len(body) + int(0.5 * RATE)]
    corr = np.correlate(window, body, mode="valid")
    energy = np.sqrt(np.convolve(window**2, np.ones(len(body)), mode="valid")) + 1e-9
    return (lo + int(np.argmax(corr / energy))) / RATE - skip_s


@pytest.mark.parametrize(
    ("index", "suffix", "media"),
    [
        (1, ".wav", "sonnet001.wav"),
        (4, ".m4a", "sonnet001.wav"),
        (8, ".mp3", "sonnet001.mp3"),
        (12, ".m4a", "sonnet001.mp3"),
    ],
)
def test_clip_boundaries_match_the_alignment_and_the_clip_plays(
    fragments, source_pcm, sonnet_dir: Path, tmp_path: Path, index: int, suffix: str, media: str
) -> None:
    frag = fragments[index]
    begin, end = float(frag["begin"]), float(frag["end"])  # type: ignore[arg-type]
    pad, fade = 0.3, 0.15
    clip = cut_clip(sonnet_dir / media, begin, end, tmp_path / f"c{suffix}", padding=pad, fade=fade)
    assert abs(clip.clip_start - (begin - pad)) < TOL and abs(clip.clip_end - (end + pad)) < TOL
    # duration measured by decoding the written file, not read from a header
    assert abs(clip.duration - (end - begin + 2 * pad)) < TOL
    assert abs(media_duration(tmp_path / f"c{suffix}") - clip.duration) < 1e-6
    pcm = decode_pcm(tmp_path / f"c{suffix}", RATE).astype(np.float64)
    # the audio really is that stretch of the reading (cross-correlation against the source)
    found = _locate(source_pcm, pcm, clip.clip_start, skip_s=pad)
    assert abs(found - clip.clip_start) < TOL, (found, clip.clip_start)
    # it plays: sound in the middle, faded in and out at the edges
    rms = lambda a: float(np.sqrt(np.mean(a**2)))  # noqa: E731
    middle = rms(pcm[int(pad * RATE) : -int(pad * RATE)])
    assert middle > 300
    assert rms(pcm[: int(0.01 * RATE)]) < middle and rms(pcm[-int(0.01 * RATE) :]) < middle


def test_padding_is_clamped_at_both_ends_of_the_media(
    fragments, sonnet_dir: Path, tmp_path: Path
) -> None:
    wav = sonnet_dir / "sonnet001.wav"
    total = media_duration(wav)
    first = cut_clip(wav, 0.0, float(fragments[0]["end"]), tmp_path / "a.wav", padding=0.5)  # type: ignore[arg-type]
    assert (
        first.clip_start == 0.0 and abs(first.duration - (float(fragments[0]["end"]) + 0.5)) < TOL
    )  # type: ignore[arg-type]
    last = fragments[-1]
    tail = cut_clip(wav, float(last["begin"]), float(last["end"]), tmp_path / "b.wav", padding=5.0)  # type: ignore[arg-type]
    assert abs(tail.clip_end - total) < TOL and abs(tail.duration - (total - tail.clip_start)) < TOL
    with pytest.raises(ExportInputError, match="past the end"):
        cut_clip(wav, total + 1, total + 2, tmp_path / "c.wav")
    with pytest.raises(ExportInputError, match="use one of"):
        cut_clip(wav, 1, 2, tmp_path / "c.xyz")


def _quote(frag: dict[str, object], k: int) -> QuoteSpec:
    return QuoteSpec(
        text=str(frag["text"]),
        speaker="Reader",
        doc_id="sonnet001",
        doc_title="Sonnet 1",
        segment_id=f"f{k:06d}",
        start_time=float(frag["begin"]),
        end_time=float(frag["end"]),  # type: ignore[arg-type]
        context_before="(previous line)",
        context_after="(next line)",
    )


def test_highlight_reel_per_theme_and_gallery(fragments, sonnet_dir: Path, tmp_path: Path) -> None:
    quotes = []
    for k in (2, 3, 5):
        q, clip = clip_for_quote(_quote(fragments[k], k), sonnet_dir / "sonnet001.mp3", tmp_path)
        assert q.media_path == clip.path and q.media_path.startswith("clips/")
        quotes.append(q)
    theme = ThemeSpec(
        id="beauty", label="Beauty", summary="s", n_documents=1, total_documents=1, quotes=quotes
    )
    reels = theme_reels([theme], tmp_path, suffix=".m4a", note="offline engine")
    banner = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(reels["beauty"])], capture_output=True, text=True
    ).stderr
    assert "comment         : offline engine" in banner
    expected = sum(media_duration(tmp_path / str(q.media_path)) for q in quotes) + 2 * 0.6
    assert abs(media_duration(reels["beauty"]) - expected) < 0.1
    page = write_gallery(
        {"Beauty": quotes},
        tmp_path,
        tmp_path / "gallery.html",
        title="Clips",
        engine_note="offline engine",
        reels={"Beauty": reels["beauty"]},
    ).read_text()
    assert page.count('<audio class="clip"') == 4  # three clips and the reel
    assert all(u.startswith(("data:", "#")) for u in re.findall(r'(?:src|href)="([^"]*)"', page))
    assert "(previous line)" in page and "Reader" in page
    md = text_clip(quotes[0]).to_markdown()
    assert quotes[0].text in md and "(previous line)" in md and "Sonnet 1" in md


def test_video_clips_and_reel(tmp_path: Path) -> None:
    src = tmp_path / "talk.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=6",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(src),
        ],
        check=True,
    )
    a = cut_clip(src, 1.0, 2.0, tmp_path / "a.mp4", padding=0.25)
    b = cut_clip(src, 3.0, 4.5, tmp_path / "b.mp4", padding=0.25)
    assert a.has_video and probe(tmp_path / "a.mp4").has_video
    assert abs(a.duration - 1.5) < TOL and abs(b.duration - 2.0) < TOL
    reel = highlight_reel([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "reel.mp4", gap=0.5)
    info = probe(reel)
    assert info.has_video and abs(media_duration(reel) - 4.0) < 0.1
    audio_only = cut_clip(src, 1.0, 2.0, tmp_path / "a.m4a")
    assert not audio_only.has_video and not probe(tmp_path / "a.m4a").has_video


def test_a_text_clip_shows_the_quote_cleanly_with_its_prompt_and_turns(ami: AmiRun) -> None:
    q = next(q for t in ami.spec.themes for q in t.quotes if "{" in q.text and q.prompt)
    clip = text_clip(q)
    md = clip.to_markdown()
    assert f"> {q.display}" in md and "{" not in md
    assert f"*Asked by {q.prompt_speaker}: “{q.prompt}”*" in md
    for turn in q.turns:
        assert f"**{turn.speaker}:** " in md
    own = next(t for t in q.turns if t.quote_start is not None)
    assert f"**{own.text}**" in md  # the quote's own turn whole, the quote marked
    back = clip.as_quote()
    assert (back.text, back.display, back.turns, back.prompt) == (
        q.text,
        q.display,
        q.turns,
        q.prompt,
    )
