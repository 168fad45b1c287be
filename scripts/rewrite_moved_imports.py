"""Rewrite imports of workbench modules to their folders (issue 15's restructure).

Code written against the flat layout (`workbench.settings`, `workbench.engine_offline`,
`workbench/cli_ask.py`, ...) is rewritten in place to the new module paths. Run it on a
branch after merging the restructure; `--check` lists what it would change and exits 1.

    python scripts/rewrite_moved_imports.py [--check] [paths...]   (default: tracked files)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

MOVED = {
    "errors": "core.errors",
    "events": "core.events",
    "settings": "core.settings",
    "tracing": "core.tracing",
    "store": "runs.store",
    "run": "runs.run",
    "corpus": "runs.corpus",
    "control": "runs.control",
    "review": "runs.review",
    "budgets": "runs.budgets",
    "handle": "runs.handle",
    "fanout": "runs.fanout",
    "executor_ray": "runs.executor_ray",
    "engine_offline": "engines.offline",
    "engine_model": "engines.model",
    "model_synthesis": "engines.synthesis",
    "model_stack": "engines.model_stack",
    "batching": "engines.batching",
    "codebook": "engines.codebook",
    "charts": "outputs.charts",
    "reporting": "outputs.reporting",
    "tables": "outputs.tables",
    "media": "outputs.media",
    "bundle": "outputs.bundle",
    "qda": "outputs.qda",
    "orchestrate": "orchestrator.orchestrate",
    "pipeline": "orchestrator.pipeline",
    "plans": "orchestrator.plans",
    "ask": "ask.answer",
    "ask_model": "ask.model",
    "progress": "core.progress",
    "terminal": "cli.terminal",
    "cli_ask": "cli.ask",
    "cli_qda": "cli.qda",
    "cli_triage": "cli.triage",
}
# `workbench.cli` is a folder whose `main` is the old module's: `workbench.cli:main` and
# `python -m workbench.cli` keep working, so it is not in the table.
# names that left their module as well (old module, name) -> new module
NAMES = {
    ("project", "run_sync"): "core.aio",
    ("ask.answer", "ask"): "ask.api",
    ("ask.answer", "_configured_model"): "ask.api",
    ("cli", "_guard"): "cli.common",
    ("cli", "model_options"): "cli.common",
    ("orchestrator.pipeline", "RunContext"): "runs.context",
}
EXTS = (".py", ".ipynb", ".md", ".toml", ".sh", ".yml", ".yaml", ".txt", ".cfg", ".ini")
_names = "|".join(sorted(MOVED, key=len, reverse=True))
# `workbench.ask` and `workbench.cli` are folders now: their modules are left alone
_NEW = r"(?!\.(?:answer|model|api|app|ask|qda|triage|terminal|common|__main__)\b)"
DOTTED = re.compile(r"\bworkbench\.(" + _names + r")\b(?![\w/])" + _NEW)
SLASHED = re.compile(r"\bworkbench/(" + _names + r")\.py\b")


def rewrite(text: str) -> str:
    text = DOTTED.sub(lambda m: "workbench." + MOVED[m.group(1)], text)
    text = SLASHED.sub(lambda m: "workbench/" + MOVED[m.group(1)].replace(".", "/") + ".py", text)
    text = text.replace(
        "from workbench import __version__", "from workbench.core.version import __version__"
    )
    for (old, name), new in NAMES.items():
        text = re.sub(
            rf"from workbench\.{re.escape(old)} import {name}\b(?!,)",
            f"from workbench.{new} import {name}",
            text,
        )
    text = text.replace("workbench.ui.detect", "workbench.core.detect")
    text = text.replace("workbench/ui/detect.py", "workbench/core/detect.py")
    return text  # `workbench.cli` (its `main`, `python -m workbench.cli`) keeps its name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="list, change nothing, exit 1 if any")
    ap.add_argument("paths", nargs="*", type=Path)
    args = ap.parse_args()
    paths = args.paths or [
        Path(p)
        for p in subprocess.run(
            ["git", "ls-files"], capture_output=True, text=True, check=True
        ).stdout.split()
    ]
    changed = []
    for p in paths:
        if not p.is_file() or not (p.suffix in EXTS or p.name == "Makefile"):
            continue
        if p.name == Path(__file__).name:
            continue
        text = p.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            changed.append(str(p))
            if not args.check:
                p.write_text(new, encoding="utf-8")
    for c in changed:
        print(c)
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
