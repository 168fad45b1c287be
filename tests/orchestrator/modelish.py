"""A scripted "model" for the orchestrator's tests: answers each sub-agent as a model would.

It reads the Messages-API request body (what the fake server receives, or what a
`FunctionModel` builds with `to_api`), recognises the sub-agent from its system prompt,
and answers with a `final_output` tool call: analysts quote real segments of the
document block (plus one paraphrase the verbatim gate must drop), the synthesizer
groups the finding ids it was given, the critic passes, the query writer writes
queries per passage. It records what it returned so tests can compare.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

STEER_MARK = "Steering from the researcher"
_ids = itertools.count(1)


def _system(body: dict[str, Any]) -> str:
    system = body.get("system", [])
    if isinstance(system, str):
        return system
    return "\n".join(b.get("text", "") for b in system)


def _first_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    content = body["messages"][0]["content"]
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def prompt_text(body: dict[str, Any]) -> str:
    """The trusted task text of the first user message (where steering goes)."""
    return "\n".join(b.get("text", "") for b in _first_blocks(body) if b.get("type") == "text")


def agent_of(body: dict[str, Any]) -> str:
    system = _system(body)
    for needle, name in (
        ("synthetic search queries", "query-writer"),
        ("You are the planner", "planner"),
        ("You analyse one conversation", "interview-analyst"),
        ("You synthesise findings", "theme-synthesizer"),
        ("You are the critic", "critic"),
    ):
        if needle in system:
            return name
    return "unknown"


def _tool(name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": f"toolu_t{next(_ids):06d}", "name": name, "input": data}]


class ModelLike:
    """Callable on a request body; returns content blocks (fake-server responder shape)."""

    def __init__(self) -> None:
        self.claims: list[str] = []  # valid findings returned, in order
        self.bogus: list[str] = []  # findings whose quote is not verbatim
        self.calls: list[str] = []  # agent name per call
        self.analyst_prompts: list[str] = []
        self.analyst_bodies: list[dict[str, Any]] = []
        self.on_analyst: Any = None  # hook(call_number) for tests (e.g. steer mid-run)

    def __call__(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        agent = agent_of(body)
        self.calls.append(agent)
        if agent == "query-writer":
            docs = [b for b in _first_blocks(body) if b.get("type") == "document"]
            items = []
            for i, d in enumerate(docs):
                words = re.findall(r"[A-Za-z]{5,}", d["source"]["data"])[:6]
                items.append(
                    {"chunk_index": i, "queries": [" ".join(words[:3]), " ".join(words[3:6])]}
                )
            return _tool("final_output", {"items": items})
        if agent == "interview-analyst":
            self.analyst_prompts.append(prompt_text(body))
            self.analyst_bodies.append(body)
            if self.on_analyst is not None:
                self.on_analyst(len(self.analyst_prompts))
            return _tool("final_output", self._findings(body))
        if agent == "theme-synthesizer":
            doc = next(b for b in _first_blocks(body) if b.get("type") == "document")
            rows = [json.loads(line) for line in doc["source"]["data"].splitlines() if line]
            a = [r["id"] for i, r in enumerate(rows) if i % 2 == 0]
            b = [r["id"] for i, r in enumerate(rows) if i % 2 == 1]
            themes = [
                {
                    "label": "What the remote should do",
                    "summary": "Features people want.",
                    "finding_ids": a,
                    "keywords": ["remote"],
                }
            ]
            if b:
                themes.append(
                    {
                        "label": "Worries about the project",
                        "summary": "Risks raised.",
                        "finding_ids": b,
                        "keywords": ["risk"],
                    }
                )
            return _tool("final_output", {"themes": themes})
        if agent == "critic":
            return _tool("final_output", {"verdict": "pass", "issues": [], "summary": "ok"})
        if agent == "planner":
            return _tool(
                "final_output",
                {
                    "rationale": "analyse each meeting, then group",
                    "stages": [
                        {
                            "id": "analyse",
                            "subagent": "interview-analyst",
                            "goal": "findings",
                            "fan_out": "documents",
                        },
                        {
                            "id": "themes",
                            "subagent": "theme-synthesizer",
                            "goal": "themes",
                            "fan_out": "none",
                            "depends_on": ["analyse"],
                        },
                    ],
                },
            )
        return [{"type": "text", "text": "I do not know this agent."}]

    def _findings(self, body: dict[str, Any]) -> dict[str, Any]:
        doc = next(b for b in _first_blocks(body) if b.get("type") == "document")
        findings = []
        prompt: dict[str, str] | None = None
        for line in doc["source"]["data"].splitlines():
            # "<segment id> <speaker> [role] [time]: text"; the speaker may be several words
            m = re.match(r"^(\S+#\d+)((?: [^\[:]+?)?)((?: \[[^\]]*\])*): (.*)$", line)
            if not m:
                continue
            seg_id, marks, text = m.group(1), m.group(3), m.group(4)
            doc_id = seg_id.split("#")[0]
            if "[interviewer]" in marks:  # a prompt: kept as the context of what follows
                if "?" in text:
                    prompt = {"doc_id": doc_id, "segment_id": seg_id, "quote": text}
                continue
            if len(text) < 80:
                continue
            quote = text[:60].rstrip()
            claim = f"In {doc_id} a participant said: {quote[:40]}"
            finding: dict[str, Any] = {
                "claim": claim,
                "evidence": [{"doc_id": doc_id, "segment_id": seg_id, "quote": quote}],
                "confidence": 0.5 if not findings else 0.8,
                "sentiment": "neutral",
            }
            if prompt is not None:
                finding["context"] = prompt
            findings.append(finding)
            if len(findings) == 3:
                break
        self.claims.extend(f["claim"] for f in findings)
        if findings:
            first = findings[0]["evidence"][0]
            bogus = f"A paraphrase in {first['doc_id']} that nobody said"
            self.bogus.append(bogus)
            findings.append(
                {
                    "claim": bogus,
                    "evidence": [
                        {**first, "quote": "words that were never spoken in this meeting"}
                    ],
                    "confidence": 0.9,
                }
            )
        return {"summary": "findings", "findings": findings}


def function_model(
    responder: ModelLike,
    *,
    model_id: str = "claude-sonnet-4-6",
    prices: Any = None,
    delay_s: float = 0.0,
) -> Any:
    """A `FunctionModel` answering through `responder` (the API body is built with to_api)."""
    import asyncio

    from subagents.models.messages import ToolUseBlock
    from subagents.testing.models import FunctionModel

    async def fn(request: Any) -> Any:
        if delay_s:
            await asyncio.sleep(delay_s)  # simulated model latency, so a run can be killed mid-way
        blocks = responder(request.to_api(model_id))
        return [ToolUseBlock(id=b["id"], name=b["name"], input=b["input"]) for b in blocks]

    return FunctionModel(fn, model_id=model_id, prices=prices)
