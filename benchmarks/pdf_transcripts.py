"""PDF transcripts against their text versions: the PDPilot study in ../shared/bench.

    python benchmarks/pdf_transcripts.py --json

Loads each `pdf/P*.pdf` of the study and its `transcripts/P*.txt` with `load_corpus`
and compares what each says: the speakers, the speaker turns (speaker and text,
whitespace-normalised) and the words of the whole conversation in order. Prints one JSON
object: per document the turn counts, whether turns are equal, whether the words are,
what the PDF cleaner dropped, and every turn that differs; then totals, with the load
time of the PDFs as a ratio of the text files' (the baseline, measured in the same run).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval import load_corpus  # noqa: E402

STUDY = ROOT.parent / "shared" / "bench" / "coded-interviews" / "pdpilot"


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def compare(study: Path) -> dict[str, object]:
    docs: dict[str, object] = {}
    t_pdf = t_txt = 0.0
    totals = {"pdf_turns": 0, "txt_turns": 0, "docs_turns_equal": 0, "docs_words_equal": 0}
    pdfs = sorted((study / "pdf").glob("P*.pdf"))
    for pdf in pdfs:
        t0 = time.perf_counter()
        a = load_corpus(pdf).documents[0]
        t1 = time.perf_counter()
        b = load_corpus(study / "transcripts" / f"{pdf.stem}.txt").documents[0]
        t2 = time.perf_counter()
        t_pdf += t1 - t0
        t_txt += t2 - t1
        ta = [(s.speaker, _norm(s.text)) for s in a.segments if s.speaker]
        tb = [(s.speaker, _norm(s.text)) for s in b.segments if s.speaker]
        words_equal = _norm(" ".join(f"{s}: {t}" for s, t in ta)) == _norm(
            " ".join(f"{s}: {t}" for s, t in tb)
        )
        diffs = []
        sm = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op != "equal":
                diffs.append(
                    {
                        "pdf": [f"{s}: {t[:120]}" for s, t in ta[i1:i2]],
                        "txt": [f"{s}: {t[:120]}" for s, t in tb[j1:j2]],
                    }
                )
        totals["pdf_turns"] += len(ta)
        totals["txt_turns"] += len(tb)
        totals["docs_turns_equal"] += ta == tb
        totals["docs_words_equal"] += words_equal
        docs[pdf.stem] = {
            "pages": a.metadata.get("pages"),
            "pdf_turns": len(ta),
            "txt_turns": len(tb),
            "speakers_equal": {s for s, _ in ta} == {s for s, _ in tb},
            "turns_equal": ta == tb,
            "words_equal": words_equal,
            "unattributed_pdf_segments": [s.text for s in a.segments if not s.speaker],
            "dropped": {k: v for k, v in a.metadata.items() if k.startswith("dropped_")},
            "differences": diffs,
        }
    return {
        "documents": docs,
        **totals,
        "n_documents": len(pdfs),
        "load_seconds_pdf": round(t_pdf, 3),
        "load_seconds_txt": round(t_txt, 3),
        "load_time_ratio_pdf_vs_txt": round(t_pdf / t_txt, 2) if t_txt else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    ap.add_argument("--study", type=Path, default=STUDY)
    args = ap.parse_args()
    if not (args.study / "pdf").is_dir():
        sys.exit(f"not found: {args.study}/pdf (this benchmark needs ../shared)")
    print(json.dumps(compare(args.study), ensure_ascii=False))


if __name__ == "__main__":
    main()
