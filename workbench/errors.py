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
