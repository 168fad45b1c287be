"""The agent loop with ScriptedModel/FunctionModel and a fake index (no network)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from subagents.agent import Agent, AgentTask, ContextDocument, TraceEvent
from subagents.errors import SpecError, UnscriptedCallError
from subagents.models.messages import ModelRequest, TextBlock, ToolResultBlock
from subagents.models.pricing import PriceTable
from subagents.outputs import AnalystOutput
from subagents.spec_loader import load_spec
from subagents.testing.models import FunctionModel, ScriptedModel, abstain, final_output, tool_call
from subagents.tools import Tool, ToolRegistry, read_segment_tool, run_code_tool, search_tool
from tests.subagents.fakes import FakeIndex, segment

SEGMENTS = [
    segment("m1", 0, "I really want the remote to glow in the dark.", "B", 12.0),
    segment("m1", 1, "The buttons are too small for my thumbs.", "C", 30.0),
]

FINDING = {
    "summary": "one finding",
    "findings": [
        {
            "claim": "A participant finds the buttons too small.",
            "evidence": [
                {
                    "doc_id": "m1",
                    "segment_id": "m1#1",
                    "quote": "The buttons are too small",
                    "speaker": "C",
                    "start_time": 30.0,
                }
            ],
            "confidence": 0.9,
            "sentiment": "negative",
        }
    ],
}


def _registry(index: FakeIndex | None = None) -> ToolRegistry:
    index = index or FakeIndex(SEGMENTS)
    return ToolRegistry([search_tool(index), read_segment_tool(index)])


def _run(agent: Agent, task: AgentTask | None = None) -> Any:
    return asyncio.run(
        agent.run(task or AgentTask(instructions="What do people think of the buttons?"))
    )


def test_search_read_then_final_output_validates_and_rolls_up_usage() -> None:
    model = ScriptedModel(
        [
            [tool_call("search", {"query": "buttons small", "filters": {"doc_id": "m1"}})],
            [tool_call("read_segment", {"segment_id": "m1#1"})],
            final_output(FINDING),
        ],
        model_id="claude-sonnet-4-6",
        prices=PriceTable(),
    )
    events: list[TraceEvent] = []
    agent = Agent(load_spec("interview-analyst"), model, _registry(), on_event=events.append)
    result = _run(agent)
    model.assert_complete()
    assert result.status == "ok"
    assert isinstance(result.output, AnalystOutput)
    findings = result.output.to_findings("task-1")
    assert findings[0].evidence[0].quote == "The buttons are too small"
    assert findings[0].engine == "model"
    assert result.tool_calls == ["search", "read_segment", "final_output"]
    assert result.steps == 3
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.cost_usd == PriceTable().cost("claude-sonnet-4-6", result.usage)
    kinds = [(e.kind, e.name) for e in events]
    assert kinds == [
        ("model_call", "interview-analyst"),
        ("tool_call", "search"),
        ("model_call", "interview-analyst"),
        ("tool_call", "read_segment"),
        ("model_call", "interview-analyst"),
    ]
    assert events[0].attrs["gen_ai.operation.name"] == "chat"
    assert events[1].attrs["gen_ai.tool.name"] == "search"
    # the tool result the model saw is wrapped as untrusted data
    second_call = model.calls[1]
    tool_result = second_call.messages[-1].content[0]
    assert isinstance(tool_result, ToolResultBlock)
    assert "<untrusted-data" in tool_result.content[0].text
    assert "buttons are too small" in tool_result.content[0].text


def test_invalid_tool_arguments_are_reported_to_the_model() -> None:
    model = ScriptedModel(
        [
            [tool_call("search", {"k": 3})],
            [tool_call("search", {"query": "buttons"})],
            final_output(FINDING),
        ]
    )
    result = _run(Agent(load_spec("interview-analyst"), model, _registry()))
    first_result = model.calls[1].messages[-1].content[0]
    assert isinstance(first_result, ToolResultBlock)
    assert first_result.is_error and "query" in first_result.content[0].text
    assert result.status == "ok"


def test_a_tool_outside_the_allow_list_is_refused() -> None:
    ran: list[str] = []

    class Sandbox:
        def run_code(self, code: str, timeout: float) -> str:
            ran.append(code)
            return "ran"

    registry = _registry()
    registry.add(run_code_tool(Sandbox()))
    model = ScriptedModel([[tool_call("run_code", {"code": "import os"})], final_output(FINDING)])
    result = _run(Agent(load_spec("interview-analyst"), model, registry))
    assert ran == []
    assert result.refused_tools == ["run_code"]
    assert result.status == "ok"
    assert "run_code" not in [t.name for t in model.calls[0].tools]


def test_tool_timeout_becomes_an_error_result() -> None:
    class Args(BaseModel):
        query: str

    async def slow(args: Args) -> str:
        await asyncio.Event().wait()  # never finishes; the tool timeout ends it
        return "never"

    registry = ToolRegistry(
        [
            Tool("search", "slow search", Args, slow, timeout_s=0.05),
            read_segment_tool(FakeIndex(SEGMENTS)),
        ]
    )
    model = ScriptedModel([[tool_call("search", {"query": "x"})], final_output(FINDING)])
    result = _run(Agent(load_spec("interview-analyst"), model, registry))
    block = model.calls[1].messages[-1].content[0]
    assert isinstance(block, ToolResultBlock) and block.is_error
    assert "timed out" in block.content[0].text
    assert result.trace[1].attrs["error.type"] == "timeout"


def test_invalid_final_output_is_repaired_a_bounded_number_of_times() -> None:
    bad = {"findings": [{"claim": "no evidence", "evidence": [], "confidence": 2}]}
    model = ScriptedModel([final_output(bad), final_output(FINDING)])
    result = _run(Agent(load_spec("interview-analyst"), model, _registry()))
    assert result.status == "ok" and result.repairs == 1
    repair = model.calls[1].messages[-1].content[0]
    assert (
        isinstance(repair, ToolResultBlock)
        and "does not match the schema" in repair.content[0].text
    )

    always_bad = FunctionModel(lambda req: final_output(bad))
    result = _run(Agent(load_spec("interview-analyst"), always_bad, _registry(), max_repairs=2))
    assert result.status == "invalid_output"
    assert len(always_bad.calls) == 3


def test_plain_json_text_is_accepted_and_plain_prose_is_sent_back() -> None:
    import json

    model = ScriptedModel(["I think the buttons are small.", json.dumps(FINDING)])
    result = _run(Agent(load_spec("interview-analyst"), model, _registry()))
    assert result.status == "ok" and result.repairs == 1
    nudge = model.calls[1].messages[-1].content[0]
    assert isinstance(nudge, TextBlock) and "final_output" in nudge.text


def test_abstain_is_a_valid_result() -> None:
    model = ScriptedModel([abstain("the meeting never discusses buttons")])
    result = _run(Agent(load_spec("interview-analyst"), model, _registry()))
    assert result.status == "abstained" and result.ok
    assert result.abstain_reason == "the meeting never discusses buttons"
    assert result.output is None


def test_step_and_token_budgets_stop_cleanly() -> None:
    looping = FunctionModel(lambda req: [tool_call("search", {"query": "buttons"})])
    spec = load_spec("interview-analyst").model_copy(update={"max_steps": 3})
    result = _run(Agent(spec, looping, _registry()))
    assert result.status == "step_limit" and result.steps == 3
    assert "max_steps" in result.message

    spec = load_spec("interview-analyst").model_copy(update={"max_tokens": 1000})
    result = _run(Agent(spec, looping, _registry()))
    assert result.status == "budget_exhausted"
    assert result.usage.fresh_tokens >= 1000

    priced = FunctionModel(
        lambda req: [tool_call("search", {"query": "b"})],
        model_id="claude-opus-4-6",
        prices=PriceTable(),
    )
    result = _run(
        Agent(load_spec("interview-analyst"), priced, _registry(), max_cost_usd=Decimal("0.01"))
    )
    assert result.status == "budget_exhausted" and result.cost_usd >= Decimal("0.01")


def test_context_documents_go_in_document_blocks_not_the_system_prompt() -> None:
    seen: list[ModelRequest] = []

    def fn(req: ModelRequest) -> Any:
        seen.append(req)
        return final_output(FINDING)

    task = AgentTask(
        instructions="Analyse.",
        context=[ContextDocument(id="m1", text="SECRET-CORPUS-TEXT")],
        shared_context=True,
    )
    _run(Agent(load_spec("interview-analyst"), FunctionModel(fn), _registry()), task)
    req = seen[0]
    assert all("SECRET-CORPUS-TEXT" not in b.text for b in req.system)
    body = req.to_api("m")
    doc = body["messages"][0]["content"][0]
    assert doc["type"] == "document" and "untrusted" in doc["context"]
    assert doc["cache_control"] == {"type": "ephemeral"}  # shared context breakpoint


def test_scripted_model_contract() -> None:
    model = ScriptedModel(["one"])
    req = ModelRequest(messages=[])
    asyncio.run(model.complete(req))
    with pytest.raises(UnscriptedCallError):
        asyncio.run(model.complete(req))
    leftover = ScriptedModel(["a", "b"])
    asyncio.run(leftover.complete(req))
    with pytest.raises(AssertionError, match="1 of 2 steps"):
        leftover.assert_complete()


def test_missing_tool_in_registry_fails_loudly() -> None:
    with pytest.raises(SpecError, match="needs tools"):
        Agent(load_spec("chart-maker"), ScriptedModel([]), _registry())


def test_result_record_is_json_ready() -> None:
    import json

    model = ScriptedModel([[tool_call("search", {"query": "buttons"})], final_output(FINDING)])
    result = _run(Agent(load_spec("interview-analyst"), model, _registry()))
    record = json.loads(json.dumps(result.to_record()))
    assert record["status"] == "ok"
    assert record["output"]["findings"][0]["evidence"][0]["segment_id"] == "m1#1"
    assert [e["kind"] for e in record["trace"]] == ["model_call", "tool_call", "model_call"]
