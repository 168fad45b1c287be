"""Backend choice, the bwrap-less refusal and opt-in, the E2B adapter, the scripted fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2b_code_interpreter.models import Execution as E2BExecution
from e2b_code_interpreter.models import parse_output

from sandboxes import (
    AsyncE2BSandbox,
    E2BSandbox,
    Execution,
    LocalSandbox,
    SandboxIsolationWarning,
    SandboxUnavailableError,
    create_sandbox,
    from_e2b_execution,
)
from sandboxes.testing import ScriptedSandbox, ScriptedStep


@pytest.fixture()
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_without_bwrap_local_sandbox_refuses_and_says_how_to_install(no_bwrap: None) -> None:
    with pytest.raises(
        SandboxUnavailableError, match=r"apt-get install bubblewrap.*isolation='none'"
    ):
        LocalSandbox()


def test_unisolated_mode_is_explicit_and_warns_on_every_run(no_bwrap: None, tmp_path: Path) -> None:
    with LocalSandbox(work_dir=tmp_path, isolation="none") as sb:
        for _ in range(2):
            with pytest.warns(SandboxIsolationWarning, match="UNISOLATED"):
                ex = sb.run_code("1 + 1")
            assert ex.text == "2"
        with pytest.warns(SandboxIsolationWarning):
            sb.run_code("open('note.txt', 'w').write('hi')")
        assert sb.files.read("note.txt") == "hi"


def test_create_sandbox_picks_local_without_a_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    sb = create_sandbox(work_dir=tmp_path)
    try:
        assert isinstance(sb, LocalSandbox)
    finally:
        sb.close()


def test_create_sandbox_picks_e2b_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2B_API_KEY", "e2b_test_not_a_real_key")
    sb = create_sandbox()  # nothing is contacted before start()
    assert isinstance(sb, E2BSandbox)
    assert sb.aio.api_key == "e2b_test_not_a_real_key"


def test_e2b_without_a_key_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    with pytest.raises(SandboxUnavailableError, match="E2B_API_KEY"):
        AsyncE2BSandbox()


def _e2b_execution(*lines: dict[str, object]) -> E2BExecution:
    """Build an E2B Execution with the SDK's own parser, from its wire format."""
    execution = E2BExecution()
    for line in lines:
        parse_output(execution, json.dumps(line))
    return execution


def test_e2b_adapter_maps_the_sdk_types() -> None:
    raw = _e2b_execution(
        {"type": "stdout", "text": "hello\n", "timestamp": 1},
        {"type": "stderr", "text": "warn\n", "timestamp": 2},
        {"type": "result", "png": "iVBORw0KGgo=", "text": "<Figure>", "is_main_result": False},
        {"type": "result", "text": "42", "json": {"a": 1}, "is_main_result": True},
        {"type": "error", "name": "ValueError", "value": "bad", "traceback": "Traceback..."},
        {"type": "number_of_executions", "execution_count": 7},
    )
    ex = from_e2b_execution(raw)
    assert isinstance(ex, Execution)
    assert ex.logs.stdout == ["hello\n"] and ex.logs.stderr == ["warn\n"]
    assert ex.results[0].png == "iVBORw0KGgo=" and not ex.results[0].is_main_result
    assert ex.text == "42" and ex.results[1].json == {"a": 1}
    assert ex.error is not None and (ex.error.name, ex.error.value) == ("ValueError", "bad")
    assert ex.error.traceback == "Traceback..."
    assert ex.execution_count == 7


def test_e2b_adapter_caps_output() -> None:
    raw = _e2b_execution(
        *({"type": "stdout", "text": "x" * 100, "timestamp": i} for i in range(50))
    )
    ex = from_e2b_execution(raw, output_cap=1000)
    assert ex.truncated and len(ex.stdout) == 1000 and "truncated" in ex.stderr


def test_e2b_template_definition_serialises() -> None:
    from e2b import Template

    from sandboxes.templates.e2b_template import PACKAGES, TEMPLATE_ALIAS, template

    spec = json.loads(Template.to_json(template()))
    assert spec["fromTemplate"] == "code-interpreter-v1"
    commands = " ".join(" ".join(map(str, step["args"])) for step in spec["steps"])
    assert all(pkg in commands for pkg in PACKAGES) and "'polars>=1.0'" in commands
    assert AsyncE2BSandbox.__init__.__kwdefaults__["template"] == TEMPLATE_ALIAS


def test_scripted_sandbox_replays_steps_and_records_calls() -> None:
    sb = ScriptedSandbox([ScriptedStep(ScriptedSandbox.text("3"), files={"chart.png": b"\x89PNG"})])
    with sb:
        assert sb.run_code("1 + 2", timeout=5).text == "3"
        assert sb.files.read("chart.png", format="bytes") == b"\x89PNG"
        with pytest.raises(AssertionError, match="unscripted"):
            sb.run_code("again")
    assert sb.calls[0] == ("1 + 2", 5)
    sb.assert_complete()
    with pytest.raises(AssertionError, match="never used"):
        ScriptedSandbox([Execution()]).assert_complete()


def test_a_failed_start_is_a_clear_error_and_cleans_up(tmp_path: Path) -> None:
    from sandboxes import SandboxError

    sb = LocalSandbox(work_dir=tmp_path, preload=("no_such_module_here",))
    with pytest.raises(SandboxError, match="no_such_module_here"), sb:
        pass
    assert sb.kernel_pid() is None


def test_sync_sandbox_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    import asyncio

    async def notebook_cell() -> str | None:  # Jupyter runs cells inside a live loop
        with LocalSandbox(work_dir=tmp_path) as sb:
            return sb.run_code("6 * 7").text

    assert asyncio.run(notebook_cell()) == "42"


def test_execution_round_trips_through_json_with_e2b_field_names() -> None:
    from sandboxes import Result

    ex = Execution(results=[Result(text="1", json={"a": 1}, is_main_result=True)])
    data = json.loads(ex.model_dump_json())
    assert data["results"][0]["json"] == {"a": 1}
    assert Execution.model_validate(data) == ex


def test_bad_input_names_and_paths_are_user_errors(tmp_path: Path) -> None:
    from sandboxes import SandboxFileError

    (tmp_path / "ok.json").write_text("{}")
    with pytest.raises(SandboxFileError, match="plain file name"):
        LocalSandbox(inputs={"../x.json": tmp_path / "ok.json"})
    with pytest.raises(SandboxFileError, match="does not exist"):
        LocalSandbox(inputs={"x.json": tmp_path / "missing.json"})


def test_the_named_backend_wins_over_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("E2B_API_KEY", "e2b_test_not_a_real_key")
    sb = create_sandbox(work_dir=tmp_path, backend="local")
    try:
        assert isinstance(sb, LocalSandbox)
    finally:
        sb.close()
    monkeypatch.delenv("E2B_API_KEY")
    with pytest.raises(SandboxUnavailableError, match="E2B_API_KEY"):
        create_sandbox(backend="e2b")
    with pytest.raises(ValueError, match="auto, local, e2b"):
        create_sandbox(backend="docker")
