"""Sub-agent specs: Markdown files with YAML front matter.

    ---
    name: interview-analyst
    description: one line used for routing by the planner
    version: 1
    tier: worker            # lead | worker | fast (or `model:` for an exact id)
    tools: [search, read_segment]
    output: analyst-findings
    max_steps: 12
    max_tokens: 80000       # budget of fresh tokens for the whole run (cache reads excluded)
    max_output_tokens: 4096 # per model call
    ---
    The body is the sub-agent's system prompt (task-specific instructions).

Built-ins live in `subagents/specs/`; a project adds or overrides them with files in
`<project>/subagents/*.md` (a project spec with a built-in's name replaces it).
Errors name the file and the field, and say how to fix them.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from subagents.errors import SpecError
from subagents.models.messages import Tier
from subagents.outputs import output_schema

KNOWN_TOOLS = {"search", "read_segment", "run_code"}


class AgentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str = Field(min_length=10)
    version: int = 1
    tier: Tier = "worker"
    model: str | None = None
    tools: list[str] = Field(default_factory=list)
    output: str
    max_steps: int = Field(default=12, ge=1, le=100)
    max_tokens: int = Field(default=100_000, ge=1000)
    max_output_tokens: int = Field(default=4096, ge=64, le=64_000)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    prompt: str = Field(min_length=20)
    source: str = ""

    @property
    def output_model(self) -> type[BaseModel]:
        return output_schema(self.output)

    @property
    def prompt_hash(self) -> str:
        """Part of a task's idempotency key: changes when the prompt or settings change."""
        data = self.model_dump_json(exclude={"source"})
        return hashlib.sha256(data.encode()).hexdigest()[:16]


def parse_spec(text: str, *, source: str = "<string>") -> AgentSpec:
    if not text.startswith("---"):
        raise SpecError(f"{source}: a spec starts with '---' and YAML front matter, then '---'")
    try:
        _, front, body = text.split("---", 2)
    except ValueError:
        raise SpecError(f"{source}: front matter is not closed by a '---' line") from None
    try:
        meta: Any = yaml.safe_load(front) or {}
    except yaml.YAMLError as err:
        raise SpecError(f"{source}: front matter is not valid YAML: {err}") from None
    if not isinstance(meta, dict):
        raise SpecError(f"{source}: front matter must be a mapping of fields")
    try:
        spec = AgentSpec.model_validate({**meta, "prompt": body.strip(), "source": source})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise SpecError(f"{source}: invalid spec: {problems}") from None
    unknown = [t for t in spec.tools if t not in KNOWN_TOOLS]
    if unknown:
        raise SpecError(f"{source}: unknown tools {unknown}; choose from {sorted(KNOWN_TOOLS)}")
    spec.output_model  # noqa: B018 -- fails loudly on an unknown output schema
    return spec


def builtin_specs() -> dict[str, AgentSpec]:
    specs = {}
    folder = resources.files("subagents") / "specs"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md"):
            spec = parse_spec(entry.read_text(encoding="utf-8"), source=f"builtin:{entry.name}")
            specs[spec.name] = spec
    return specs


def load_specs(project_dir: str | Path | None = None) -> dict[str, AgentSpec]:
    """Built-ins, then `<project_dir>/subagents/*.md` (which may override a built-in)."""
    specs = builtin_specs()
    if project_dir is not None:
        folder = Path(project_dir) / "subagents"
        if folder.is_dir():
            for path in sorted(folder.glob("*.md")):
                spec = parse_spec(path.read_text(encoding="utf-8"), source=str(path))
                specs[spec.name] = spec
    return specs


def load_spec(name: str, project_dir: str | Path | None = None) -> AgentSpec:
    specs = load_specs(project_dir)
    if name not in specs:
        raise SpecError(f"no sub-agent named {name!r}; available: {sorted(specs)}")
    return specs[name]


def describe_specs(specs: dict[str, AgentSpec]) -> list[dict[str, Any]]:
    """What the planner is told about each sub-agent (trusted: it comes from spec files)."""
    return [
        {"name": s.name, "description": s.description, "tools": s.tools, "output": s.output}
        for s in sorted(specs.values(), key=lambda s: s.name)
    ]
