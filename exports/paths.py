"""Paths named by a spec or a bundle: they must stay inside the folder they are relative to.

A `ReportSpec` may come from a shared bundle, so its `png_path`, `media_path` and
friends are untrusted: an absolute path or a `..` would make the deck and the report
embed a file of whoever opens the bundle. `inside` is the one check every renderer
goes through before it reads such a path.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from exports.errors import ExportInputError


def is_relative_inside(rel: str) -> bool:
    """A plain relative path with no `..`, no drive, no backslash tricks."""
    if not rel or "\\" in rel or "\x00" in rel:
        return False
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and ":" not in (p.parts or ("",))[0]


def inside(base: Path, rel: str, what: str) -> Path:
    """`base / rel`, checked (links resolved) to lie inside `base`; else `ExportInputError`."""
    if not is_relative_inside(rel):
        raise ExportInputError(
            f"{what}: {rel!r} points outside the run directory; paths in a spec are relative to it"
        )
    root = os.path.realpath(base)
    full = os.path.realpath(os.path.join(root, rel))
    if full != root and not full.startswith(root + os.sep):
        raise ExportInputError(f"{what}: {rel!r} resolves outside the run directory (a link?)")
    return Path(base) / rel
