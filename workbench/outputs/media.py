"""Media clips for a run: every quote from a timed transcript with its recording beside
it (a .vtt/.srt/.txt next to a .wav/.mp3/.mp4 of the same name) gets a playable clip
cut around it, each theme a highlight reel, and the run a clips gallery.

A quote's clip spans its segment's time range (a caption cue or a timestamped turn),
padded and faded; the exports package does the cutting with ffmpeg.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from exports.clips import clip_for_quote, theme_reels
from exports.errors import ExportError
from exports.gallery import write_gallery
from exports.spec import QuoteSpec, ReportSpec
from workbench.runs.corpus import Corpus


def attach_clips(
    spec: ReportSpec, corpus: Corpus, run_dir: Path, *, warn: Callable[[str], None] = lambda _: None
) -> tuple[ReportSpec, dict[str, str]]:
    """Cut clips for the spec's timed quotes; return the updated spec and the outputs
    written (name -> path relative to the run directory).

    A quote whose recording cannot be cut keeps no clip and a warning says why; the
    rest of the export goes on.
    """
    docs = corpus.by_id()
    root = corpus.path if corpus.path.is_dir() else corpus.path.parent
    themes = []
    cut = 0
    for theme in spec.themes:
        quotes: list[QuoteSpec] = []
        for q in theme.quotes:
            doc = docs.get(q.doc_id)
            if (
                doc is not None
                and doc.media_path
                and q.start_time is not None
                and q.end_time is not None
            ):
                try:
                    q, _ = clip_for_quote(q, root / doc.media_path, run_dir, note=spec.engine_note)
                    cut += 1
                except ExportError as e:
                    warn(f"no clip for a quote of {doc.title}: {e}")
            quotes.append(q)
        themes.append(theme.model_copy(update={"quotes": quotes}))
    spec = spec.model_copy(update={"themes": themes})
    if not cut:
        return spec, {}
    written: dict[str, str] = {}
    reels = theme_reels(spec.themes, run_dir, note=spec.engine_note)
    by_label = {t.label: reels[t.id] for t in spec.themes if t.id in reels}
    groups = {t.label: [q for q in t.quotes if q.media_path] for t in spec.themes}
    gallery = write_gallery(
        {k: v for k, v in groups.items() if v},
        run_dir,
        run_dir / "clips" / "gallery.html",
        title=f"Clips: {spec.question}",
        engine_note=spec.engine_note,
        reels=by_label,
    )
    written["clips_gallery"] = str(gallery.relative_to(run_dir))
    return spec, written
