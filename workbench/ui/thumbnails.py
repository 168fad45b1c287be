"""Slide thumbnails of a deck, for the deck preview: LibreOffice -> PDF -> PNG per slide.

Needs the Debian packages `libreoffice-impress` (soffice) and `poppler-utils`
(pdftoppm). Thumbnails are cached beside the deck (`<deck stem>.thumbs/`) and redrawn
only when the deck is newer. A private LibreOffice profile per call lets several
conversions run at once without fighting over a profile lock. Rendering a deck takes
seconds (LibreOffice starts cold), so the panel does it on a background thread.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from workbench.core.errors import WorkbenchError

_LOCK = threading.Lock()  # one conversion at a time: the panel and a cell may both ask


class ThumbnailError(WorkbenchError):
    """The deck could not be rendered (a tool is missing, or LibreOffice failed)."""


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ThumbnailError(
            f"{name} is not installed, so slide thumbnails cannot be drawn; "
            f"install the Debian package {package} (apt-get install -y {package})"
        )
    return path


def deck_thumbnails(deck: str | Path, *, dpi: int = 40, timeout: float = 180) -> list[Path]:
    """PNG per slide of `deck`, in slide order (cached; see the module docstring)."""
    with _LOCK:
        return _thumbnails(Path(deck), dpi, timeout)


def _thumbnails(deck: Path, dpi: int, timeout: float) -> list[Path]:
    if not deck.is_file():
        raise ThumbnailError(f"no deck at {deck}; finish the run first")
    out = deck.with_name(f"{deck.stem}.thumbs")
    cached = sorted(out.glob("slide-*.png"))
    if cached and min(p.stat().st_mtime for p in cached) >= deck.stat().st_mtime:
        return cached
    soffice = _tool("soffice", "libreoffice-impress")
    pdftoppm = _tool("pdftoppm", "poppler-utils")
    with tempfile.TemporaryDirectory(prefix="wb-thumbs-") as tmp:
        tmp_dir = Path(tmp)
        proc = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{tmp_dir / 'profile'}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(tmp_dir),
                str(deck),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        pdf = tmp_dir / f"{deck.stem}.pdf"
        if proc.returncode != 0 or not pdf.is_file():
            raise ThumbnailError(f"LibreOffice could not convert {deck}: {proc.stderr.strip()}")
        subprocess.run(
            [pdftoppm, "-r", str(dpi), "-png", str(pdf), str(tmp_dir / "slide")],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        pages = sorted(tmp_dir.glob("slide-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        result = []
        for i, p in enumerate(pages, 1):
            dest = out / f"slide-{i:03d}.png"
            shutil.move(str(p), dest)
            result.append(dest)
    return result
