"""A run's coding against a researcher's: `workbench eval coding RUN_DIR CODED`.

CODED is the researchers' coding of the same transcripts, as
- a REFI-QDA project (`.qdpx`, exported by NVivo, ATLAS.ti, MAXQDA, QualCoder, ...): its
  sources' text, its code tree (a code's name is its path, "Parent > Child") and its
  coded text selections; or
- a `codes.json`: `{"interviewer_speakers": [...], "codes": [{"code": "Parent > Child",
  "doc": "<doc>", "segment": "<text as coded>"}]}`, located in `transcripts/<doc>.txt`
  beside it when that folder exists, else in the run's own documents.

Every finding quote and every coded segment is located in its transcript (text
normalised: case, whitespace, curly quotes, spacing before punctuation); a finding
carries the codes whose segments its quote overlaps. The measures are the ones the
project's coded-interview benchmark uses:

  evidence_precision  share of themed findings whose quote lies in some coded segment
  interviewer_share   share of themed findings spoken by an interviewer
  code_recall         share of codes backed by >= min_docs documents that some themed
                      finding hits; parent_recall: the same for top-level codes
  hm_purity           harmonic mean of purity and inverse purity of themes against
                      top-level codes, over themed findings that hit a code
  prevalence_mae_docs mean |n_docs(theme) - n_docs(code)| over top-level codes matched to
                      their best theme

and, per top-level code, the precision and recall of the run's coded selections: a theme
stands for the code it is named after (a deductive run with the same codebook), else for
the code most of its findings hit. precision = share of the theme's findings whose quote
overlaps a segment of that code; recall = share of the code's located segments that
some finding of the theme overlaps.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subagents.findings import is_prompt_role
from workbench.core.errors import UserError
from workbench.runs.corpus import Corpus
from workbench.runs.run import Run

SEP = ">"


def norm(s: str) -> str:
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    s = s.replace("\u201d", '"')
    s = re.sub(r"\s+([,.;:!?])", r"\1", s)
    return re.sub(r"\s+", " ", s).strip().lower()


def locate(text: str, piece: str) -> tuple[int, int] | None:
    """Where `piece` lies in normalised `text`; long pieces anchor on their two ends."""
    p = norm(piece)
    if not p:
        return None
    i = text.find(p)
    if i < 0 and len(p) > 80:
        a, b = text.find(p[:60]), text.find(p[-60:])
        if a >= 0 and b >= a:
            return a, b + 60
        return None
    return (i, i + len(p)) if i >= 0 else None


def parent(code: str) -> str:
    return code.split(SEP)[0].strip()


@dataclass
class GoldCoding:
    """The researchers' coding: normalised texts per document, coded segments."""

    texts: dict[str, str]
    segments: list[tuple[str, str]]  # (doc, code path) per coded segment, in file order
    spans: dict[str, list[tuple[int, int, str]]]  # doc -> located (start, end, code)
    interviewers: set[str]
    source: str

    @property
    def located(self) -> int:
        return sum(len(v) for v in self.spans.values())


def _gold_from_segments(
    texts: dict[str, str], items: list[tuple[str, str, str]], interviewers: set[str], source: str
) -> GoldCoding:
    spans: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for doc, code, seg in items:
        if "..." in seg or "\u2026" in seg:  # an elided quote: its longest piece
            seg = max(re.split(r"\.\.\.|\u2026", seg), key=len)
        if doc in texts and seg and (sp := locate(texts[doc], seg)):
            spans[doc].append((sp[0], sp[1], code))
    return GoldCoding(
        texts=texts,
        segments=[(d, c) for d, c, _ in items],
        spans=dict(spans),
        interviewers={norm(s) for s in interviewers},
        source=source,
    )


def read_codes_json(path: Path, run_texts: dict[str, str]) -> GoldCoding:
    try:
        gold = json.loads(path.read_text(encoding="utf-8"))
        items = [
            (str(c["doc"]), str(c["code"]), str(c.get("matched_transcript_text") or c.get("segment") or ""))
            for c in gold["codes"]
        ]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(
            f"{path}: not a codes.json ({e}); expected {{'codes': [{{'code', 'doc', 'segment'}}]}}"
        ) from e
    folder = path.parent / "transcripts"
    texts = (
        {
            p.stem: norm(p.read_text(encoding="utf-8", errors="replace"))
            for p in folder.glob("*.txt")
        }
        if folder.is_dir()
        else dict(run_texts)
    )
    return _gold_from_segments(
        texts,
        items,
        set(gold.get("interviewer_speakers", [])),
        f"{path.name} ({len(items)} segments)",
    )


def read_qdpx_coding(path: Path) -> GoldCoding:
    from exports.qdpx import QdpxError, read_qdpx

    try:
        project = read_qdpx(path)
    except QdpxError as e:
        raise UserError(str(e)) from e
    paths = project.code_paths()
    texts: dict[str, str] = {}
    items: list[tuple[str, str, str]] = []
    for src in project.sources:
        doc = Path(src.name).stem
        texts[doc] = norm(src.text)
        for sel in src.selections:
            for code_guid in sel.code_guids:
                if code_guid in paths:
                    items.append((doc, paths[code_guid], src.text[sel.start : sel.end]))
    return _gold_from_segments(texts, items, set(), f"{path.name} ({len(items)} coded selections)")


def _theme_of_finding(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's themed findings, in the order of its findings table (ties in the
    measures break by that order, as in the benchmark's scorer), and its themes."""
    from subagents.findings import Finding

    run = Run(run_dir)
    themes = [t.model_dump(mode="json") for t in run.themes]
    theme_of = {fid: t["id"] for t in themes for fid in t["finding_ids"]}
    table = run.dir / "findings.json"
    if table.exists():
        listed = [Finding.model_validate(f) for f in json.loads(table.read_text(encoding="utf-8"))]
    else:
        listed = run.findings
    findings = []
    for f in listed:
        if f.id in theme_of:
            ev = f.evidence[0]
            findings.append(
                {
                    "id": f.id,
                    "doc_id": f.doc_id,
                    "quote": ev.quote,
                    "speaker": ev.speaker,
                    "role": ev.role,
                    "theme_id": theme_of[f.id],
                }
            )
    return findings, themes


def score_coding(
    findings: Sequence[dict[str, Any]],
    themes: Sequence[dict[str, Any]],
    gold: GoldCoding,
    *,
    min_docs: int = 2,
    participants_only: bool = False,
) -> dict[str, Any]:
    """The measures of the module docstring, for themed `findings` (dicts with id, doc_id,
    quote, speaker, theme_id, optionally role) and `themes` (dicts with id, label,
    n_documents). `participants_only` leaves out findings an interviewer spoke (by role, or
    by the coding's interviewer names) before scoring: how well the participants' words
    were coded, apart from how many questions the analysts quoted."""
    if participants_only:
        findings = [
            f
            for f in findings
            if not is_prompt_role(f.get("role"))
            and norm(str(f.get("speaker") or "")) not in gold.interviewers
        ]
    code_docs: dict[str, set[str]] = defaultdict(set)
    for doc, code in gold.segments:
        code_docs[code].add(doc)

    def doc_key(doc_id: str) -> str | None:
        if doc_id in gold.texts:
            return doc_id
        stem = Path(doc_id).stem
        return stem if stem in gold.texts else None

    hit_codes: list[set[str]] = []
    where: list[tuple[str, int, int] | None] = []
    unlocated = 0
    for f in findings:
        d = doc_key(str(f["doc_id"]))
        sp = locate(gold.texts[d], str(f["quote"])) if d else None
        if d is None or sp is None:
            unlocated += 1
            hit_codes.append(set())
            where.append(None)
            continue
        where.append((d, sp[0], sp[1]))
        hit_codes.append({c for s, e, c in gold.spans.get(d, []) if s < sp[1] and sp[0] < e})
    n = len(findings)
    wanted = {c for c, docs in code_docs.items() if len(docs) >= min_docs}
    wanted_parents = {parent(c) for c in wanted}
    hit_all = set().union(*hit_codes) if hit_codes else set()
    pairs = [
        (f["theme_id"], Counter(sorted(parent(c) for c in h)).most_common(1)[0][0])
        for f, h in zip(findings, hit_codes, strict=True)
        if h
    ]
    by_theme: dict[str, Counter[str]] = defaultdict(Counter)
    by_code: dict[str, Counter[str]] = defaultdict(Counter)
    for t, c in pairs:
        by_theme[t][c] += 1
        by_code[c][t] += 1
    m = len(pairs)
    purity = sum(max(c.values()) for c in by_theme.values()) / m if m else 0.0
    inverse = sum(max(c.values()) for c in by_code.values()) / m if m else 0.0
    hm = 2 * purity * inverse / (purity + inverse) if purity + inverse else 0.0
    parent_docs: dict[str, set[str]] = defaultdict(set)
    for c, docs in code_docs.items():
        parent_docs[parent(c)] |= docs
    theme_docs = {t["id"]: int(t.get("n_documents", 0)) for t in themes}
    errs = [
        abs(theme_docs.get(by_code[c].most_common(1)[0][0], 0) - len(parent_docs[c]))
        for c in by_code
    ]
    per_code = _per_code(findings, themes, gold, hit_codes, where, by_theme)
    return {
        "themes": len(themes),
        "themed_findings": n,
        "unlocated_quotes": unlocated,
        "coded_segments_located": f"{gold.located}/{len(gold.segments)}",
        "evidence_precision": round(sum(1 for h in hit_codes if h) / n, 3) if n else 0.0,
        "interviewer_share": round(
            sum(1 for f in findings if norm(str(f.get("speaker") or "")) in gold.interviewers) / n,
            3,
        )
        if n
        else 0.0,
        "code_recall": round(len(wanted & hit_all) / len(wanted), 3) if wanted else 0.0,
        "codes_scored": len(wanted),
        "parent_recall": round(
            len(wanted_parents & {parent(c) for c in hit_all}) / len(wanted_parents), 3
        )
        if wanted_parents
        else 0.0,
        "hm_purity": round(hm, 3),
        "purity": round(purity, 3),
        "inverse_purity": round(inverse, 3),
        "prevalence_mae_docs": round(sum(errs) / len(errs), 2) if errs else None,
        "per_code": per_code,
        "coding": gold.source,
    }


def _per_code(
    findings: Sequence[dict[str, Any]],
    themes: Sequence[dict[str, Any]],
    gold: GoldCoding,
    hit_codes: list[set[str]],
    where: list[tuple[str, int, int] | None],
    by_theme: dict[str, Counter[str]],
) -> dict[str, dict[str, Any]]:
    parents = sorted({parent(c) for _, c in gold.segments})
    by_norm = {norm(p): p for p in parents}
    stands_for: dict[str, tuple[str, str]] = {}  # theme id -> (parent code, how matched)
    for t in themes:
        named = by_norm.get(norm(str(t.get("label", ""))))
        if named is not None:
            stands_for[t["id"]] = (named, "by name")
        elif by_theme.get(t["id"]):
            stands_for[t["id"]] = (by_theme[t["id"]].most_common(1)[0][0], "by majority")
    out: dict[str, dict[str, Any]] = {}
    for code in parents:
        tids = {tid for tid, (c, _) in stands_for.items() if c == code}
        mine = [i for i, f in enumerate(findings) if f["theme_id"] in tids]
        correct = sum(1 for i in mine if any(parent(c) == code for c in hit_codes[i]))
        segs = [(d, s, e) for d, sp in gold.spans.items() for s, e, c in sp if parent(c) == code]
        found = 0
        for d, s, e in segs:
            if any(
                (w := where[i]) is not None and w[0] == d and w[1] < e and s < w[2] for i in mine
            ):
                found += 1
        out[code] = {
            "themes": sorted({stands_for[t][1] for t in tids}) if tids else [],
            "selections": len(mine),
            "precision": round(correct / len(mine), 3) if mine else None,
            "segments": len(segs),
            "recall": round(found / len(segs), 3) if segs else None,
        }
    return out


def evaluate_coding(
    run_dir: Path, coded: Path, *, min_docs: int = 2, participants_only: bool = False
) -> dict[str, Any]:
    """Score the run in `run_dir` against the coding in `coded` (.qdpx or codes.json)."""

    if not coded.exists():
        raise UserError(f"not found: {coded}")
    run = Run(run_dir)
    findings, themes = _theme_of_finding(run_dir)
    if coded.suffix.lower() == ".qdpx":
        gold = read_qdpx_coding(coded)
    elif coded.suffix.lower() == ".json":
        gold = read_codes_json(coded, _run_texts(run))
    else:
        raise UserError(f"{coded}: give a REFI-QDA project (.qdpx) or a codes.json")
    if not gold.segments:
        raise UserError(f"{coded}: it holds no coded segments to compare with")
    out = score_coding(
        findings, themes, gold, min_docs=min_docs, participants_only=participants_only
    )
    out["run"] = run.id
    return out


def _run_texts(run: Run) -> dict[str, str]:
    path = Path(run.record.corpus.path)
    if not run.record.corpus.path or not path.exists():
        return {}
    return {d.id: norm(d.text) for d in Corpus.load(path).documents}
