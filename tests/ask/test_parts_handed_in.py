"""`ask` and a run get their parts handed in (`ProjectContext`), and one resolver picks the
engine for `analyze`, `ask`, `triage` and `eval`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.ask.conftest import Indexed
from workbench.ask.api import ask
from workbench.core.errors import UserError
from workbench.core.settings import Settings
from workbench.engines.registry import ENGINES, resolve_engine
from workbench.runs.context import ProjectContext


def test_an_unknown_engine_is_refused_with_the_choices() -> None:
    with pytest.raises(UserError) as e:
        resolve_engine("psychic", Settings(), has_model=False)
    for name in ENGINES:
        assert repr(name) in str(e.value)


def test_the_model_engine_without_a_model_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        resolve_engine("model", Settings(), has_model=False)
    assert resolve_engine("model", Settings(), has_model=True) == "model"
    assert resolve_engine(None, Settings(), has_model=True) == "model"


def test_ask_uses_the_parts_it_is_handed(indexed: Indexed, tmp_path: Path) -> None:
    """A context whose parts are not the project's: `ask` reads the corpus, the index and
    the caches through it, never through a `Project`."""
    handed: list[str] = []
    parts = indexed.project.context()

    def corpus(path: str | Path) -> Any:
        handed.append("corpus")
        return parts.corpus(path)

    def index_for(c: Any, **kw: Any) -> Any:
        handed.append("index")
        return parts.index_for(c, **kw)

    mine = replace(parts, wb_dir=tmp_path / "elsewhere", corpus=corpus, index_for=index_for)
    assert isinstance(mine, ProjectContext)
    (tmp_path / "elsewhere").mkdir()
    answer = ask(
        mine,
        "What did they decide about the remote?",
        corpus=indexed.corpus.path,
        engine="offline",
        on_event=lambda ev: None,
    )
    assert handed == ["corpus", "index"]
    assert answer.engine == "offline"
    assert (tmp_path / "elsewhere" / "ask-embeddings.sqlite").exists()
