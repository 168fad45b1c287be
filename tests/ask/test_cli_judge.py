"""`eval analysis` with the rubric judge and calibration, and `eval propose`, end to end.

The model is the real one the CLI builds (`AnthropicModel` from the project settings),
pointed at the fake Messages-API server on loopback through ANTHROPIC_BASE_URL; the
server answers as the judge and the proposer would (`RubricServer` below).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from subagents.testing.fake_server import FakeAnthropicServer, fake_server_in_thread
from workbench.cli import main
from workbench.evaluation.golden import load_golden
from workbench.evaluation.judge import CRITERIA, Calibration
from workbench.evaluation.regression import compare
from workbench.evaluation.runner import EvalReport, ItemResult
from workbench.project import Project
from workbench.runs.corpus import Corpus

from .conftest import GOLDEN

# the first four golden items (all on ES2002a) and the judge's score for each
QUESTIONS = [i.question for i in load_golden(GOLDEN).items[:4]]
JUDGE = dict(zip(QUESTIONS, [0.95, 0.1, 0.9, 0.2], strict=True))
AGREE = {"ES2002a-0": 0.9, "ES2002a-1": 0.1, "ES2002a-2": 0.8, "ES2002a-3": 0.2}
DISAGREE = {"ES2002a-0": 0.1, "ES2002a-1": 0.9, "ES2002a-2": 0.2, "ES2002a-3": 0.8}


def _tool(name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": f"toolu_{name}", "name": name, "input": data}]


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    content = body["messages"][0]["content"]
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


class RubricServer:
    """Answers the rubric judge (scores by question, plus `shift`) and the proposer."""

    def __init__(self, proposals: list[dict[str, Any]] | None = None) -> None:
        self.proposals = proposals or []
        self.shift = 0.0
        self.calls: list[str] = []
        self.judged: list[str] = []
        self.proposer_bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        system = "\n".join(b.get("text", "") for b in body.get("system", []))
        if "You grade an answer" in system:
            self.calls.append("judge")
            text = "\n".join(b.get("text", "") for b in _blocks(body) if b["type"] == "text")
            inputs = json.loads(text.split("Inputs (JSON):\n", 1)[1])
            assert any(b["type"] == "document" for b in _blocks(body))  # the answer is data
            self.judged.append(inputs["question"])
            v = round(JUDGE.get(inputs["question"], 0.7) + self.shift, 4)
            return _tool("final_output", {**dict.fromkeys(CRITERIA, v), "rationale": "scripted"})
        if "You write test questions" in system:
            self.calls.append("proposer")
            self.proposer_bodies.append(body)
            if len(body["messages"]) == 1:
                return _tool("search", {"query": "remote control project", "k": 3})
            return _tool("final_output", {"items": self.proposals})
        raise AssertionError(f"unexpected system prompt: {system[:80]}")


@pytest.fixture(scope="module")
def one_meeting(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("es2002a")
    shutil.copy(sample_corpus / "ES2002a.json", folder / "ES2002a.json")
    return folder


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory, one_meeting: Path) -> Path:
    """A project with its index built once; no response cache, so every call reaches the server."""
    d = tmp_path_factory.mktemp("judge-project")
    (d / ".workbench").mkdir()
    (d / ".workbench" / "config.toml").write_text("[models]\ncache = false\n")
    corpus = Corpus.load(one_meeting)
    index = Project(d).index_for(corpus)
    index.update(corpus.documents)
    index.close()
    return d


@pytest.fixture()
def rubric() -> RubricServer:
    return RubricServer()


@pytest.fixture()
def server(rubric: RubricServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropicServer]:
    with fake_server_in_thread(responder=rubric) as srv:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        yield srv


def _analysis(golden: Path, project_dir: Path, *args: str) -> list[str]:
    return ["eval", "analysis", str(golden), *args, "--project", str(project_dir)]


def _run(args: list[str], **kw: Any) -> Any:
    return CliRunner().invoke(main, args, catch_exceptions=False, **kw)


@pytest.mark.slow
def test_judge_scores_each_item_and_overall(
    server: FakeAnthropicServer, rubric: RubricServer, one_meeting: Path, project_dir: Path
) -> None:
    r = _run(_analysis(GOLDEN, project_dir, str(one_meeting), "--limit", "4", "--json"))
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert sorted(rubric.judged) == sorted(QUESTIONS)  # one judge call per item
    assert {s.status for s in server.records} == {200}
    for item, q in zip(data["items"], QUESTIONS, strict=True):
        assert item["judge"] == dict.fromkeys(CRITERIA, JUDGE[q])
    mean = sum(JUDGE.values()) / 4
    for c in CRITERIA:
        assert data["overall"][f"judge_{c}"] == pytest.approx(mean)
    assert data["judge_trusted"] is None and data["judge_calibration"] is None

    text = _run(_analysis(GOLDEN, project_dir, str(one_meeting), "--limit", "4"))
    assert text.exit_code == 0, text.output
    assert "judge_factual_accuracy" in text.stdout
    assert "ES2002a-1" in text.stdout and "0.100" in text.stdout
    assert "not calibrated" in text.stdout

    off = _run(_analysis(GOLDEN, project_dir, str(one_meeting), "--limit", "1", "--no-judge"))
    assert off.exit_code == 0 and "judge" not in off.stdout
    assert len(rubric.judged) == 8  # --no-judge made no call


@pytest.mark.slow
def test_the_judge_is_metered_by_the_project_budgets_and_traced(
    server: FakeAnthropicServer,
    rubric: RubricServer,
    one_meeting: Path,
    project_dir: Path,
    tmp_path: Path,
) -> None:
    """The judge's calls go through a MeteredModel: a token cap stops it, spans record it."""
    capped = tmp_path / "capped"
    shutil.copytree(project_dir, capped)  # the same index, a tighter config, no old traces
    shutil.rmtree(capped / ".workbench" / "traces", ignore_errors=True)
    (capped / ".workbench" / "config.toml").write_text(
        "[models]\ncache = false\n[budgets]\nmax_tokens = 1\n"
    )
    r = _run(_analysis(GOLDEN, capped, str(one_meeting), "--limit", "6", "--json"))
    assert r.exit_code == 1, r.output
    assert "token budget" in r.stderr
    # the judge scores four answers at a time: the first call to finish spent the budget;
    # those already under way beside it (one to four, as the machine schedules them)
    # finish, and no later one reaches the API, so six answers never all get judged
    assert 1 <= len(rubric.judged) <= 4
    trace = capped / ".workbench" / "traces" / "eval.jsonl"
    spans = [json.loads(line) for line in trace.read_text().splitlines()]
    chats = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat"]
    # the calls that finished are metered and traced with their tokens; a call still in
    # flight when the budget stopped the run is cancelled and leaves no span
    assert 1 <= len(chats) <= len(rubric.judged)
    assert all(c["attributes"]["gen_ai.usage.output_tokens"] for c in chats)


@pytest.mark.slow
def test_human_labels_trust_or_flag_the_judge_and_only_trusted_scores_gate(
    server: FakeAnthropicServer,
    rubric: RubricServer,
    one_meeting: Path,
    project_dir: Path,
    tmp_path: Path,
) -> None:
    agree, disagree = tmp_path / "agree.json", tmp_path / "disagree.json"
    agree.write_text(json.dumps(AGREE))
    disagree.write_text(json.dumps([{"id": k, "score": v} for k, v in DISAGREE.items()]))
    store = tmp_path / "evals"
    base = _analysis(GOLDEN, project_dir, str(one_meeting), "--limit", "4", "--min-labels", "4")
    base += ["--store", str(store)]

    def run(labels: Path, version: str, *extra: str) -> dict[str, Any]:
        r = _run([*base, "--human-labels", str(labels), "--save-version", version, *extra])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout) if "--json" in extra else {"text": r.stdout}

    good = run(agree, "trusted-a", "--json")
    cal = good["judge_calibration"]
    assert good["judge_trusted"] is True and cal["trusted"] is True
    assert cal["n"] == 4 and cal["spearman"] == pytest.approx(1.0) and cal["kappa"] == 1.0
    bad = run(disagree, "untrusted-a", "--json")
    assert bad["judge_trusted"] is False
    assert bad["judge_calibration"]["spearman"] == pytest.approx(-1.0)
    assert "Spearman" in bad["judge_calibration"]["reason"]
    # the same labels are enough only under a lower bar
    lenient = run(disagree, "lenient", "--json", "--min-agreement", "-1")
    assert lenient["judge_trusted"] is True
    text = run(disagree, "untrusted-text")["text"]
    assert "UNTRUSTED" in text and "not used as gates" in text and "Cohen's kappa" in text

    rubric.shift = -0.05  # every judge score drops; pass/fail and ranks stay the same
    worse = run(agree, "trusted-b", "--json")
    assert worse["judge_trusted"] is True
    run(disagree, "untrusted-b", "--json")

    def gate(a: str, b: str) -> Any:
        args = ["eval", "compare", a, b, "--store", str(store), "--fail-on-regression"]
        return _run(args)

    trusted = gate("trusted-a", "trusted-b")
    assert trusted.exit_code == 1, trusted.output
    assert "judge_factual_accuracy" in trusted.stderr and "REGRESSION" in trusted.stdout
    untrusted = gate("untrusted-a", "untrusted-b")
    assert untrusted.exit_code == 0, untrusted.output
    assert "judge scores are not gated" in untrusted.stdout and "untrusted" in untrusted.stdout
    mixed = _run(["eval", "compare", "trusted-a", "untrusted-b", "--store", str(store), "--json"])
    diff = json.loads(mixed.stdout)
    judged = [m for m in diff["metrics"] if m["metric"].startswith("judge_")]
    assert len(judged) == 5 and not any(m["gated"] or m["regression"] for m in judged)
    assert all(m["ci_high"] < 0 for m in judged)  # the drop is shown, not gated
    assert diff["regressions"] == []


def _proposals(one_meeting: Path) -> list[dict[str, Any]]:
    doc = Corpus.load(one_meeting).by_id()["ES2002a"]
    s21, s30 = doc.segments[21], doc.segments[30]
    return [
        {
            "question": "What did the project manager say about the individual work?",
            "reference_answer": "They will work individually and then meet about it.",
            "evidence": [{"doc_id": "ES2002a", "segment_id": s21.id, "quote": s21.text[5:40]}],
        },
        {
            "question": "Which animal did Marketing pick as a favourite?",
            "reference_answer": "The family's beagle.",
            "evidence": [{"doc_id": "ES2002a", "segment_id": s30.id, "quote": s30.text[:20]}],
        },
        {
            "question": "What was invented by the model here?",
            "reference_answer": "Nothing anyone said.",
            "evidence": [{"doc_id": "ES2002a", "segment_id": s21.id, "quote": "never said"}],
        },
    ]


@pytest.mark.slow
def test_propose_approve_all_writes_a_golden_set_that_eval_analysis_runs(
    server: FakeAnthropicServer,
    rubric: RubricServer,
    one_meeting: Path,
    project_dir: Path,
    tmp_path: Path,
) -> None:
    rubric.proposals = _proposals(one_meeting)
    out = tmp_path / "sets" / "proposed.json"
    args = ["eval", "propose", str(one_meeting), "--n", "3", "--out", str(out)]
    args += ["--project", str(project_dir)]
    r = _run([*args, "--approve-all"])
    assert r.exit_code == 0, r.output
    assert "kept 2 of 2" in r.stdout and "Run: workbench eval analysis" in r.stdout
    assert "ES2002a#21: Project Manager: Um . So we're gonna" in r.stdout  # evidence shown
    # the search tool ran on the real index; its result went back to the model
    second = rubric.proposer_bodies[1]["messages"][-1]["content"]
    assert any(b["type"] == "tool_result" for b in second)

    gs = load_golden(out)
    assert [i.question for i in gs.items] == [p["question"] for p in rubric.proposals[:2]]
    assert all(i.approved for i in gs.items) and gs.items[0].gold_spans[0].start == 21
    assert Path(gs.corpus or "").resolve() == one_meeting.resolve()
    assert not Path(json.loads(out.read_text())["corpus"]).is_absolute()

    # the file names its corpus: eval analysis needs no corpus argument
    ev = _run(_analysis(out, project_dir, "--json"))
    assert ev.exit_code == 0, ev.output
    data = json.loads(ev.stdout)
    assert [i["id"] for i in data["items"]] == [i.id for i in gs.items]
    assert all(i["judge"] == dict.fromkeys(CRITERIA, 0.7) for i in data["items"])

    again = _run([*args, "--approve-all"])  # the same proposals again: nothing duplicated
    assert again.exit_code == 0 and "now has 2 items" in again.stdout


@pytest.mark.slow
def test_propose_asks_for_approval_of_each_question(
    server: FakeAnthropicServer,
    rubric: RubricServer,
    one_meeting: Path,
    project_dir: Path,
    tmp_path: Path,
) -> None:
    rubric.proposals = _proposals(one_meeting)

    def propose(out: Path, *extra: str) -> list[str]:
        args = ["eval", "propose", str(one_meeting), "--out", str(out)]
        return [*args, "--project", str(project_dir), *extra]

    out = tmp_path / "approved.json"
    no_tty = _run(propose(out))  # CliRunner's stdin is not a terminal
    assert no_tty.exit_code == 2
    assert "no terminal to approve on; use --approve-all or the notebook" in no_tty.stderr
    assert rubric.calls == [] and not out.exists()

    r = _run(propose(out, "--interactive"), input="y\nn\n")
    assert r.exit_code == 0, r.output
    assert r.stdout.count("keep it?") == 2 and "kept 1 of 2" in r.stdout
    assert [i.question for i in load_golden(out).items] == [rubric.proposals[0]["question"]]

    quit_early = tmp_path / "none.json"
    q = _run(propose(quit_early, "--interactive"), input="q\n")
    assert q.exit_code == 0 and "kept none" in q.stdout and not quit_early.exists()


def test_without_a_key_the_model_commands_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(AGREE))
    base = ["eval", "analysis", str(GOLDEN), str(corpus), "--project", str(tmp_path / "p")]

    judge = _run([*base, "--judge"])
    assert judge.exit_code == 2
    assert "the rubric judge needs a model: set ANTHROPIC_API_KEY" in judge.stderr
    assert "--no-judge" in judge.stderr
    calibrated = _run([*base, "--human-labels", str(labels)])  # labels imply a judge
    assert calibrated.exit_code == 2 and "ANTHROPIC_API_KEY" in calibrated.stderr
    both = _run([*base, "--no-judge", "--human-labels", str(labels)])
    assert both.exit_code == 2 and "drop --no-judge" in both.stderr
    bad_labels = tmp_path / "bad.json"
    bad_labels.write_text(json.dumps({"ES2002a-0": 3}))
    out_of_range = _run([*base, "--human-labels", str(bad_labels)])
    assert out_of_range.exit_code == 2 and "[0, 1]" in out_of_range.stderr

    args = ["eval", "propose", str(corpus), "--out", str(tmp_path / "g.json"), "--approve-all"]
    propose = _run([*args, "--project", str(tmp_path / "p")])
    assert propose.exit_code == 2
    assert "proposing questions needs a model: set ANTHROPIC_API_KEY" in propose.stderr


def _report(scores: list[float], trusted: bool | None) -> EvalReport:
    items = [
        ItemResult(
            id=f"q{n}",
            question=f"q{n}",
            metrics={"evidence_hit": 1.0, "quote_faithfulness": 1.0},
            answer="",
            judge=dict.fromkeys(CRITERIA, s),
        )
        for n, s in enumerate(scores)
    ]
    overall: dict[str, float | None] = {"evidence_hit": 1.0, "quote_faithfulness": 1.0}
    overall.update({f"judge_{c}": sum(scores) / len(scores) for c in CRITERIA})
    cal = None
    if trusted is not None:
        reason = "agrees with the human labels" if trusted else "Spearman -1.000 < 0.5"
        cal = Calibration(
            n=len(scores), spearman=1.0 if trusted else -1.0, kappa=None, threshold=0.5,
            min_spearman=0.5, min_kappa=0.4, trusted=trusted, reason=reason,
        )  # fmt: skip
    return EvalReport(
        golden="g", engine="offline", version="v", created_at="now", corpus="c",
        items=items, overall=overall, judge_trusted=trusted, judge_calibration=cal,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("trusted_a", "trusted_b", "gated", "why"),
    [
        (True, True, True, None),
        (True, False, False, "B's judge is untrusted (Spearman -1.000 < 0.5)"),
        (False, False, False, "A's judge is untrusted"),
        (None, True, False, "A's judge is not calibrated"),
    ],
)
def test_judge_scores_gate_only_when_both_judges_are_trusted(
    trusted_a: bool | None, trusted_b: bool | None, gated: bool, why: str | None
) -> None:
    before = [0.9, 0.8, 0.85, 0.7, 0.95, 0.75]
    a = _report(before, trusted_a)
    b = _report([s - 0.3 for s in before], trusted_b)
    diff = compare(a, b, label_a="A", label_b="B")
    judged = [m for m in diff.metrics if m.metric.startswith("judge_")]
    assert len(judged) == 5 and all(m.n == 6 and m.ci_high is not None for m in judged)
    assert all(m.gated is gated and m.regression is gated for m in judged)
    assert [m.metric for m in diff.regressions] == ([m.metric for m in judged] if gated else [])
    if why is None:
        assert diff.judge_note is None
    else:
        assert diff.judge_note is not None and why in diff.judge_note
        assert "judge scores are not gated" in diff.render()
