"""Showing a run: `watch` picks its view (the widget panel, or log lines where no frontend
draws widgets) and keeps one per run; `wait` waits for it without hanging a notebook on
a click that cannot come."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from workbench.core.detect import Mode, display_mode
from workbench.core.errors import UserError
from workbench.core.events import Event
from workbench.ui.live import LogView, RunLike, attach
from workbench.ui.state import PanelState

_VIEWS: dict[int, Any] = {}
_VIEWS_LOCK = threading.Lock()


def watch(handle: RunLike, *, mode: Mode | None = None, display: bool = True) -> Any:
    """Show a run live and return its view: a `RunPanel` (widgets) or a `LogView`.

    Watching the same handle again returns (and re-displays) the same view.
    """
    chosen = mode or display_mode()
    with _VIEWS_LOCK:
        view = _VIEWS.get(id(handle))
        if view is None:
            view = _make_view(handle, chosen)
            _VIEWS[id(handle)] = view
    if display and hasattr(view, "display"):
        view.display()
    return view


def _make_view(handle: RunLike, mode: Mode) -> Any:
    if mode == "widgets":
        from workbench.ui.panel import RunPanel  # imports ipywidgets: only when drawn

        return RunPanel(handle)
    return LogView(handle)


def on_done(handle: RunLike, fn: Callable[[], None]) -> None:
    """Call `fn` once when the run ends (from the run's thread, or now if it has ended)."""
    fired = threading.Event()

    def listener(ev: Event) -> None:
        if ev.kind in ("run_done", "run_failed") and not fired.is_set():
            fired.set()
            fn()

    handle.subscribe(listener)
    if handle.done and not fired.is_set():
        fired.set()
        fn()


def wait(handle: RunLike, *, poll_s: float = 0.2) -> Any:
    """`handle.wait()`, except that it refuses to wait for a click that cannot come.

    While a cell runs, the kernel handles no widget clicks; waiting on a run that needs
    its plan approved (or its review queue decided) from the panel would hang the
    notebook. Where a person is expected to click (widgets), this raises a `UserError`
    that says what to do instead; elsewhere it is `handle.wait()`.
    """

    if display_mode() != "widgets":
        return _wait_plain(handle)
    state = PanelState()
    view = _VIEWS.get(id(handle))
    if view is not None:
        state = view.state
    else:
        attach(state, handle)
    while not handle.done:
        if state.plan_status == "proposed":
            raise UserError(
                "the run is waiting for its plan to be approved: click 'Approve plan' in the "
                "panel (or call run.approve_plan()), then run this cell again"
            )
        queue = getattr(handle, "review", None)
        if (
            queue is not None
            and getattr(queue.settings, "policy", "") == "wait"
            and queue.pending()
        ):
            raise UserError(
                f"the run is waiting for {len(queue.pending())} review decisions: decide them "
                "in the panel's Review tab, then run this cell again"
            )
        try:
            return _wait_plain(handle, timeout=poll_s)
        except TimeoutError:
            continue
    return _wait_plain(handle)


def _wait_plain(handle: RunLike, timeout: float | None = None) -> Any:
    fn = getattr(handle, "wait", None)
    if fn is None:
        raise TypeError(f"{type(handle).__name__} has no wait()")
    return fn(timeout)
