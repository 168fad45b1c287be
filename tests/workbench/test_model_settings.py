"""Model provider settings, --model-url, and `workbench doctor` without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.core.errors import UserError
from workbench.core.settings import ModelSettings, Settings


def _load(tmp_path: Path, text: str) -> Settings:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return Settings.load(p)


def test_an_openai_compatible_provider_needs_a_url_and_its_own_model_ids(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs base_url"):
        _load(tmp_path, '[models]\nprovider = "openai-compatible"\nmodel = "qwen2.5:7b"\n')
    with pytest.raises(UserError, match="set model ids the server serves"):
        _load(
            tmp_path,
            '[models]\nprovider = "openai-compatible"\nbase_url = "http://localhost:11434/v1"\n',
        )
    s = _load(
        tmp_path,
        '[models]\nprovider = "openai-compatible"\nbase_url = "http://localhost:11434/v1"\n'
        'model = "qwen2.5:7b"\nlead = "qwen2.5:32b"\ncontext_window = 32768\n'
        '[models.context_windows]\n"qwen2.5:7b" = 16384\n'
        '[models.prices]\n"qwen2.5:32b" = { input = 0, output = 0 }\n',
    )
    m = s.models
    assert m.tiers() == {"lead": "qwen2.5:32b", "worker": "qwen2.5:7b", "fast": "qwen2.5:7b"}
    assert m.window("qwen2.5:7b") == 16384 and m.window("qwen2.5:32b") == 32768
    assert m.key_env() is None and m.configured() and s.resolved_engine() == "model"


def test_default_windows_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    anthropic = ModelSettings()
    assert anthropic.default_window() == 200_000 and anthropic.missing() == "set ANTHROPIC_API_KEY"
    assert Settings().resolved_engine() == "offline"
    local = ModelSettings(
        provider="openai-compatible", base_url="http://h:1/v1", model="m", api_key_env="MY_KEY"
    )
    assert local.default_window() == 8192
    assert local.missing() == "set MY_KEY (the key of http://h:1/v1)" and not local.configured()
    monkeypatch.setenv("MY_KEY", "x")
    assert local.configured()


def test_model_url_overrides_the_settings() -> None:
    with pytest.raises(UserError, match="set model ids"):
        Settings().with_model_url("http://localhost:8000/v1")
    with pytest.raises(UserError, match="http"):
        Settings().with_model_url("localhost:8000")
    s = Settings().with_model_url("http://localhost:8000/v1/", "llama3.1:8b")
    assert (
        s.models.provider == "openai-compatible" and s.models.base_url == "http://localhost:8000/v1"
    )
    assert set(s.models.tiers().values()) == {"llama3.1:8b"}


def test_doctor_without_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    offline = CliRunner().invoke(main, ["doctor", "--project", str(tmp_path), "--json"])
    assert offline.exit_code == 0, offline.output
    d = json.loads(offline.stdout)
    assert d["engine"] == "offline" and d["engine_reason"] == "set ANTHROPIC_API_KEY"
    assert "endpoint" not in d and d["models"]["lead"]["context_window"] == 200_000
    # nothing listens on this port: the endpoint check fails and says so
    down = CliRunner().invoke(
        main,
        [
            "doctor",
            "--project",
            str(tmp_path),
            "--model-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
        ],
    )
    assert down.exit_code == 1 and "DOES NOT ANSWER" in down.stdout
    text = CliRunner().invoke(
        main,
        ["doctor", "--project", str(tmp_path), "--model-url", "http://127.0.0.1:9/v1", "--model", "m", "--no-check"],
    )  # fmt: skip
    assert text.exit_code == 0 and "free (local endpoint)" in text.stdout
