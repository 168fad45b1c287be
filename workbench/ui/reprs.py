"""Rich displays for the result objects, registered with IPython's display formatters.

`register()` teaches the running IPython how to show `Corpus`, `Run`, `Finding`,
`Theme`, `Deck` and a run in progress (`RunHandle`) — by type *name*, so nothing heavy
is imported until such an object is displayed. Each type gets HTML and a short text
form (what a console, papermill's text view or a log shows). A `RunHandle` displays as
the live panel where widgets can be drawn and as log lines elsewhere (see
`workbench.core.detect`).

`Deck` is a small view of a deck file: its slide titles as text, its slide thumbnails
as HTML (rendered with LibreOffice, see `workbench.ui.thumbnails`).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from workbench.ui import html as H


class Deck:
    """A deck file (`deck.pptx`) to look at: slide titles, and thumbnails in a notebook."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def slide_titles(self) -> list[str]:
        from pptx import Presentation

        titles = []
        for slide in Presentation(str(self.path)).slides:
            title = slide.shapes.title
            titles.append(title.text_frame.text.strip() if title is not None else "(untitled)")
        return titles

    def thumbnails(self) -> list[Path]:
        from workbench.ui.thumbnails import deck_thumbnails

        return deck_thumbnails(self.path)

    def __repr__(self) -> str:
        titles = self.slide_titles()
        lines = [f"Deck({str(self.path)!r}, {len(titles)} slides)"]
        lines += [f"  {i}. {t}" for i, t in enumerate(titles, 1)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from workbench.ui.thumbnails import ThumbnailError

        titles = self.slide_titles()
        try:
            pngs = self.thumbnails()
        except ThumbnailError as e:
            items = "".join(f"<li>{H.e(t)}</li>" for t in titles)
            return f"<div><b>Deck</b> <code>{H.e(str(self.path))}</code> ({H.e(str(e))})<ol>{items}</ol></div>"
        shots = [
            (f"{i}. {t}", base64.b64encode(p.read_bytes()).decode("ascii"))
            for i, (t, p) in enumerate(zip(titles, pngs, strict=False), 1)
        ]
        return (
            f"{H.CSS}<div class='wb-repr'><b>Deck</b> <code>{H.e(str(self.path))}</code>, "
            f"{len(titles)} slides{H.images_html(shots)}</div>"
        )


def finding_text(f: Any) -> str:
    ev = f.evidence[0]
    who = f" — {ev.speaker}" if ev.speaker else ""
    return f'Finding {f.id} ({f.doc_id}, confidence {f.confidence:.2f}): {f.claim}\n  "{ev.quote}"{who}'


def theme_text(t: Any) -> str:
    return f"Theme {t.label!r}: {t.n_documents} of {t.total_documents} documents, {len(t.finding_ids)} findings"


def _text(fn: Any) -> Any:
    def printer(obj: Any, p: Any, cycle: bool) -> None:
        p.text(fn(obj) if not cycle else "...")

    return printer


def _display_handle(handle: Any) -> None:
    from workbench.ui.views import watch

    watch(handle)


_TYPES = {
    ("workbench.runs.corpus", "Corpus"): (H.corpus_html, None),
    ("workbench.runs.run", "Run"): (H.run_html, None),
    ("subagents.findings", "Finding"): (H.finding_html, finding_text),
    ("subagents.findings", "Theme"): (H.theme_html, theme_text),
}


def register(ip: Any = None) -> bool:
    """Register the displays with IPython (the running shell by default); False outside one."""
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        ip = get_ipython()
    if ip is None:
        return False
    formatters = ip.display_formatter.formatters
    for (module, name), (to_html, to_text) in _TYPES.items():
        formatters["text/html"].for_type_by_name(module, name, to_html)
        if to_text is not None:
            formatters["text/plain"].for_type_by_name(module, name, _text(to_text))
    ip.display_formatter.ipython_display_formatter.for_type_by_name(
        "workbench.runs.handle", "RunHandle", _display_handle
    )
    return True
