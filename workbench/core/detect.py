"""Where are we running: a notebook frontend that draws widgets, or something that does not.

`display_mode()` answers one of:

- ``"widgets"``: an IPython kernel with ipywidgets importable, started by a frontend
  that renders widgets: JupyterLab / Notebook (a Jupyter server sets
  ``JPY_SESSION_NAME`` in the kernel's environment), VS Code, or Colab;
- ``"log"``: a kernel nobody watches live (papermill and nbclient, `jupyter execute`),
  or plain Python: progress goes out as log lines on stdout, which papermill keeps in
  the executed notebook;
- ``"text"``: a kernel with a frontend but without ipywidgets installed: log lines
  plus a text summary of the run.

The environment variable ``WORKBENCH_UI`` (``widgets`` / ``log`` / ``text``) overrides
the guess. The guess cannot see a frontend that attaches later to a kernel started
without one; set ``WORKBENCH_UI=widgets`` there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Literal

from workbench.core.errors import UserError

Mode = Literal["widgets", "log", "text"]
MODES: tuple[Mode, ...] = ("widgets", "log", "text")


def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    ip = ipython.get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _frontend_draws_widgets() -> bool:
    if os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID"):
        return True
    if "google.colab" in sys.modules:
        return True
    ipython = sys.modules.get("IPython")
    ip = ipython.get_ipython() if ipython is not None else None
    return ip is not None and "__vsc_ipynb_file__" in getattr(ip, "user_ns", {})


def display_mode() -> Mode:
    """See the module docstring."""
    forced = os.environ.get("WORKBENCH_UI", "").strip().lower()
    if forced:
        if forced not in MODES:
            raise UserError(f"WORKBENCH_UI={forced!r} is not a display mode; use one of {MODES}")
        return forced
    if not _in_kernel() or not _frontend_draws_widgets():
        return "log"
    if importlib.util.find_spec("ipywidgets") is None:
        return "text"
    return "widgets"


def interactive() -> bool:
    """True when a person can click: use it to pick `autonomy="review-plan"` over `"auto"`."""
    return display_mode() == "widgets"
