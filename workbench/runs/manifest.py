"""A run's `manifest.json`, typed: what the run is, where it stands, what it cost and made.

One writer: `RunStore.update_manifest` checks every change against `RunManifest` before it
writes the file (atomically). One loader: `load_manifest` validates the file, and every
reader gets the typed record from it (`RunStore.manifest()`, `Run.record`) instead of a
dict read back with `.get` defaults, so a field renamed here is an error where it is read
(mypy), not a silent default. Keys the model does not name (a
triage run's, or those of a later version) are kept as they are; a manifest written by an
earlier version, with fields missing, loads with the defaults below and resumes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core.errors import UserError
from workbench.core.settings import Budgets

STATUSES = ("running", "complete", "failed", "interrupted", "cancelled")


class CorpusRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    path: str = ""
    name: str = "corpus"
    hash: str = ""


class RunManifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    # what the run is
    run_id: str = ""
    recipe: str | None = None
    question: str = ""
    engine: str = "offline"
    engine_note: str = ""
    models: dict[str, Any] = Field(default_factory=dict)
    input_key: str | None = None
    corpus: CorpusRecord = Field(default_factory=CorpusRecord)
    documents: int | None = None
    skipped: list[Any] = Field(default_factory=list)
    warnings: list[Any] = Field(default_factory=list)
    speaker_roles: list[Any] = Field(default_factory=list)
    other_language: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)
    # where it stands
    status: str = "unknown"
    started_at: str | None = None
    updated_at: str | None = None
    resumed_at: str | None = None
    finished_at: str | None = None
    attempts: int = 1
    error: str | None = None
    stopped_by: dict[str, Any] | None = None
    partial: dict[str, Any] | None = None
    # what it cost and made
    cost_usd: float = 0.0
    cost_usd_exact: Any = None
    tokens: dict[str, int] | None = None  # input, output, cache_read, cache_creation
    model_usage: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    findings: int | None = None
    themes: int | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    timings_s: dict[str, Any] = Field(default_factory=dict)
    # how the analysis went (written by the orchestrator as the stages finish)
    tasks: dict[str, Any] | None = None  # analyse tasks executed / reused
    index: dict[str, Any] | None = None
    gates: dict[str, Any] | None = None
    quote_check: dict[str, Any] | None = None
    replans: Any = None
    comparison: Any = None
    critic: dict[str, Any] | None = None
    reviews: dict[str, Any] | None = None
    steering: list[dict[str, Any]] = Field(default_factory=list)
    # triage runs: the classifier's fit and counts; `eval triage`: its two files
    triage: dict[str, Any] | None = None
    labelled: dict[str, Any] | None = None  # the labelled tickets it learned from
    review_threshold: float | None = None
    train: dict[str, Any] | None = None
    test: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data (what `manifest.json` holds)."""
        return self.model_dump(mode="json")

    def budgets(self) -> Budgets:
        """The run's caps, from the settings it was started with (no caps when the
        manifest predates them)."""
        try:
            return Budgets.model_validate(self.settings.get("budgets") or {})
        except ValidationError as e:
            raise UserError(f"run {self.run_id}: its manifest's budgets are not valid ({e})") from e

    def started(self) -> datetime | None:
        """When the run started, as a time (None when the manifest does not say)."""
        if not self.started_at:
            return None
        try:
            return datetime.fromisoformat(self.started_at.replace("Z", "+00:00"))
        except ValueError:
            return None


def load_manifest(path: Path) -> RunManifest:
    """The one loader: `path` (a run's `manifest.json`) read and validated as a
    `RunManifest`; defaults when there is no file yet, a UserError that says what to do
    when it is not a manifest."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return RunManifest.model_validate(raw)
    except FileNotFoundError:
        return RunManifest()
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as e:
        raise UserError(
            f"{path}: corrupt manifest ({e}); delete that run folder, or run again with --new-run"
        ) from e
