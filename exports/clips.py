"""Clips: text clips and media clips cut from audio/video, highlight reels, a gallery.

Media work goes through the ffmpeg binary that `imageio-ffmpeg` ships (no system ffmpeg,
no ffprobe needed): durations are read by decoding to PCM and counting samples, which is
exact for any format ffmpeg can read.

A media clip is cut with input seeking (sample-accurate when transcoding), padded on both
sides (clamped to the media) and faded in and out inside the padding, so the quoted words
themselves are never attenuated as long as `fade <= padding`. The clip records where it
sits in the source, so a player can show "0:12.3-0:18.1 of interview 4".
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from exports.errors import ExportInputError, MediaError
from exports.paths import inside
from exports.spec import QuoteSpec, ThemeSpec, TurnSpec
from exports.text import attribution, time_range

__all__ = [
    "MediaClip",
    "MediaInfo",
    "TextClip",
    "clip_for_quote",
    "cut_clip",
    "decode_pcm",
    "ffmpeg_exe",
    "highlight_reel",
    "media_duration",
    "probe",
    "text_clip",
    "theme_reels",
]

AUDIO_CODECS: dict[str, list[str]] = {
    ".wav": ["-c:a", "pcm_s16le"],
    ".m4a": ["-c:a", "aac", "-b:a", "96k"],
    ".mp3": ["-c:a", "libmp3lame", "-q:a", "4"],
    ".ogg": ["-c:a", "libopus", "-b:a", "64k"],
    ".opus": ["-c:a", "libopus", "-b:a", "64k"],
}
VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".webm"}
REEL_SIZE = (1280, 720)
REEL_RATE = 48000


class TextClip(BaseModel):
    """A quote as a self-standing card: what was said (as a reader sees it: transcript
    markup removed), by whom, where, what drew it, and the turns around it."""

    quote: str  # verbatim
    display: str = ""  # the quote as a reader sees it
    speaker: str | None
    doc_id: str
    doc_title: str
    segment_id: str
    start_time: float | None = None
    end_time: float | None = None
    context_before: str = ""
    context_after: str = ""
    prompt: str | None = None
    prompt_speaker: str | None = None
    turns: list[TurnSpec] = Field(default_factory=list)
    media_path: str | None = None

    def to_markdown(self) -> str:
        where = " · ".join(p for p in (self.doc_title, self._range()) if p)
        lines = []
        if self.prompt:
            who = f" by {self.prompt_speaker}" if self.prompt_speaker else ""
            lines.append(f"*Asked{who}: “{self.prompt}”*")
        if self.context_before and not self.turns:
            lines.append(f"*… {self.context_before}*")
        lines.append(f"> {self.display or self.quote}")
        if self.context_after and not self.turns:
            lines.append(f"*{self.context_after} …*")
        lines.append(f"— {self.speaker or 'Unknown speaker'} · {where} (segment {self.segment_id})")
        if self.turns:  # the quote's own turn whole (the quote in bold), with its neighbours
            lines.append("\n".join(_turn_markdown(t) for t in self.turns))
        return "\n\n".join(lines)

    def _range(self) -> str:
        return time_range(self.as_quote())

    def as_quote(self) -> QuoteSpec:
        return QuoteSpec(
            text=self.quote,
            display=self.display,
            speaker=self.speaker,
            doc_id=self.doc_id,
            doc_title=self.doc_title,
            segment_id=self.segment_id,
            start_time=self.start_time,
            end_time=self.end_time,
            context_before=self.context_before,
            context_after=self.context_after,
            prompt=self.prompt,
            prompt_speaker=self.prompt_speaker,
            turns=self.turns,
            media_path=self.media_path,
        )


def _turn_markdown(t: TurnSpec) -> str:
    who = f"**{t.speaker}:** " if t.speaker else ""
    if t.quote_start is None or t.quote_end is None:
        return f"{who}{t.text}  "
    a, b = t.quote_start, t.quote_end
    return f"{who}{t.text[:a]}**{t.text[a:b]}**{t.text[b:]}  "


def text_clip(q: QuoteSpec) -> TextClip:
    return TextClip(
        quote=q.text,
        display=q.display,
        speaker=q.speaker,
        doc_id=q.doc_id,
        doc_title=q.doc_title,
        segment_id=q.segment_id,
        start_time=q.start_time,
        end_time=q.end_time,
        context_before=q.context_before,
        context_after=q.context_after,
        prompt=q.prompt,
        prompt_speaker=q.prompt_speaker,
        turns=q.turns,
        media_path=q.media_path,
    )


class MediaInfo(BaseModel):
    duration: float
    has_video: bool
    has_audio: bool


class MediaClip(BaseModel):
    """A cut clip and where it came from (times in the source, seconds)."""

    path: str
    source: str
    clip_start: float  # where the clip starts in the source (quote start - padding, clamped)
    clip_end: float
    quote_start: float
    quote_end: float
    duration: float  # measured from the written file
    has_video: bool
    label: str = ""


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # imported here: it looks for the binary on import

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise MediaError(
            f"ffmpeg failed to {what}", command=cmd, stderr=proc.stderr.decode(errors="replace")
        )
    return proc


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def _tags(title: str, note: str) -> list[str]:
    tags = []
    if title:
        tags += ["-metadata", f"title={title}"]
    if note:
        tags += ["-metadata", f"comment={note}"]
    return tags


def probe(path: Path) -> MediaInfo:
    """Streams and duration from ffmpeg's own banner (no ffprobe in imageio-ffmpeg)."""
    path = Path(path)
    if not path.is_file():
        raise ExportInputError(f"media file {path} does not exist")
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        check=False,
    )
    err = proc.stderr.decode(errors="replace")
    m = _DURATION.search(err)
    has_audio = bool(re.search(r"Stream #\S+.*: Audio:", err))
    has_video = bool(re.search(r"Stream #\S+.*: Video:", err)) and "attached pic" not in err
    if m is None or not (has_audio or has_video):
        raise MediaError(f"{path.name} is not audio or video ffmpeg can read", stderr=err)
    h, mi, s = m.groups()
    return MediaInfo(
        duration=int(h) * 3600 + int(mi) * 60 + float(s), has_video=has_video, has_audio=has_audio
    )


def decode_pcm(path: Path, rate: int = 16000) -> np.ndarray:
    """The audio of `path` as mono int16 samples at `rate` (decoded by ffmpeg)."""
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(rate),
        "-f",
        "s16le",
        "-",
    ]
    return np.frombuffer(_run(cmd, f"decode {Path(path).name}").stdout, dtype="<i2")


def media_duration(path: Path) -> float:
    """Duration in seconds, measured by decoding (exact; container headers can lie)."""
    info = probe(path)
    if not info.has_audio:
        return info.duration
    return len(decode_pcm(path, 16000)) / 16000.0


def cut_clip(
    source: Path,
    start: float,
    end: float,
    out_path: Path,
    *,
    padding: float = 0.3,
    fade: float = 0.15,
    label: str = "",
    note: str = "",
) -> MediaClip:
    """Cut [start - padding, end + padding] of `source` to `out_path`, with fades.

    The output format follows `out_path`'s suffix (.m4a .mp3 .wav .ogg/.opus for audio;
    .mp4 for video sources). `label` (the attribution) and `note` (the engine note) are
    written into the file's title and comment tags, so a clip passed on alone still says
    where it came from.
    """
    source, out_path = Path(source), Path(out_path)
    if end <= start:
        raise ExportInputError(f"clip end {end} must be after its start {start}")
    info = probe(source)
    if start >= info.duration:
        raise ExportInputError(
            f"clip start {start:.2f}s is past the end of {source.name} ({info.duration:.2f}s)"
        )
    c0 = max(0.0, start - padding)
    c1 = min(info.duration, end + padding)
    dur = c1 - c0
    fade = max(0.0, min(fade, dur / 4))
    suffix = out_path.suffix.lower()
    video = info.has_video and suffix in VIDEO_EXTS
    if not video and suffix not in AUDIO_CODECS:
        raise ExportInputError(
            f"clip file {out_path.name}: use one of {sorted(AUDIO_CODECS)} for audio"
            + (f" or {sorted(VIDEO_EXTS)} for video" if info.has_video else "")
        )
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-ss",
        f"{c0:.3f}",
        "-i",
        str(source),
        "-t",
        f"{dur:.3f}",
        "-map_metadata",
        "-1",
        *_tags(label, note),
    ]
    afade = f"afade=t=in:st=0:d={fade:.3f},afade=t=out:st={dur - fade:.3f}:d={fade:.3f}"
    if video:
        vfade = f"fade=t=in:st=0:d={fade:.3f},fade=t=out:st={dur - fade:.3f}:d={fade:.3f}"
        cmd += [
            "-map",
            "0:v:0",
            "-vf",
            vfade,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ]
        if info.has_audio:
            cmd += ["-map", "0:a:0", "-af", afade, "-c:a", "aac", "-b:a", "128k"]
    else:
        if not info.has_audio:
            raise ExportInputError(f"{source.name} has no audio; cut it to a video file (.mp4)")
        cmd += ["-map", "0:a:0", "-vn", "-af", afade, *AUDIO_CODECS[suffix]]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _run([*cmd, str(out_path)], f"cut {source.name} {c0:.2f}-{c1:.2f}s")
    return MediaClip(
        path=str(out_path),
        source=str(source),
        clip_start=c0,
        clip_end=c1,
        quote_start=start,
        quote_end=end,
        duration=media_duration(out_path),
        has_video=video,
        label=label,
    )


def clip_for_quote(
    q: QuoteSpec,
    source: Path,
    run_dir: Path,
    *,
    subdir: str = "clips",
    suffix: str = ".m4a",
    padding: float = 0.3,
    fade: float = 0.15,
    note: str = "",
) -> tuple[QuoteSpec, MediaClip]:
    """Cut the quote's time range from `source`; return the quote with `media_path` set
    (relative to `run_dir`) and the clip."""
    if q.start_time is None or q.end_time is None:
        raise ExportInputError(
            f"quote from segment {q.segment_id!r} has no time range; only timed quotes can be clipped"
        )
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{q.doc_id}_{q.segment_id}_{q.start_time:.2f}")
    out = Path(run_dir) / subdir / f"{safe}{suffix}"
    clip = cut_clip(
        source,
        q.start_time,
        q.end_time,
        out,
        padding=padding,
        fade=fade,
        label=attribution(q),
        note=note,
    )
    rel = out.relative_to(run_dir).as_posix()
    return q.model_copy(update={"media_path": rel}), clip.model_copy(update={"path": rel})


def highlight_reel(
    clips: Sequence[Path], out_path: Path, *, gap: float = 0.6, note: str = ""
) -> Path:
    """Join clips (in order) into one reel with `gap` seconds of silence (and black) between.

    Audio-only reels when any clip has no video (.m4a/.mp3/.wav/...); otherwise video
    scaled and padded to 1280x720 (.mp4).
    """
    if not clips:
        raise ExportInputError("a highlight reel needs at least one clip")
    out_path = Path(out_path)
    infos = [probe(Path(c)) for c in clips]
    video = all(i.has_video for i in infos) and out_path.suffix.lower() in VIDEO_EXTS
    if not video and out_path.suffix.lower() not in AUDIO_CODECS:
        raise ExportInputError(
            f"reel {out_path.name}: use an audio suffix {sorted(AUDIO_CODECS)} or .mp4"
        )
    w, h = REEL_SIZE
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y"]
    for c in clips:
        cmd += ["-i", str(c)]
    parts, labels = [], []
    n = len(clips)
    for k, info in enumerate(infos):
        if info.has_audio:
            parts.append(
                f"[{k}:a]aresample={REEL_RATE},aformat=sample_fmts=fltp:channel_layouts=mono[a{k}]"
            )
        else:
            parts.append(f"anullsrc=r={REEL_RATE}:cl=mono,atrim=duration={info.duration:.3f}[a{k}]")
        if video:
            parts.append(
                f"[{k}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,"
                f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p[v{k}]"
            )
        labels.append(f"[v{k}][a{k}]" if video else f"[a{k}]")
        if k < n - 1 and gap > 0:
            parts.append(f"anullsrc=r={REEL_RATE}:cl=mono,atrim=duration={gap:.3f}[ga{k}]")
            if video:
                parts.append(f"color=c=black:s={w}x{h}:r=30:d={gap:.3f},format=yuv420p[gv{k}]")
            labels.append(f"[gv{k}][ga{k}]" if video else f"[ga{k}]")
    segs = len(labels)
    parts.append(
        "".join(labels)
        + f"concat=n={segs}:v={1 if video else 0}:a=1"
        + ("[v][a]" if video else "[a]")
    )
    cmd += ["-filter_complex", ";".join(parts), *_tags(out_path.stem, note)]
    if video:
        cmd += [
            "-map",
            "[v]",
            "-map",
            "[a]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
        ]
    else:
        cmd += ["-map", "[a]", *AUDIO_CODECS[out_path.suffix.lower()]]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _run([*cmd, str(out_path)], f"join {n} clips into {out_path.name}")
    return out_path


def theme_reels(
    themes: Sequence[ThemeSpec],
    run_dir: Path,
    *,
    subdir: str = "clips/reels",
    suffix: str = ".m4a",
    note: str = "",
) -> dict[str, Path]:
    """One highlight reel per theme from its quotes' clips (themes without clips are skipped).

    Returns theme id -> reel path (absolute)."""
    run_dir = Path(run_dir)
    reels: dict[str, Path] = {}
    for t in themes:
        files = [
            inside(run_dir, q.media_path, f"clip of theme {t.id!r}")
            for q in t.quotes
            if q.media_path
        ]
        if files:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", t.id)
            reels[t.id] = highlight_reel(files, run_dir / subdir / f"{safe}{suffix}", note=note)
    return reels
