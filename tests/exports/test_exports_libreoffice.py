"""The deck opens in LibreOffice (headless) and converts slide for slide, with no error."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from pptx import Presentation

from exports.deck import build_deck

from .exports_fixtures import AmiRun

pytestmark = pytest.mark.slow


def _pages(pdf: Path) -> int:
    # count page objects without a PDF library: LibreOffice writes one /Type /Page per slide
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))


def _package_is_consistent(deck: Path) -> None:
    """Every part parses and every internal relationship target exists (a dangling one is
    what triggers PowerPoint's repair prompt)."""
    with zipfile.ZipFile(deck) as zf:
        names = set(zf.namelist())
        assert "[Content_Types].xml" in names
        for name in names:
            if name.endswith((".xml", ".rels")):
                etree.fromstring(zf.read(name))
            if not name.endswith(".rels"):
                continue
            base = Path(name).parent.parent
            for rel in etree.fromstring(zf.read(name)):
                if rel.get("TargetMode") == "External":
                    continue
                target = rel.get("Target", "")
                resolved = (
                    target.lstrip("/")
                    if target.startswith("/")
                    else str((base / target).as_posix())
                )
                parts: list[str] = []
                for p in resolved.split("/"):
                    if p == "..":
                        parts.pop()
                    elif p not in ("", "."):
                        parts.append(p)
                assert "/".join(parts) in names, (name, target)


@pytest.mark.parametrize("templated", [False, True])
def test_deck_converts_in_libreoffice_slide_for_slide(
    ami: AmiRun, tmp_path: Path, templated: bool
) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.fail("LibreOffice is needed: apt-get install -y libreoffice-impress (Debian)")
    template = None
    if templated:
        template = tmp_path / "template.pptx"
        Presentation().save(str(template))
    deck = build_deck(ami.spec, ami.run_dir, tmp_path / "deck.pptx", template=template)
    _package_is_consistent(deck)
    slides = len(Presentation(str(deck)).slides)
    profile = tmp_path / "lo-profile"
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(deck),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stderr and "rror" not in proc.stdout
    pdf = tmp_path / "deck.pdf"
    assert pdf.is_file() and _pages(pdf) == slides
