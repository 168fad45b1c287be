#!/usr/bin/env python
"""Render the deck and the report to PNG so a person can look at them.

    python scripts/visual_check.py --deck run/deck.pptx --html run/report.html --out /tmp/vc
    python scripts/visual_check.py --demo --out /tmp/vc     # builds a demo run from samples/

Deck: LibreOffice headless (Debian `libreoffice-impress`) -> PDF -> one PNG per slide
(`pdftoppm`, Debian `poppler-utils`) -> contact sheets of 8 slides. Report: headless
Chromium (Debian `chromium`, driven by Python `playwright`) -> a full-page screenshot,
once as opened and once with every "Show in source" expanded; every network request the
page makes is recorded (there must be none but the page itself and data: URIs).
Prints one JSON object: the PNGs written, page counts, requests seen.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        sys.exit(
            f"{binary} not found: install the Debian package {package} (apt-get install -y {package})"
        )
    return path


def deck_to_pdf(deck: Path, out_dir: Path) -> Path:
    """Convert with a private LibreOffice profile (parallel runs do not fight over a lock)."""
    soffice = _need("soffice", "libreoffice-impress")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        proc = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(deck),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    pdf = out_dir / (deck.stem + ".pdf")
    if proc.returncode != 0 or not pdf.is_file():
        raise RuntimeError(f"LibreOffice could not convert {deck}: {proc.stdout}\n{proc.stderr}")
    return pdf


def pdf_page_count(pdf: Path) -> int:
    info = subprocess.run(
        [_need("pdfinfo", "poppler-utils"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def pdf_to_pngs(pdf: Path, out_dir: Path, dpi: int = 80) -> list[Path]:
    prefix = out_dir / pdf.stem
    subprocess.run(
        [_need("pdftoppm", "poppler-utils"), "-r", str(dpi), "-png", str(pdf), str(prefix)],
        check=True,
    )
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))


def contact_sheets(pngs: list[Path], out_dir: Path, stem: str, per_sheet: int = 8) -> list[Path]:
    from PIL import Image

    sheets = []
    for k in range(0, len(pngs), per_sheet):
        ims = [Image.open(p) for p in pngs[k : k + per_sheet]]
        w, h = ims[0].size
        cols, pad = 2, 8
        rows = (len(ims) + cols - 1) // cols
        sheet = Image.new("RGB", (cols * w + (cols + 1) * pad, rows * h + (rows + 1) * pad), "#555")
        for i, im in enumerate(ims):
            sheet.paste(im, (pad + (i % cols) * (w + pad), pad + (i // cols) * (h + pad)))
        path = out_dir / f"{stem}-sheet{k // per_sheet + 1}.png"
        sheet.save(path)
        sheets.append(path)
    return sheets


def screenshot_report(html: Path, out_dir: Path) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or _need("chromium", "chromium")
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.resolve().as_uri(), wait_until="load")
        closed = out_dir / f"{html.stem}.png"
        page.screenshot(path=str(closed), full_page=True)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        opened = out_dir / f"{html.stem}-expanded.png"
        page.screenshot(path=str(opened), full_page=True)
        browser.close()
    page_url = html.resolve().as_uri()
    external = [u for u in requests if u != page_url and not u.startswith("data:")]
    return {
        "screenshots": [str(closed), str(opened)],
        "requests": len(requests),
        "external_requests": external,
    }


def _demo(out: Path) -> tuple[Path, Path, Path]:
    spec_path = REPO / "tests" / "exports" / "exports_fixtures.py"
    mod_spec = importlib.util.spec_from_file_location("exports_fixtures", spec_path)
    assert mod_spec is not None and mod_spec.loader is not None
    mod = importlib.util.module_from_spec(mod_spec)
    sys.modules["exports_fixtures"] = mod  # dataclasses look their module up
    mod_spec.loader.exec_module(mod)
    from exports.deck import build_deck
    from exports.report import write_html

    run = out / "demo-run"
    spec, _ = mod.build_spec(run)
    deck = build_deck(spec, run, run / "deck.pptx")
    from pptx import Presentation

    tpl = Presentation()  # a 4:3 "corporate" template, to see the template path too
    tpl.save(str(run / "template.pptx"))
    tdeck = build_deck(spec, run, run / "deck-template.pptx", template=run / "template.pptx")
    return deck, tdeck, write_html(spec, run, run / "report.html")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--deck", type=Path, action="append", default=[])
    ap.add_argument("--html", type=Path, action="append", default=[])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--demo", action="store_true", help="build a demo run from samples/ first")
    ap.add_argument("--dpi", type=int, default=80)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    decks, htmls = list(args.deck), list(args.html)
    if args.demo:
        deck, tdeck, html = _demo(args.out)
        decks += [deck, tdeck]
        htmls.append(html)
    result: dict[str, object] = {}
    for deck in decks:
        pdf = deck_to_pdf(deck, args.out)
        pngs = pdf_to_pngs(pdf, args.out, args.dpi)
        result[str(deck)] = {
            "pdf": str(pdf),
            "pages": len(pngs),
            "sheets": [str(p) for p in contact_sheets(pngs, args.out, deck.stem)],
        }
    for html in htmls:
        result[str(html)] = screenshot_report(html, args.out)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
