from __future__ import annotations

from pathlib import Path

import pytest

from subagents.errors import SpecError
from subagents.spec_loader import builtin_specs, load_spec, load_specs, parse_spec

BUILTINS = {
    "planner",
    "interview-analyst",
    "ticket-analyst",
    "code-navigator",
    "theme-synthesizer",
    "chart-maker",
    "critic",
    "query-writer",
}


def test_all_builtins_load_with_schema_tools_and_instructions() -> None:
    specs = builtin_specs()
    assert set(specs) == BUILTINS
    for spec in specs.values():
        assert spec.output_model.model_json_schema()["type"] == "object"
        assert len(spec.prompt) > 400, spec.name  # task-specific instructions, not a stub
        assert "untrusted" in spec.prompt.lower() or "corpus data" in spec.prompt.lower()
    # least privilege: only chart-maker runs code; analysts search and read
    assert [s.name for s in specs.values() if "run_code" in s.tools] == ["chart-maker"]
    assert specs["interview-analyst"].tools == ["search", "read_segment"]
    assert specs["planner"].tier == "lead" and specs["query-writer"].tier == "fast"


def test_project_specs_add_and_override(tmp_path: Path) -> None:
    folder = tmp_path / "subagents"
    folder.mkdir()
    (folder / "pricing-analyst.md").write_text(
        "---\nname: pricing-analyst\ndescription: Finds what customers say about prices.\n"
        "tools: [search]\noutput: analyst-findings\n---\n"
        "Look for every mention of price, cost or plan and report it with quotes.\n"
    )
    (folder / "critic.md").write_text(
        "---\nname: critic\ndescription: A stricter critic for this project.\n"
        "tier: worker\ntools: [read_segment]\noutput: critique\n---\n"
        "Fail any finding with fewer than two quotes; otherwise as usual.\n"
    )
    specs = load_specs(tmp_path)
    assert "pricing-analyst" in specs
    assert specs["critic"].tier == "worker"
    assert load_spec("pricing-analyst", tmp_path).tools == ["search"]
    assert specs["critic"].prompt_hash != builtin_specs()["critic"].prompt_hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x", "starts with '---'"),
        ("---\nname: x\n", "not closed"),
        ("---\n[1, 2]\n---\nbody body body body body", "mapping"),
        (
            "---\nname: ok-name\ndescription: long enough text\noutput: nope\n---\n" + "b" * 30,
            "unknown output schema",
        ),
        (
            "---\nname: ok-name\ndescription: long enough text\noutput: plan\ntools: [shell]\n---\n"
            + "b" * 30,
            "unknown tools",
        ),
        (
            "---\nname: Bad Name\ndescription: long enough text\noutput: plan\n---\n" + "b" * 30,
            "name",
        ),
        (
            "---\nname: ok-name\ndescription: long enough text\noutput: plan\nmax_stepz: 3\n---\n"
            + "b" * 30,
            "max_stepz",
        ),
    ],
)
def test_bad_specs_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text, source="my.md")


def test_unknown_spec_name_lists_the_available_ones() -> None:
    with pytest.raises(SpecError, match="available"):
        load_spec("nope")


def test_planner_description_of_specs() -> None:
    from subagents.spec_loader import describe_specs

    described = describe_specs(builtin_specs())
    assert [d["name"] for d in described] == sorted(BUILTINS)
    assert all(d["description"] for d in described)
