"""Project settings: `<project>/.workbench/config.toml`, overridable per call.

Unknown keys and wrong types are errors that name the key and the file, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from retrieval.roles import RoleSettings
from workbench.core.errors import UserError

Engine = Literal["offline", "model"]


class Budgets(BaseModel):
    """Hard caps. Per run: USD, tokens, wall time, tasks. Per task: USD, tokens, steps."""

    model_config = ConfigDict(extra="forbid")
    max_usd: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=0)
    max_seconds: float | None = Field(default=None, gt=0)
    max_tasks: int | None = Field(default=None, ge=0)
    max_usd_per_task: float | None = Field(default=None, gt=0)
    max_tokens_per_task: int | None = Field(default=None, ge=1000)
    max_steps_per_task: int | None = Field(default=None, ge=1, le=100)
    # circuit breaker: this many model calls failing in a row (after retries) stops the run
    max_consecutive_failures: int = Field(default=5, ge=1)


class AnalysisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # a ceiling, not a quota: a document gives as many findings as it has answers about
    # the question (none when it says nothing about it), at most this many
    max_findings_per_document: int = Field(default=60, ge=1, le=1000)
    # None: 8 for a study of a few dozen interviews, more for a larger corpus (13 at 150
    # documents, 18 at 1,500, at most 20)
    max_themes: int | None = Field(default=None, ge=1, le=50)
    # a theme needs max(2, min(min_theme_share * N, 3 ln N)) of N documents: a fixed share
    # alone would ask 1,000 of 10,000 tickets to back a theme
    min_theme_share: float = Field(default=0.1, gt=0, le=1)
    # codes inside a theme: average-linkage cosine distance at which they stop merging
    cluster_distance: float = Field(default=0.55, gt=0, lt=2)
    batch_size: int = Field(default=10, ge=1, le=500)  # documents per task for per-batch stages
    # deductive coding: a .csv or .yaml codebook (code, description, examples, parent); themes
    # are then its codes (see workbench.engines.codebook)
    codebook: str | None = None


class RolesSettings(BaseModel):
    """Who interviews: detected per conversation; these labels override the detection.

    Labels are matched after normalisation ("Interviewer 1" = "interviewer1").
    `participants` also rescues a participant whose label names a role ("Interviewer").
    """

    model_config = ConfigDict(extra="forbid")
    interviewers: list[str] = Field(default_factory=list)
    participants: list[str] = Field(default_factory=list)
    detect: bool = True

    def to_retrieval(self) -> RoleSettings:
        return RoleSettings(tuple(self.interviewers), tuple(self.participants), self.detect)


class ModelPriceSetting(BaseModel):
    """USD per million tokens (0 is a valid price, e.g. for a model you host)."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


Provider = Literal["anthropic", "openai-compatible"]
DEFAULT_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY"}
LOCAL_DEFAULT_WINDOW = 8192  # an OpenAI-compatible model whose window nobody set


class ModelSettings(BaseModel):
    """The model engine: which provider and model for each tier, where the API is, how
    calls are made, and how large each model's context window is.

    `provider = "openai-compatible"` talks to any server with the OpenAI Chat
    Completions API (Ollama, vLLM, llama.cpp, LM Studio, LiteLLM) at `base_url`; its
    key, if it needs one, is read from the environment variable `api_key_env`. Every
    request is sized against `context_windows[model]`, else `context_window` (default
    200,000 for Anthropic models, 8,192 for an OpenAI-compatible model nobody sized).
    """

    model_config = ConfigDict(extra="forbid")
    provider: Provider = "anthropic"
    model: str | None = None  # one model for every tier not set on its own
    lead: str = "claude-opus-4-6"
    worker: str = "claude-sonnet-4-6"
    fast: str = "claude-haiku-4-5"
    base_url: str | None = None  # default: the SDK's (or ANTHROPIC_BASE_URL)
    api_key_env: str | None = None  # default: ANTHROPIC_API_KEY; none for openai-compatible
    context_window: int | None = Field(default=None, ge=1024)
    context_windows: dict[str, int] = Field(default_factory=dict)  # model id -> tokens
    chars_per_token: float = Field(default=3.0, gt=0.5, le=8.0)  # token estimate (see docs)
    prices: dict[str, ModelPriceSetting] = Field(default_factory=dict)  # model id -> price
    structured_output: Literal["auto", "json_schema", "json"] = "auto"
    tool_calls: Literal["auto", "native", "json"] = "auto"
    timeout_s: float = Field(default=600.0, gt=0)
    cache: bool = True  # content-addressed response cache in .workbench/cache.sqlite
    synthetic_queries: bool = True  # the fast model writes the index's synthetic queries
    batch: bool = False  # send calls through the Message Batches API (half price, slower)
    batch_poll_s: float = Field(default=30.0, gt=0)
    batch_window_s: float = Field(default=0.05, ge=0)

    @model_validator(mode="after")
    def _provider_needs(self) -> ModelSettings:
        if self.model is not None:
            for tier in ("lead", "worker", "fast"):
                if tier not in self.model_fields_set:
                    setattr(self, tier, self.model)
        bad = [k for k, v in self.context_windows.items() if v < 1024]
        if bad:
            raise ValueError(f"context_windows: at least 1024 tokens each; too small: {bad}")
        if self.provider == "openai-compatible":
            if not self.base_url:
                raise ValueError(
                    'provider "openai-compatible" needs base_url, e.g. '
                    '"http://localhost:11434/v1" (Ollama) or "http://localhost:8000/v1" (vLLM)'
                )
            claude = [
                t for t in ("lead", "worker", "fast") if getattr(self, t).startswith("claude-")
            ]
            if claude:
                raise ValueError(
                    f'provider "openai-compatible": set model ids the server serves for {claude} '
                    '(or `model = "..."` for every tier), e.g. model = "qwen2.5:7b-instruct"'
                )
            if self.batch:
                raise ValueError("batch uses the Anthropic Message Batches API; not available here")
        return self

    def tiers(self) -> dict[str, str]:
        return {"lead": self.lead, "worker": self.worker, "fast": self.fast}

    def key_env(self) -> str | None:
        return self.api_key_env or DEFAULT_KEY_ENV.get(self.provider)

    def default_window(self) -> int:
        if self.context_window is not None:
            return self.context_window
        return 200_000 if self.provider == "anthropic" else LOCAL_DEFAULT_WINDOW

    def window(self, model: str) -> int:
        return self.context_windows.get(model, self.default_window())

    def missing(self) -> str | None:
        """Why the model engine cannot run with these settings, or None when it can."""
        env = self.key_env()
        if env and not os.environ.get(env):
            where = f" (the key of {self.base_url})" if self.provider != "anthropic" else ""
            return f"set {env}{where}"
        return None

    def configured(self) -> bool:
        """A model is configured: an Anthropic key is set, or an OpenAI-compatible
        endpoint is (with its key, when it names one)."""
        if self.provider == "anthropic":
            return self.missing() is None
        return self.missing() is None and bool(self.base_url)


class ReviewSettings(BaseModel):
    """Findings scoring under `threshold` go to the review queue; `policy` decides in batch."""

    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(default=0.3, ge=0, le=1)
    # accept / reject: decided by policy (batch); wait: a person decides (notebook)
    policy: Literal["accept", "reject", "wait"] = "accept"


class TriageSettings(BaseModel):
    """`workbench triage`: tickets into the team's own categories (see workbench.triage)."""

    model_config = ConfigDict(extra="forbid")
    # a ticket whose calibrated confidence is under this goes to the review queue
    review_threshold: float = Field(default=0.6, ge=0, le=1)
    min_examples: int = Field(default=3, ge=2)  # fewer labelled examples: category not learned
    per_group: bool = True  # with --group-column: each group's own models next to the pooled
    batch_size: int = Field(default=10, ge=1, le=100)  # tickets per model-engine task
    examples_per_ticket: int = Field(default=2, ge=0, le=10)  # few-shot, chosen by similarity
    min_theme_tickets: int = Field(default=6, ge=2)  # themes only in categories this large
    # offline: also fine-tune MiniLM's top layer on the labels (needs PyTorch). Off by
    # default: on the NLBSE benchmark it did not beat the linear stack (0.8100 vs 0.8113)
    # and cost about four times the CPU. Training all six layers (`TunerSettings`
    # train_layers 6, lr 5e-5) made a far stronger view alone (0.789 vs 0.703 from 600
    # tickets) but not a better stack either (0.8226 vs 0.8243 without it, 6x the CPU)
    fine_tune: bool = False


class Settings(BaseModel):
    """All settings of a project. Defaults suit an interactive run on a laptop."""

    model_config = ConfigDict(extra="forbid")
    engine: Engine | None = None  # None: the model engine when a key is configured, else offline
    concurrency: int = Field(default=2, ge=1, le=4096)
    autonomy: Literal["auto", "review-plan"] = "auto"
    budgets: Budgets = Field(default_factory=Budgets)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    roles: RolesSettings = Field(default_factory=RolesSettings)
    # where chart code runs: local (bubblewrap), e2b, or auto (e2b when E2B_API_KEY is set)
    sandbox: Literal["local", "e2b", "auto"] = "auto"
    # conversation chunking: windows of this many speaker turns, sharing `chunk_overlap`
    turns_per_chunk: int = Field(default=4, ge=1, le=200)
    chunk_overlap: int = Field(default=1, ge=0, le=199)
    # a corpus file larger than this is skipped with the reason (one export of ~20,000
    # tickets is ~40 MiB: raise it for such a file); in MiB
    max_file_mib: float = Field(default=20, gt=0)
    models: ModelSettings = Field(default_factory=ModelSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    executor: Literal["asyncio", "ray"] = "asyncio"
    ray_address: str | None = None  # None: a local Ray cluster
    tasks_per_second: float | None = Field(default=None, gt=0)  # token bucket on task starts
    max_replans: int = Field(default=1, ge=0, le=10)
    min_coverage: float = Field(default=0.5, ge=0, le=1)  # share of documents with a result
    steering_file: str | None = None  # batch steering: lines appended to this file are applied
    fsync_tasks: bool = False  # fsync every task result (power-loss safe, ~4 ms per task)
    # files: tasks/<key>.json, one per task; journal: tasks/journal.jsonl, one line per task
    # (no file creation per task: for fan-outs of many thousands of tasks)
    task_store: Literal["files", "journal"] = "files"

    @model_validator(mode="after")
    def _overlap_below_window(self) -> Settings:
        if self.chunk_overlap >= self.turns_per_chunk:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than turns_per_chunk "
                f"({self.turns_per_chunk})"
            )
        return self

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mib * 2**20)

    def resolved_engine(self) -> Engine:
        if self.engine is not None:
            return self.engine
        return "model" if self.models.configured() else "offline"

    def with_model_url(self, url: str | None, model: str | None = None) -> Settings:
        """These settings pointed at an OpenAI-compatible endpoint (`--model-url`), with
        `model` (`--model`) for every tier when given."""
        if not url and not model:
            return self
        if url and not url.startswith(("http://", "https://")):
            raise UserError(
                f"--model-url must be an http(s) URL, e.g. http://localhost:11434/v1; got {url!r}"
            )
        data = self.models.model_dump(exclude_unset=True)
        if url:
            data.update(provider="openai-compatible", base_url=url.rstrip("/"))
        if model:
            data.update(model=model, lead=model, worker=model, fast=model)
        try:
            models = ModelSettings.model_validate(data)
        except ValidationError as e:
            raise UserError(
                f"--model-url {url}: "
                + "; ".join(str(err["msg"]) for err in e.errors())
                + ". Set the model ids in .workbench/config.toml under [models]"
            ) from e
        return self.model_copy(update={"models": models})

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
