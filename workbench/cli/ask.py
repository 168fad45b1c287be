"""`workbench ask`: one question about a corpus, answered with verbatim quotes.

    workbench ask <corpus> -q "<question>" [--doc ID ...] [--where key=value ...] [--json]

Registered by `workbench.cli.app` through `register(main)`.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import click

from workbench.cli.common import (
    _guard,
    doc_option,
    engine_option,
    json_option,
    model_options,
    project_option,
)
from workbench.cli.terminal import say, say_json
from workbench.core.errors import UserError


def _parse_where(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for p in pairs:
        if "=" not in p:
            raise UserError(f"--where takes key=value (e.g. --where speaker=Marketing); got {p!r}")
        key, value = p.split("=", 1)
        val: Any = value
        with contextlib.suppress(json.JSONDecodeError):
            val = json.loads(value)
        out[key.strip()] = val
    where = {"$and": [{k: v} for k, v in out.items()]} if len(out) > 1 else out
    if where:
        from retrieval.filters import validate_where

        validate_where(where)  # before any indexing: a bad filter is bad input, said at once
    return where or None


def _add_ask(main: click.Group) -> None:
    @main.command(name="ask")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("-q", "--question", required=True, help="The question to answer.")
    @doc_option()
    @click.option("--where", "where", multiple=True, help="Metadata filter key=value (repeatable).")
    @project_option()
    @engine_option()
    @click.option(
        "--max-words", type=click.IntRange(20, 2000), default=None, help="Answer length budget."
    )
    @json_option("Print the answer as one JSON object.")
    @model_options
    @_guard
    def ask_cmd(
        path: Path,
        question: str,
        doc_ids: tuple[str, ...],
        where: tuple[str, ...],
        project_dir: Path,
        engine: str | None,
        max_words: int | None,
        as_json: bool,
        model_url: str | None,
        model_name: str | None,
    ) -> None:
        """Answer a question from the documents at PATH, citing verbatim evidence."""
        from workbench.ask.answer import Scope
        from workbench.ask.api import ask
        from workbench.ask.offline import OfflineAskSettings
        from workbench.project import Project

        if not path.exists():
            raise UserError(f"corpus path not found: {path}")
        scope = Scope(doc_ids=list(doc_ids) or None, where=_parse_where(where))
        settings = OfflineAskSettings(max_words=max_words) if max_words else None
        project = Project(project_dir)
        project.settings = project.settings.with_model_url(model_url, model_name)
        if (model_url or model_name) and engine is None:
            engine = "model"
        answer = ask(
            project,
            question,
            corpus=path,
            scope=scope,
            engine=engine,
            settings=settings,
        )
        for note in answer.notes:
            say(f"note: {note}", err=True)
        if as_json:
            data = answer.model_dump(mode="json")
            data["text"] = answer.text
            say_json(data)
            return
        say(answer.markdown())


def register(main: click.Group) -> None:
    """Add `ask` to the main group."""
    _add_ask(main)
