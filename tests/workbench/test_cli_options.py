"""The options several commands take are defined once (`workbench.cli.common`): every
command that takes `--project`, `--engine` or `--json` takes the same option."""

from __future__ import annotations

from collections.abc import Iterator

import click

from workbench.cli import main
from workbench.cli.common import ENGINE_HELP, PROJECT_HELP
from workbench.engines.registry import ENGINES


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def _option(cmd: click.Command, flag: str) -> click.Option | None:
    return next((p for p in cmd.params if isinstance(p, click.Option) and flag in p.opts), None)


def test_shared_options_are_the_same_option_everywhere() -> None:
    commands = dict(_commands(main))
    with_engine = {n for n, c in commands.items() if _option(c, "--engine")}
    with_project = {n for n, c in commands.items() if _option(c, "--project")}
    assert {"analyze", "ask", "doctor", "triage", "eval analysis", "eval triage"} <= with_engine
    assert {"analyze", "ask", "runs", "doctor", "triage", "eval propose"} <= with_project
    for name in with_engine:
        opt = _option(commands[name], "--engine")
        assert opt is not None and opt.name == "engine"
        assert list(opt.type.choices) == list(ENGINES), name  # type: ignore[attr-defined]
        if opt.default is None:
            assert opt.help == ENGINE_HELP, name
    for name in with_project:
        opt = _option(commands[name], "--project")
        assert opt is not None and opt.name == "project_dir", name
        if name != "eval analysis":  # a temporary project unless one is named
            assert opt.help == PROJECT_HELP, name
    for name, cmd in commands.items():
        opt = _option(cmd, "--json")
        if opt is not None:
            assert opt.name == "as_json" and opt.is_flag and opt.help, name
