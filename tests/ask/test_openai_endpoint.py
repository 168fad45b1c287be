"""`ask` with the model engine and `eval analysis` with the rubric judge, through the
CLI's --model-url: the real OpenAICompatibleModel against the fake OpenAI-compatible
server on loopback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from subagents.testing.fake_openai_server import (
    FakeOpenAIConfig,
    blocks_responder,
    fake_openai_server_in_thread,
)
from workbench.cli import main
from workbench.evaluation.judge import CRITERIA
from workbench.project import Project
from workbench.runs.corpus import Corpus

from .conftest import GOLDEN
from .test_cli_judge import JUDGE, QUESTIONS, RubricServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("es2002a-openai")
    shutil.copy(sample_corpus / "ES2002a.json", folder / "ES2002a.json")
    return folder


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory, meeting: Path) -> Path:
    d = tmp_path_factory.mktemp("openai-project")
    (d / ".workbench").mkdir()
    (d / ".workbench" / "config.toml").write_text(
        "[models]\ncache = false\nsynthetic_queries = false\ncontext_window = 16384\n"
    )
    corpus = Corpus.load(meeting)
    index = Project(d).index_for(corpus)
    index.update(corpus.documents)
    index.close()
    return d


def _tool(name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": f"call_{name}", "name": name, "input": data}]


class AskServer:
    """Answers the planner, the searching analyst and the writer."""

    def __init__(self, quote_seg: Any) -> None:
        self.seg = quote_seg
        self.calls: list[str] = []

    def __call__(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        system = "\n".join(b.get("text", "") for b in body.get("system", []))
        last = body["messages"][-1]["content"][-1]
        if "You are the planner" in system:
            self.calls.append("planner")
            stage = {"id": "a", "subagent": "interview-analyst", "goal": "find it",
                     "sub_questions": ["what is the project"]}  # fmt: skip
            return _tool("final_output", {"rationale": "one part", "stages": [stage]})
        if "You analyse one conversation" in system:
            self.calls.append("analyst")
            if last.get("type") != "tool_result":
                return _tool("search", {"query": "project remote control", "k": 3})
            ev = {"doc_id": "ES2002a", "segment_id": self.seg.id, "quote": self.seg.text[:30]}
            finding = {"claim": "They introduced the project.", "confidence": 0.8, "evidence": [ev]}
            return _tool("final_output", {"findings": [finding]})
        assert "You write the answer" in system
        self.calls.append("writer")
        return _tool("final_output", {"sentences": [{"text": "The team met.", "evidence": [1]}]})


def test_ask_with_the_model_engine_through_model_url(meeting: Path, project_dir: Path) -> None:
    seg = Corpus.load(meeting).by_id()["ES2002a"].segments[12]
    server_logic = AskServer(seg)
    with fake_openai_server_in_thread(
        FakeOpenAIConfig(context_window=16384), blocks_responder(server_logic)
    ) as server:
        r = CliRunner().invoke(
            main,
            ["ask", str(meeting), "-q", "What is the project?", "--project", str(project_dir),
             "--model-url", server.base_url, "--model", "local-model", "--json"],
            catch_exceptions=False,
        )  # fmt: skip
        statuses = server.status_counts()
        bodies = list(server.requests_seen)
    assert r.exit_code == 0, r.output
    answer = json.loads(r.stdout)
    assert answer["engine"] == "model" and answer["found"]
    assert [e["quote"] for e in answer["evidence"]] == [seg.text[:30]]
    assert server_logic.calls == ["planner", "analyst", "analyst", "writer"]
    assert set(statuses) == {200} and {b["model"] for b in bodies} == {"local-model"}
    assert answer["cost_usd"] == 0  # a local endpoint's unpriced model is free


def test_eval_with_the_rubric_judge_through_model_url(meeting: Path, project_dir: Path) -> None:
    rubric = RubricServer()
    with fake_openai_server_in_thread(responder=blocks_responder(rubric)) as server:
        r = CliRunner().invoke(
            main,
            ["eval", "analysis", str(GOLDEN), str(meeting), "--limit", "4", "--project",
             str(project_dir), "--model-url", server.base_url, "--model", "local-judge", "--json"],
            catch_exceptions=False,
        )  # fmt: skip
        bodies = list(server.requests_seen)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert sorted(rubric.judged) == sorted(QUESTIONS)
    for item, q in zip(data["items"], QUESTIONS, strict=True):
        assert item["judge"] == dict.fromkeys(CRITERIA, JUDGE[q])
    # the judge has no tools: JSON-schema structured output, the answer as a document
    assert all(b["response_format"]["type"] == "json_schema" for b in bodies)
    assert all("<<<DOCUMENT" in b["messages"][1]["content"] for b in bodies)
