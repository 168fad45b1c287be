"""The researcher's codebook in a run: read from the settings, errors as `UserError`.

`analysis.codebook` (the CLI's `--codebook FILE`) names a .csv or .yaml codebook (see
`subagents.codebook`). Both engines take it: the offline engine steers its analyst with
the codes and codes the findings with `CodebookCoder`; the model engine puts the codebook
in the analyst's task and maps the findings' code tags to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import UserError

if TYPE_CHECKING:
    from subagents.codebook import Codebook
    from workbench.settings import Settings


def codebook_for(settings: Settings) -> Codebook | None:
    """The settings' codebook, read and checked; None for an inductive run."""
    path = settings.analysis.codebook
    if not path:
        return None
    from subagents.codebook import CodebookError, load_codebook

    try:
        return load_codebook(path)
    except CodebookError as e:
        raise UserError(str(e)) from e


def code_queries(book: Codebook) -> list[str]:
    """What the offline analyst also searches for: each code's name and description."""
    out = []
    for c in book.leaves():
        name = " ".join(book.path(c.code)[-2:])
        out.append(f"{name}: {c.description}" if c.description else name)
    return out
