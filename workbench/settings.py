"""Project settings: `<project>/.workbench/config.toml`, overridable per call.

Unknown keys and wrong types are errors that name the key and the file, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import UserError

Engine = Literal["offline", "model"]


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_usd: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=0)
    max_seconds: float | None = Field(default=None, gt=0)
    max_tasks: int | None = Field(default=None, ge=0)


class AnalysisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_findings_per_document: int = Field(default=8, ge=1, le=100)
    max_themes: int = Field(default=8, ge=1, le=50)
    min_theme_share: float = Field(default=0.1, gt=0, le=1)
    cluster_distance: float = Field(default=0.72, gt=0, lt=2)


class Settings(BaseModel):
    """All settings of a project. Defaults suit an interactive run on a laptop."""

    model_config = ConfigDict(extra="forbid")
    engine: Engine | None = None  # None: the model engine when a key is configured, else offline
    concurrency: int = Field(default=2, ge=1, le=256)
    autonomy: Literal["auto", "review-plan"] = "auto"
    budgets: Budgets = Field(default_factory=Budgets)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    sandbox: Literal["local", "e2b", "auto"] = "auto"
    turns_per_chunk: int = Field(default=6, ge=1, le=200)

    def resolved_engine(self) -> Engine:
        if self.engine is not None:
            return self.engine
        return "model" if os.environ.get("ANTHROPIC_API_KEY") else "offline"

    @classmethod
    def load(cls, path: Path) -> Settings:
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UserError(
                f"{path}: not valid TOML ({e}). Fix the file or delete it to use defaults."
            ) from e
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            lines = [
                f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            ]
            raise UserError(f"{path}: invalid settings:\n" + "\n".join(lines)) from e
