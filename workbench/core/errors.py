"""Errors of the workbench layer.

WorkbenchError            root: anything the workbench raises on purpose
 +-- UserError            bad input or settings; the message says what and how to fix it
 +-- RunError             a run failed at run time; carries the run, stage and task
      +-- BudgetExceededError   a hard cap stopped the run; partial results are kept
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Root of the errors the workbench raises on purpose."""


class UserError(WorkbenchError):
    """Bad input or settings. The message says what was wrong and how to fix it."""


class RunError(WorkbenchError):
    """A run failed at run time."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        stage: str | None = None,
        task: str | None = None,
    ) -> None:
        where = ", ".join(
            f"{k}={v}" for k, v in (("run", run_id), ("stage", stage), ("task", task)) if v
        )
        super().__init__(f"{message} ({where})" if where else message)
        self.run_id = run_id
        self.stage = stage
        self.task = task


class BudgetExceededError(RunError):
    """A hard cap (USD, tokens, time, tasks) stopped the run; partial results are kept."""


# The one translation of errors from every package into the two kinds a person acts on:
# UserError (bad input or settings: fix it and run again; CLI exit 2) and RunError (the
# run failed: its cause, and what to do; CLI exit 1). Classes are matched by name along
# the exception's MRO, so nothing heavy is imported to translate an error.
_USER_ERRORS = {
    "retrieval.errors.UserInputError",
    "subagents.errors.SubagentsUserError",
    "sandboxes.errors.SandboxUnavailableError",
    "exports.errors.ExportInputError",
    "exports.errors.BundleError",
    "pydantic_core._pydantic_core.ValidationError",
}
_PACKAGE_ROOTS = {
    "retrieval.errors.RetrievalError": "retrieval",
    "subagents.errors.SubagentsError": "the agent runtime",
    "sandboxes.errors.SandboxError": "the sandbox",
    "exports.errors.ExportError": "the exports",
}


def _names(exc: BaseException) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__]


def translate(exc: BaseException) -> WorkbenchError:
    """The `WorkbenchError` a person is shown for `exc`, from whichever package it came.

    `UserError` for bad input and settings, `RunError` (with the cause and advice) for
    everything else; the original is kept as `__cause__`. A `WorkbenchError` is returned
    unchanged. Used by the CLI's error boundary; usable by any caller of the API.
    """
    import errno
    import sqlite3

    if isinstance(exc, WorkbenchError):
        return exc
    names = _names(exc)
    out: WorkbenchError
    if any(n in _USER_ERRORS for n in names):
        out = UserError(str(exc))
    elif (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or any(
        t in str(exc) for t in ("database or disk is full", "No space left on device")
    ):  # SQLite (and Chroma over it) say SQLITE_FULL in words, not with an errno
        out = RunError(
            f"the disk is full ({exc}). Free some space and run the same command again: "
            "finished work is kept and the run resumes where it stopped"
        )
    elif isinstance(exc, PermissionError):
        out = UserError(f"permission denied: {exc}. Check who owns the project folder")
    elif isinstance(exc, sqlite3.DatabaseError):
        out = RunError(
            f"a database file of the project is damaged ({exc}). Caches and indexes can be "
            "rebuilt: delete the damaged file under .workbench/ (or the whole .workbench/index "
            "folder) and run again"
        )
    else:
        where = next((_PACKAGE_ROOTS[n] for n in names if n in _PACKAGE_ROOTS), None)
        if where is not None:
            out = RunError(f"{where} failed: {exc}")
        else:
            out = RunError(
                f"unexpected {type(exc).__name__}: {exc}. This is a bug; set WORKBENCH_DEBUG=1 "
                "to see the traceback and please report it"
            )
    out.__cause__ = exc
    return out
