"""A researcher's codebook: codes with descriptions, examples and a parent, in and out.

Read from CSV (`code, description, examples, parent`; only `code` is required; examples
are separated by "|" or new lines in the cell; other columns are ignored) or YAML (a list
of codes, or `{codes: [...]}`, each code a mapping with the same keys, nesting through
`codes:`/`children:`). A code name written as a path ("Benefits > Speed") with no parent
gives its parents too. Written back as the same two formats, so an inductive run's
themes become a codebook a later run takes in (`codebook_from_synthesis`). Candidate codes
a run proposed are marked (`candidate: true`, a `candidate` column) and are not coded
with until the researcher accepts them by removing the mark (`Codebook.accepted`).

The codebook shapes a deductive run's `Synthesis`: themes are its top-level codes, each
theme's `codes` are the codes under it (deeper levels flattened as "Child > Grandchild");
`synthesis_from_coding` builds that from any assignment of findings to codes, so the
offline coder and the model engine count prevalence the same way.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from subagents.errors import SubagentsUserError
from subagents.findings import Code, Finding, Synthesis, Theme

PATH_SEP = ">"
CSV_COLUMNS = ("code", "description", "examples", "parent")


class CodebookError(SubagentsUserError):
    """The codebook file cannot be read; the message names the file, the row and the fix."""


class CodebookCode(BaseModel):
    code: str = Field(min_length=1)
    description: str = ""
    examples: list[str] = Field(default_factory=list)
    parent: str | None = None
    candidate: bool = False  # proposed by a run, not yet accepted by the researcher


class Codebook(BaseModel):
    """Codes in file order; `parent` names another code of the book (or None: top level)."""

    codes: list[CodebookCode]
    source: str = ""

    @property
    def content_hash(self) -> str:
        blob = json.dumps([c.model_dump() for c in self.codes], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def by_name(self) -> dict[str, CodebookCode]:
        return {c.code: c for c in self.codes}

    def children(self, name: str | None) -> list[CodebookCode]:
        return [c for c in self.codes if c.parent == name]

    def roots(self) -> list[CodebookCode]:
        return self.children(None)

    def root_of(self, name: str) -> str:
        by = self.by_name()
        while by[name].parent is not None:
            name = by[name].parent or name
        return name

    def path(self, name: str) -> list[str]:
        by = self.by_name()
        out = [name]
        while by[out[0]].parent is not None:
            out.insert(0, by[out[0]].parent or "")
        return out

    def accepted(self) -> Codebook:
        """The codes a run codes with: candidate codes (and codes under them) are left out
        until the researcher accepts them by removing their `candidate` mark."""
        by = self.by_name()

        def proposed(c: CodebookCode) -> bool:
            at: CodebookCode | None = c
            while at is not None:
                if at.candidate:
                    return True
                at = by.get(at.parent) if at.parent else None
            return False

        return self.model_copy(update={"codes": [c for c in self.codes if not proposed(c)]})

    def leaves(self) -> list[CodebookCode]:
        """The codes evidence is coded with: those with no codes under them."""
        parents = {c.parent for c in self.codes}
        return [c for c in self.codes if c.code not in parents]


def _split_examples(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    parts = str(value).replace("\r", "").replace("|", "\n").split("\n")
    return [p.strip() for p in parts if p.strip()]


def _finish(rows: list[CodebookCode], source: str) -> Codebook:
    """Expand path names, add implied parents, check names are unique and parents exist."""
    out: list[CodebookCode] = []
    seen: dict[str, int] = {}

    def add(code: CodebookCode, where: str) -> None:
        if code.code in seen:
            prev = out[seen[code.code]]
            if prev.description or code.description or code.examples:
                raise CodebookError(
                    f"{source}: code {code.code!r} appears twice ({where}); code names must be "
                    "unique: rename one, or write it as 'Parent > Code' to keep both."
                )
            return
        seen[code.code] = len(out)
        out.append(code)

    for n, code in enumerate(rows, start=1):
        where = f"entry {n}"
        if PATH_SEP in code.code and code.parent is None:
            steps = [p.strip() for p in code.code.split(PATH_SEP) if p.strip()]
            for depth, step in enumerate(steps[:-1]):
                if step not in seen:
                    add(CodebookCode(code=step, parent=steps[depth - 1] if depth else None), where)
            code = code.model_copy(
                update={"code": steps[-1], "parent": steps[-2] if len(steps) > 1 else None}
            )
        add(code, where)
    known = {c.code for c in out}
    for c in list(out):
        if c.parent is not None and c.parent not in known:
            out.insert(out.index(c), CodebookCode(code=c.parent))  # a parent named only as such
            known.add(c.parent)
    book = Codebook(codes=out, source=source)
    by = book.by_name()
    for c in book.codes:  # cycles
        seen_path: set[str] = set()
        at: str | None = c.code
        while at is not None:
            if at in seen_path:
                raise CodebookError(f"{source}: code {c.code!r} is its own ancestor; fix `parent`.")
            seen_path.add(at)
            at = by[at].parent
    if not book.codes:
        raise CodebookError(f"{source}: the codebook has no codes.")
    return book


def parse_csv(text: str, source: str) -> Codebook:
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    if "code" not in fields:
        raise CodebookError(
            f"{source}: no 'code' column (found: {', '.join(fields) or 'none'}); the header row "
            "needs code and optionally description, examples, parent."
        )
    rows: list[CodebookCode] = []
    for n, raw in enumerate(reader, start=2):

        def get(key: str, raw: Mapping[str, Any] = raw) -> str:
            col = fields.get(key)
            return str(raw.get(col) or "").strip() if col else ""

        name = get("code")
        if not name:
            if any(str(v or "").strip() for v in raw.values()):
                raise CodebookError(
                    f"{source}: line {n} has no code name; fill it in or delete it."
                )
            continue
        rows.append(
            CodebookCode(
                code=name,
                description=get("description"),
                examples=_split_examples(get("examples")),
                parent=get("parent") or None,
                candidate=get("candidate").lower() in ("yes", "true", "1", "x"),
            )
        )
    return _finish(rows, source)


def _yaml_codes(items: Any, parent: str | None, source: str) -> list[CodebookCode]:
    if not isinstance(items, list):
        raise CodebookError(f"{source}: expected a list of codes, found {type(items).__name__}.")
    out: list[CodebookCode] = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, str):
            item = {"code": item}
        if not isinstance(item, dict) or not str(item.get("code") or item.get("name") or ""):
            raise CodebookError(
                f"{source}: code {n} under {parent or 'the top level'} needs a 'code' name."
            )
        name = str(item.get("code") or item.get("name")).strip()
        unknown = set(item) - {"code", "name", "description", "examples", "parent", "codes",
                               "children", "candidate"}  # fmt: skip
        if unknown:
            raise CodebookError(
                f"{source}: code {name!r} has unknown keys {sorted(unknown)}; use code, "
                "description, examples, parent, codes."
            )
        out.append(
            CodebookCode(
                code=name,
                description=str(item.get("description") or "").strip(),
                examples=_split_examples(item.get("examples")),
                parent=str(item["parent"]).strip() if item.get("parent") else parent,
                candidate=bool(item.get("candidate", False)),
            )
        )
        nested = item.get("codes") or item.get("children")
        if nested:
            out.extend(_yaml_codes(nested, name, source))
    return out


def parse_yaml(text: str, source: str) -> Codebook:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise CodebookError(f"{source}: not valid YAML ({e}).") from e
    if isinstance(data, dict):
        data = data.get("codes")
    return _finish(_yaml_codes(data, None, source), source)


def load_codebook(path: str | Path) -> Codebook:
    """A codebook from a .csv, .yaml or .yml file (see the module docstring)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise CodebookError(f"codebook not found: {p}. Give a .csv or .yaml file.")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise CodebookError(f"{p}: not UTF-8 text ({e}); save it as UTF-8.") from e
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return parse_csv(text, str(p))
    if suffix in (".yaml", ".yml"):
        return parse_yaml(text, str(p))
    raise CodebookError(f"{p}: a codebook is a .csv or .yaml file, not '{suffix or p.name}'.")


def dump_codebook(book: Codebook, suffix: str) -> str:
    if suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        marked = any(c.candidate for c in book.codes)  # a fifth column only when needed
        w.writerow([*CSV_COLUMNS, "candidate"] if marked else CSV_COLUMNS)
        for c in book.codes:
            row = [c.code, c.description, " | ".join(c.examples), c.parent or ""]
            w.writerow([*row, "yes" if c.candidate else ""] if marked else row)
        return buf.getvalue()
    import yaml

    def node(c: CodebookCode) -> dict[str, Any]:
        d: dict[str, Any] = {"code": c.code}
        if c.description:
            d["description"] = c.description
        if c.examples:
            d["examples"] = list(c.examples)
        if c.candidate:
            d["candidate"] = True
        kids = book.children(c.code)
        if kids:
            d["codes"] = [node(k) for k in kids]
        return d

    return yaml.safe_dump(
        {"codes": [node(c) for c in book.roots()]}, sort_keys=False, allow_unicode=True, width=100
    )


def write_codebook(book: Codebook, path: str | Path) -> Path:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise CodebookError(f"{p}: write the codebook as .csv or .yaml.")
    p.write_text(dump_codebook(book, ".csv" if suffix == ".csv" else ".yaml"), encoding="utf-8")
    return p


def codebook_from_synthesis(
    synthesis: Synthesis, findings: Sequence[Finding], *, examples: int = 2
) -> Codebook:
    """An inductive run's themes (and their codes, and candidate codes) as a codebook."""
    fmap = {f.id: f for f in findings}

    def quotes(ids: Sequence[str]) -> list[str]:
        return [fmap[i].evidence[0].quote for i in ids if i in fmap][:examples]

    rows: list[CodebookCode] = []
    used: set[str] = set()

    def unique(label: str) -> str:
        name, n = label.replace(PATH_SEP, "-").strip() or "Theme", 2
        while name in used:
            name = f"{label} ({n})"
            n += 1
        used.add(name)
        return name

    def add_theme(t: Theme, candidate: bool) -> None:
        name = unique(t.label)
        reps = t.representative_finding_ids or t.finding_ids
        rows.append(
            CodebookCode(
                code=name,
                description=t.description or t.summary,
                examples=quotes(reps),
                candidate=candidate,
            )
        )
        for c in t.codes:
            rows.append(
                CodebookCode(
                    code=unique(c.label),
                    description=c.description,
                    examples=quotes(c.representative_finding_ids or c.finding_ids),
                    parent=name,
                    candidate=candidate,
                )
            )

    for t in synthesis.themes:
        add_theme(t, False)
    for t in synthesis.candidate_codes:
        add_theme(t, True)
    if not rows:
        raise CodebookError("the run has no themes to write as a codebook.")
    return Codebook(codes=rows, source="run themes")


def _participants(findings: Sequence[Finding]) -> int | None:
    evs = [e for f in findings for e in f.evidence]
    if not any(e.role is not None for e in evs):
        return None
    return len({(e.doc_id, e.speaker) for e in evs if e.role == "participant"})


def _representatives(findings: Sequence[Finding], n: int = 5) -> list[str]:
    """Most confident first, one per document."""
    out: list[str] = []
    docs: set[str] = set()
    for f in sorted(findings, key=lambda f: (-f.confidence, f.doc_id, f.id)):
        if f.doc_id not in docs:
            out.append(f.id)
            docs.add(f.doc_id)
        if len(out) >= n:
            break
    return out


def synthesis_from_coding(
    book: Codebook,
    findings: Sequence[Finding],
    coded: Mapping[str, str],
    doc_ids: Sequence[str],
    *,
    noun: str = "documents",
    method: str = "",
    candidates: Sequence[Theme] = (),
    total_participants: int | None = None,
) -> Synthesis:
    """Themes = the codebook's top-level codes with their codes, from `coded` (finding id ->
    leaf code name). Every top-level code is a theme, even one nothing was coded with
    (its prevalence is then 0 of N: in deductive coding an absent code is a result)."""
    total = len(doc_ids)
    fmap = {f.id: f for f in findings}
    by_leaf: dict[str, list[Finding]] = {}
    for fid, code in coded.items():
        if fid in fmap:
            by_leaf.setdefault(code, []).append(fmap[fid])
    for fs in by_leaf.values():
        fs.sort(key=lambda f: (f.doc_id, f.id))
    themes: list[Theme] = []
    for root in book.roots():
        under = [c for c in book.codes if c.code != root.code and book.root_of(c.code) == root.code]
        leaves = {c.code for c in book.leaves()}
        members: list[Finding] = list(by_leaf.get(root.code, []))
        codes: list[Code] = []
        for c in under:
            if c.code not in leaves:
                continue
            fs = by_leaf.get(c.code, [])
            members.extend(fs)
            label = f" {PATH_SEP} ".join(book.path(c.code)[1:])
            docs = sorted({f.doc_id for f in fs})
            codes.append(
                Code(
                    id="code-" + hashlib.sha256(f"{root.code}|{label}".encode()).hexdigest()[:12],
                    label=label,
                    description=c.description,
                    finding_ids=[f.id for f in fs],
                    doc_ids=docs,
                    n_documents=len(docs),
                    n_participants=_participants(fs),
                    representative_finding_ids=_representatives(fs, 3),
                )
            )
        members.sort(key=lambda f: (f.doc_id, f.id))
        docs = sorted({f.doc_id for f in members})
        desc = root.description or (f"Codes: {', '.join(c.label for c in codes)}" if codes else "")
        themes.append(
            Theme(
                id="theme-" + hashlib.sha256(root.code.encode()).hexdigest()[:12],
                label=root.code,
                summary=f"Coded in {len(docs)} of {total} {noun}"
                + (f" ({len(members)} passages)." if members else "."),
                finding_ids=[f.id for f in members],
                doc_ids=docs,
                n_documents=len(docs),
                total_documents=total,
                representative_finding_ids=_representatives(members),
                description=desc,
                codes=codes,
                n_participants=_participants(members),
                total_participants=total_participants,
            )
        )
    themes.sort(key=lambda t: -t.n_documents)  # stable: codebook order within ties
    assigned_docs = {d for t in themes for d in t.doc_ids}
    unassigned = sorted(d for d in doc_ids if d not in assigned_docs)
    return Synthesis(
        themes=themes,
        unassigned_doc_ids=unassigned,
        unassigned_reasons={
            d: "nothing in it was coded with a code of the codebook" for d in unassigned
        },
        outlier_finding_ids=sorted(f.id for f in findings if f.id not in coded),
        method=method,
        candidate_codes=list(candidates),
    )


def codebook_instructions(book: Codebook) -> str:
    """The codebook as the analyst's task text (trusted: it is the researcher's own file)."""
    lines = [
        "Code against the researcher's codebook (deductive coding). Give each finding "
        "exactly one tag: the name of the code it fits best, written exactly as below "
        '(for a code under a parent, the full path "Parent > Code"). If it fits no code, tag '
        'it "other", and add a second tag "candidate: <a short name>" for a new code you '
        "would propose. Codebook:",
    ]
    for c in book.leaves():
        name = f" {PATH_SEP} ".join(book.path(c.code))
        line = f"- {name}"
        if c.description:
            line += f": {c.description}"
        if c.examples:
            line += " Examples: " + " | ".join(f"\u201c{e}\u201d" for e in c.examples[:3])
        lines.append(line)
    return "\n".join(lines)


def _key(name: str) -> str:
    return " ".join(name.replace(PATH_SEP, f" {PATH_SEP} ").split()).lower()


def synthesis_from_tags(
    book: Codebook, findings: Sequence[Finding], doc_ids: Sequence[str], *, noun: str = "documents"
) -> Synthesis:
    """Deductive synthesis from the code each finding was tagged with (the model engine).

    A tag names a code by its path ("Parent > Code") or, when unambiguous, by its own
    name; the first tag that names a code codes the finding. "candidate: <name>" tags on
    findings that fit no code become candidate codes, when two documents share one.
    """
    names: dict[str, str] = {}
    ambiguous: set[str] = set()
    for c in book.leaves():
        names[_key(f" {PATH_SEP} ".join(book.path(c.code)))] = c.code
        k = _key(c.code)
        if k in names and names[k] != c.code:
            ambiguous.add(k)
        names.setdefault(k, c.code)
    for k in ambiguous:
        names.pop(k, None)
    coded: dict[str, str] = {}
    proposed: dict[str, list[Finding]] = {}
    for f in findings:
        hit = next((names[_key(t)] for t in f.tags if _key(t) in names), None)
        if hit is not None:
            coded[f.id] = hit
            continue
        for t in f.tags:
            if t.lower().startswith("candidate:") and t.split(":", 1)[1].strip():
                proposed.setdefault(t.split(":", 1)[1].strip(), []).append(f)
                break
    total = len(doc_ids)
    candidates = []
    for label, fs in sorted(proposed.items()):
        docs = sorted({f.doc_id for f in fs})
        if len(docs) < 2:
            continue
        candidates.append(
            Theme(
                id="candidate-" + hashlib.sha256(label.encode()).hexdigest()[:12],
                label=label,
                summary=f"Proposed in {len(docs)} of {total} {noun}.",
                finding_ids=[f.id for f in fs],
                doc_ids=docs,
                n_documents=len(docs),
                total_documents=total,
                representative_finding_ids=_representatives(fs),
                flags=["candidate code: not in the codebook"],
            )
        )
    method = (
        f"deductive coding with the codebook {Path(book.source).name}: the analysts tagged each "
        "finding "
        f"with a code; {len(coded)} of {len(findings)} findings coded, prevalence counted from "
        "the findings"
    )
    return synthesis_from_coding(
        book, findings, coded, doc_ids, noun=noun, method=method, candidates=candidates
    )
