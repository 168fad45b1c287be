"""The researcher's codebook in a run: read from the settings, errors as `UserError`.

`analysis.codebook` (the CLI's `--codebook FILE`) names a .csv or .yaml codebook (see
`subagents.codebook`), or a QDA tool's own: a REFI-QDA `.qdc` codebook or `.qdpx` project. Candidate codes a run proposed
are left out until the researcher accepts them (`Codebook.accepted`). Both engines take it: the offline engine steers its analyst with
the codes and codes the findings with `CodebookCoder`; the model engine puts the codebook
in the analyst's task and maps the findings' code tags to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import UserError

if TYPE_CHECKING:
    from subagents.codebook import Codebook
    from workbench.core.settings import Settings


# how a .qdc marks a candidate code (REFI-QDA codes have no such attribute)
CANDIDATE_NOTE = "Candidate code, not yet in the codebook."
# the top-level codes a workbench project adds to a REFI-QDA project
OTHER = "Other (fits no theme)"
CANDIDATES = "Candidate codes (not in the codebook)"


def codebook_for(settings: Settings) -> Codebook | None:
    """The settings' codebook, read and checked; None for an inductive run."""
    path = settings.analysis.codebook
    if not path:
        return None
    from subagents.codebook import CodebookError, load_codebook

    try:
        if Path(path).suffix.lower() in (".qdc", ".qdpx"):
            book = codebook_from_qda(Path(path))
        else:
            book = load_codebook(path)
    except CodebookError as e:
        raise UserError(str(e)) from e
    accepted = book.accepted()
    if not accepted.codes:
        raise UserError(
            f"{path}: every code is a candidate code a run proposed; accept the ones you want "
            "by removing their candidate mark (`candidate: true`, or the candidate column)."
        )
    return accepted


def codebook_from_qda(path: Path) -> Codebook:
    """A codebook from a QDA tool: a REFI-QDA `.qdc`, or the codebook of a `.qdpx`."""
    from exports.qdc import read_codebook_file
    from exports.qdpx import QdpxError
    from subagents.codebook import Codebook, CodebookCode, CodebookError

    if not path.is_file():
        raise CodebookError(f"codebook not found: {path}")
    try:
        tree = read_codebook_file(path)
    except QdpxError as e:
        raise CodebookError(str(e)) from e
    rows: list[CodebookCode] = []

    def visit(code: Any, parent: str | None) -> None:
        if parent is None and code.name == OTHER:  # a workbench project's "fits no theme"
            return
        text = code.description or ""
        # a workbench project holds its candidate codes under CANDIDATES; a .qdc marks each
        candidate = text.startswith(CANDIDATE_NOTE) or (parent is None and code.name == CANDIDATES)
        rows.append(
            CodebookCode(
                code=code.name,
                description=text.removeprefix(CANDIDATE_NOTE).strip() if candidate else text,
                parent=parent,
                candidate=candidate,
            )
        )
        for child in code.children:
            visit(child, code.name)

    for c in tree:
        visit(c, None)
    if not rows:
        raise CodebookError(f"{path}: the codebook has no codes.")
    names = [r.code for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CodebookError(
            f"{path}: code names repeat under different parents ({', '.join(dupes[:5])}); "
            "rename them in your QDA tool so each name is unique."
        )
    return Codebook(codes=rows, source=str(path))


def qda_codes(book: Codebook) -> list[Any]:
    """The codebook as a REFI-QDA code tree (for a `.qdc` file)."""
    from exports.qdpx import PALETTE, QdaCode, stable_guid

    def node(name: str) -> QdaCode:
        c = book.by_name()[name]
        return QdaCode(
            guid=stable_guid("codebook", book.content_hash, name),
            name=name,
            description=f"{CANDIDATE_NOTE} {c.description}".strip()
            if c.candidate
            else c.description,
            children=[node(k.code) for k in book.children(name)],
        )

    roots = [node(r.code) for r in book.roots()]
    for i, r in enumerate(roots):
        r.color = PALETTE[i % len(PALETTE)]
    return roots


def code_queries(book: Codebook) -> list[str]:
    """What the offline analyst also searches for: each code's name and description."""
    out = []
    for c in book.leaves():
        name = " ".join(book.path(c.code)[-2:])
        out.append(f"{name}: {c.description}" if c.description else name)
    return out
