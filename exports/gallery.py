"""A clips gallery: one self-contained HTML page of every clip, grouped by theme.

Each card is a text clip (quote, speaker, source, time range, context before and after)
with its player; media are embedded under the same rules as the report (see
`exports.report`), so the gallery can be shared as one file.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from exports.report import CSP, CSS, _Media, _player_html, _quote_html
from exports.spec import QuoteSpec

__all__ = ["write_gallery"]


def write_gallery(
    groups: Mapping[str, Sequence[QuoteSpec]],
    run_dir: Path,
    out_path: Path,
    *,
    title: str,
    engine_note: str,
    reels: Mapping[str, Path] | None = None,
) -> Path:
    """`groups` maps a heading (a theme label) to its quotes; `reels` optionally maps the
    same heading to a highlight reel file (under `run_dir`)."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    media = _Media(run_dir, out_path.parent)
    e = html.escape
    body = [f'<div class="engine">{e(engine_note)}</div>', f"<h1>{e(title)}</h1>"]
    n = 0
    for heading, quotes in groups.items():
        body.append(f"<h2>{e(heading)}</h2>")
        reel = (reels or {}).get(heading)
        if reel is not None:
            q = QuoteSpec(
                text="",
                doc_id="",
                doc_title="",
                segment_id="",
                media_path=Path(reel).relative_to(run_dir).as_posix(),
            )
            body.append(
                f'<p class="meta">Highlight reel ({len(quotes)} clips)</p>' + _player_html(q, media)
            )
        for q in quotes:
            n += 1
            body.append(_quote_html(q, f"clip-{n}", media))
    body.append(f"<footer>{e(engine_note)}</footer>")
    out_path.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n",
        encoding="utf-8",
    )
    return out_path
