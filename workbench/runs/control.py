"""Steering and run control: steer / pause / resume / cancel, from code, a widget or a file.

`RunControl` is the thread-safe handle a person (or a widget, or a batch steering file)
uses while a run executes on its own event loop, possibly in another thread:

- `steer(text)` records a message (persisted to `steering.jsonl` with when it arrived);
  it is applied at the next checkpoint: before each planning step and before each task
  starts. Tasks already started keep the instructions they started with. Where and when
  a message first took effect is recorded (`{"type": "applied", ...}`), and every task
  result lists the steering messages it saw.
- `pause()` stops new tasks from starting (running ones finish); `resume()` continues.
- `cancel()` stops the run at the next checkpoint; finished results are kept.
- `approve_plan(plan)` answers the plan-approval checkpoint (autonomy `review-plan`).

A steering file (batch): each new line is a message; `/pause`, `/resume` and `/cancel`
lines are commands. Files are read at checkpoints (at most every `poll_s`): the one
given (`steering_file`, `--steer-file`) and the run's own inbox `<run>/steering.inbox`
(what `workbench steer <run-dir> "..."` appends to).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import RunError, UserError
from workbench.runs.store import now_iso

if TYPE_CHECKING:
    from workbench.runs.store import RunStore


INBOX = "steering.inbox"


class RunCancelledError(RunError):
    """The run was cancelled by a person; finished results are kept for a resume."""


@dataclass
class SteerMessage:
    id: str
    text: str
    received_at: str
    source: str = "code"  # code | widget | file
    applied_at: str | None = None
    applied_where: str | None = None


@dataclass
class _State:
    messages: list[SteerMessage] = field(default_factory=list)
    paused: bool = False
    cancelled: str | None = None
    plan_decision: Any = None
    plan_decided: bool = False


class RunControl:
    """Thread-safe control of one run; see the module docstring."""

    def __init__(self, *, steering_file: str | Path | None = None, poll_s: float = 0.1) -> None:
        self._lock = threading.RLock()
        self._s = _State()
        self._store: RunStore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        # steering files and how far each has been read
        self._files: dict[str, int] = {str(Path(steering_file)): 0} if steering_file else {}
        self._poll_s = poll_s
        self._next_poll = 0.0
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.review: Any = None  # the run's ReviewQueue once it exists (for widgets)
        # True when a person can answer (a RunHandle in a notebook): only then does the
        # run wait for plan approval or review decisions; otherwise the policy decides
        self.interactive = False

    # -- wiring (called by the run) --------------------------------------------------------
    def attach(self, store: RunStore) -> None:
        """Bind to a run directory: reload earlier messages (resume), persist pending ones."""
        with self._lock:
            self._store = store
            earlier: dict[str, SteerMessage] = {}
            for rec in store.read_jsonl("steering.jsonl"):
                if rec.get("type") == "message":
                    earlier[rec["id"]] = SteerMessage(
                        rec["id"], rec["text"], rec["received_at"], rec.get("source", "code")
                    )
                elif rec.get("type") == "applied" and rec.get("id") in earlier:
                    m = earlier[rec["id"]]
                    m.applied_at, m.applied_where = rec.get("at"), rec.get("where")
                elif rec.get("type") == "file_offset" and rec.get("file"):
                    self._files[str(rec["file"])] = int(rec.get("offset", 0))
            self._files.setdefault(str(store.dir / INBOX), 0)
            pending = [m for m in self._s.messages if m.id not in earlier]
            self._s.messages = list(earlier.values())
            for m in pending:
                self._add(m)

    def bind_loop(self) -> None:
        """Called on the run's event loop so other threads can wake it."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()

    def _notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            # the loop may close between the check and the call
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        for fn in list(self.listeners):
            fn(kind, data)

    def _add(self, m: SteerMessage) -> None:
        self._s.messages.append(m)
        if self._store is not None:
            self._store.append_jsonl(
                "steering.jsonl",
                {
                    "type": "message",
                    "id": m.id,
                    "text": m.text,
                    "received_at": m.received_at,
                    "source": m.source,
                },
            )

    # -- the person's side ---------------------------------------------------------------
    def steer(self, text: str, *, source: str = "code") -> SteerMessage:
        text = (text or "").strip()
        if not text:
            raise UserError("a steering message is empty; say what the run should do differently")
        with self._lock:
            m = SteerMessage(f"s{len(self._s.messages) + 1}", text, now_iso(), source)
            self._add(m)
        self._emit("steer", {"id": m.id, "text": text, "source": source})
        self._notify()
        return m

    def pause(self) -> None:
        with self._lock:
            self._s.paused = True
            self._record({"type": "pause"})
        self._emit("pause", {})

    def resume(self) -> None:
        with self._lock:
            self._s.paused = False
            self._record({"type": "resume"})
        self._emit("resume", {})
        self._notify()

    def cancel(self, reason: str = "cancelled by the user") -> None:
        with self._lock:
            self._s.cancelled = reason
            self._record({"type": "cancel", "reason": reason})
        self._emit("cancel", {"reason": reason})
        self._notify()

    def approve_plan(self, plan: Any = None) -> None:
        """Approve the proposed plan, or give an edited one in its place."""
        with self._lock:
            self._s.plan_decision, self._s.plan_decided = plan, True
        self._notify()

    @property
    def paused(self) -> bool:
        return self._s.paused

    @property
    def cancelled(self) -> bool:
        return self._s.cancelled is not None

    @property
    def messages(self) -> list[SteerMessage]:
        with self._lock:
            return list(self._s.messages)

    def _record(self, rec: dict[str, Any]) -> None:
        if self._store is not None:
            self._store.append_jsonl("steering.jsonl", {**rec, "at": now_iso()})

    # -- the run's side --------------------------------------------------------------------
    def _poll_file(self) -> None:
        if not self._files:
            return
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self._poll_s
        for name in list(self._files):
            self._read_file(name)

    def _read_file(self, name: str) -> None:
        pos = self._files[name]
        try:
            size = os.path.getsize(name)
        except OSError:
            return
        if size <= pos:
            return
        with open(name, "rb") as f:
            f.seek(pos)
            chunk = f.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return  # a line still being written
        self._files[name] = pos + end + 1
        self._record({"type": "file_offset", "file": name, "offset": self._files[name]})
        for line in chunk[:end].decode("utf-8", errors="replace").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line == "/pause":
                self.pause()
            elif line == "/resume":
                self.resume()
            elif line.startswith("/cancel"):
                self.cancel(line[len("/cancel") :].strip() or "cancelled from the steering file")
            else:
                self.steer(line, source="file")

    def check(self) -> None:
        """Raise if cancelled (cheap; for places that cannot wait)."""
        self._poll_file()
        if self._s.cancelled is not None:
            raise RunCancelledError(self._s.cancelled)

    async def checkpoint(self, where: str) -> list[SteerMessage]:
        """Wait while paused, raise if cancelled, apply steering; return the messages in force."""
        self._poll_file()
        while self._s.paused and self._s.cancelled is None:
            if self._wake is None:
                self.bind_loop()
            assert self._wake is not None
            self._wake.clear()
            if self._s.paused and self._s.cancelled is None:
                if self._files:  # a /resume may come from a file: look at it again soon
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=max(self._poll_s, 0.05))
                else:
                    await self._wake.wait()
            self._poll_file()
        if self._s.cancelled is not None:
            raise RunCancelledError(self._s.cancelled)
        with self._lock:
            msgs = list(self._s.messages)
            fresh = [m for m in msgs if m.applied_at is None]
            for m in fresh:
                m.applied_at, m.applied_where = now_iso(), where
                self._record({"type": "applied", "id": m.id, "where": where})
        for m in fresh:
            self._emit("steer_applied", {"id": m.id, "text": m.text, "where": where})
        return msgs

    async def wait_plan_approval(self) -> Any:
        """Block until `approve_plan` (or cancel); return the edited plan or None."""
        while not self._s.plan_decided and self._s.cancelled is None:
            if self._wake is None:
                self.bind_loop()
            assert self._wake is not None
            self._wake.clear()
            if not self._s.plan_decided and self._s.cancelled is None:
                await self._wake.wait()
        if self._s.cancelled is not None:
            raise RunCancelledError(self._s.cancelled)
        return self._s.plan_decision

    async def wait_until(self, ready: Callable[[], bool]) -> None:
        """Block until `ready()` is true; woken by any control action (e.g. a review)."""
        while not ready() and self._s.cancelled is None:
            if self._wake is None:
                self.bind_loop()
            assert self._wake is not None
            self._wake.clear()
            if not ready() and self._s.cancelled is None:
                await self._wake.wait()
        if self._s.cancelled is not None:
            raise RunCancelledError(self._s.cancelled)

    def wake(self) -> None:
        self._notify()
