"""What the CLI prints: every line goes through `say` / `say_json`.

Corpus and model text (questions, labels, quotes, file names) may hold ESC, BEL or
bidirectional overrides; printed raw, they would retitle the terminal, clear it or
reorder what the reader sees. `say` drops them (`exports.text.clean_text`, the same
function every export uses); `say_json` escapes them, so JSON readers get the data
unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import click

from exports.text import CONTROL_CHARS, clean_text


def say(text: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Print for a person, control characters dropped."""
    click.echo(clean_text(text), err=err, nl=nl)


def say_json(obj: Any) -> None:
    """One JSON object on stdout; characters a terminal would obey are \\u-escaped."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    click.echo(CONTROL_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", text))
