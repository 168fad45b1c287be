"""`RunPanel`: the live ipywidgets panel of a run.

Top to bottom: the header (run id, status, elapsed), pause / resume / cancel, the plan
with approve and edit (while the run waits for approval), one progress bar per stage
with its counts, tokens and cost against the budget, the steer box with every message
and where it took effect, then tabs: findings streaming into a paged table, the review
queue (accept / reject / edit each finding), the log, and once the run is done its
results: themes, charts, clips (playable where there is media) and the deck's slide
thumbnails.

The run works on its own thread (`Project.start`); the panel never blocks the kernel.
Events only update `PanelState` (cheap, on the run's thread); a refresh thread redraws
what changed at most `refresh_s` apart, so a run emitting thousands of events a second
costs the run almost nothing, and the panel still moves several times a second.
Clicks arrive while the kernel is idle: a cell blocked in `run.wait()` holds them back
until it ends (Jupyter runs one request at a time), so interact before waiting.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as w

from workbench.core.errors import UserError
from workbench.runs.control import RunCancelledError
from workbench.runs.manifest import load_manifest
from workbench.runs.run import Run
from workbench.ui import html as H
from workbench.ui.live import RunLike, TaskTail, attach, sync_review
from workbench.ui.state import PanelState, ReviewRow

PAGE = 100


class _PanelBox(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """The panel's root widget; its text form (papermill, a console) is the run summary."""

    def __init__(self, panel: RunPanel, **kw: Any) -> None:
        super().__init__(**kw)
        self._panel = panel

    def __repr__(self) -> str:
        return self._panel.state.summary_line()


class RunPanel:
    """The live panel of one run; see the module docstring."""

    def __init__(
        self,
        handle: RunLike | None = None,
        *,
        state: PanelState | None = None,
        refresh_s: float = 0.25,
        thumbnails: bool = True,
        start: bool = True,
    ) -> None:
        self.state = state or PanelState()
        self.handle = handle
        self.refresh_s = refresh_s
        self.thumbnails = thumbnails
        self.updates = 0  # refreshes that changed something on screen
        self.page = 0
        self._drawn = -1
        self._tail = TaskTail()
        self._next_tail = 0.0
        self._results_shown = False
        self._caps_read = False
        self._review_widgets: dict[str, w.Widget] = {}
        self._stage_rows: dict[str, tuple[w.HBox, w.IntProgress, w.HTML]] = {}
        self._stage_order: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._build()
        if handle is not None:
            attach(self.state, handle)
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._loop, name="workbench-panel", daemon=True)
            self._thread.start()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        full = w.Layout(width="100%")
        self.w_header = w.HTML()
        self.b_pause = w.Button(description="Pause", icon="pause", tooltip="start no new tasks")
        self.b_resume = w.Button(description="Resume", icon="play", disabled=True)
        self.b_cancel = w.Button(description="Cancel", icon="stop", button_style="danger")
        for b, fn in (
            (self.b_pause, self._pause),
            (self.b_resume, self._resume),
            (self.b_cancel, self._cancel),
        ):
            b.on_click(fn)
        self.w_plan = w.HTML()
        self.w_plan_edit = w.Textarea(layout=w.Layout(width="100%", height="180px"))
        self.w_plan_edit.add_class("wb-plan-edit")
        self.w_plan_error = w.HTML()
        self.b_approve = w.Button(description="Approve plan", button_style="success", icon="check")
        self.b_approve.add_class("wb-approve")
        self.b_approve_edit = w.Button(description="Approve edited plan", icon="edit")
        self.b_approve.on_click(lambda _b: self._approve(edited=False))
        self.b_approve_edit.on_click(lambda _b: self._approve(edited=True))
        self.plan_edit_box = w.Accordion(children=[self.w_plan_edit])
        self.plan_edit_box.set_title(0, "Edit the plan (JSON)")
        self.plan_edit_box.selected_index = None
        self.plan_actions = w.VBox(
            [self.plan_edit_box, w.HBox([self.b_approve, self.b_approve_edit]), self.w_plan_error]
        )
        self.plan_box = w.VBox(
            [self.w_plan, self.plan_actions],
            layout=w.Layout(display="none"),
        )
        self.stage_box = w.VBox()
        self.stage_box.add_class("wb-stages")
        self.w_budget = w.HTML()
        self.w_steer = w.Text(
            placeholder="Steer the run, e.g. 'focus on pricing complaints'", layout=full
        )
        self.w_steer.add_class("wb-steer-input")
        self.b_steer = w.Button(description="Steer", icon="paper-plane")
        self.b_steer.add_class("wb-steer-send")
        self.b_steer.on_click(self._steer)
        self.w_steering = w.HTML()
        self.w_steering.add_class("wb-steering")
        # findings, paged: a bounded DOM however large the run
        self.w_filter = w.Text(placeholder="filter findings", layout=w.Layout(width="260px"))
        self.w_filter.observe(lambda _c: self._redraw_findings(reset=True), names="value")
        self.b_prev = w.Button(description="◀", layout=w.Layout(width="40px"))
        self.b_next = w.Button(description="▶", layout=w.Layout(width="40px"))
        self.b_prev.on_click(lambda _b: self._turn(-1))
        self.b_next.on_click(lambda _b: self._turn(1))
        self.w_findings = w.HTML()
        self.w_findings.add_class("wb-findings")
        findings_tab = w.VBox([w.HBox([self.w_filter, self.b_prev, self.b_next]), self.w_findings])
        self.review_box = w.VBox()
        self.review_box.add_class("wb-review")
        self.w_log = w.HTML()
        self.results_box = w.VBox([w.HTML("<i>Results appear here when the run is done.</i>")])
        self.tabs = w.Tab(children=[findings_tab, self.review_box, self.w_log, self.results_box])
        for i, t in enumerate(("Findings", "Review", "Log", "Results")):
            self.tabs.set_title(i, t)
        self.widget = _PanelBox(
            self,
            children=[
                self.w_header,
                w.HBox([self.b_pause, self.b_resume, self.b_cancel]),
                self.plan_box,
                self.stage_box,
                self.w_budget,
                w.HBox([self.w_steer, self.b_steer]),
                self.w_steering,
                self.tabs,
            ],
        )
        self.widget.add_class("wb-panel-root")

    def display(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]  # IPython's is untyped

    def _ipython_display_(self) -> None:
        self.display()

    def __repr__(self) -> str:
        return self.state.summary_line()

    # -- actions (button callbacks: the kernel's thread) ------------------------------------
    def _need_handle(self) -> RunLike:
        if self.handle is None:
            raise UserError("this panel shows a finished run; start a run to steer it")
        return self.handle

    def _pause(self, _b: Any = None) -> None:
        self._need_handle().pause()
        self.state.set_status("paused")
        self.refresh()

    def _resume(self, _b: Any = None) -> None:
        self._need_handle().resume()
        self.state.set_status("running")
        self.refresh()

    def _cancel(self, _b: Any = None) -> None:
        self._need_handle().cancel("cancelled from the notebook panel")
        self.state.set_status("cancelling")
        self.refresh()

    def _steer(self, _b: Any = None) -> None:
        text = self.w_steer.value.strip()
        if not text:
            return
        handle = self._need_handle()
        before = len(self.state.steering)
        handle.steer(text)
        if len(self.state.steering) == before:  # no control listener told us: record it here
            self.state.add_steer(f"w{before + 1}", text, "widget")
        self.w_steer.value = ""
        self.refresh()

    def _approve(self, *, edited: bool) -> None:
        plan: Any = None
        if edited:
            try:
                plan = json.loads(self.w_plan_edit.value)
            except json.JSONDecodeError as e:
                self.w_plan_error.value = (
                    f"<b style='color:#b91c1c'>Not valid JSON: {H.e(str(e))}</b>"
                )
                return
        self._need_handle().approve_plan(plan)
        self.w_plan_error.value = ""
        if plan is not None:
            self.state.set_plan(plan, approved=True)
        self.state.plan_approved()
        self.refresh()

    def _decide(self, fid: str, decision: str, claim: str | None = None) -> None:
        queue = getattr(self._need_handle(), "review", None)
        if queue is None:
            raise UserError("this run has no review queue")
        if decision == "accept":
            queue.accept(fid, by="widget")
        elif decision == "reject":
            queue.reject(fid, by="widget")
        else:
            queue.edit(fid, claim or "", by="widget")
        self.state.decide(fid, decision, claim)
        self.refresh()

    def _turn(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self._redraw_findings()

    # -- drawing ----------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.refresh()
            handle = self.handle
            if handle is not None and handle.done and not self._results_shown:
                self._finish(handle)
                self.refresh()
                break

    def stop(self) -> None:
        self._stop.set()

    def refresh(self) -> bool:
        """Redraw what changed since the last refresh; True if anything was redrawn."""
        with self._lock:
            st = self.state
            now = time.monotonic()
            if self.handle is not None and now >= self._next_tail:
                self._next_tail = now + max(self.refresh_s, 0.5)
                run_dir = self.handle.run_dir or st.run_dir
                st.add_findings(self._tail.poll(run_dir))
                spent = (self._tail.input_tokens, self._tail.output_tokens)
                if any(spent) and spent != (st.usage.input_tokens, st.usage.output_tokens):
                    st.set_usage(self._tail.usage())
                if run_dir and not self._caps_read:
                    self._read_caps(Path(run_dir))
                sync_review(st, self.handle)
            version = st.version
            changed = st.changed_since(self._drawn)
            running = st.finished is None
            if not changed and not running:
                return False
            self._drawn = version
            self.w_header.value = H.header(st)  # elapsed time moves while running
            if "header" in changed or "plan" in changed:
                self._draw_controls()
            if "plan" in changed:
                self._draw_plan()
            if "stages" in changed:
                self._draw_stages()
            if "budget" in changed or running:
                self._draw_budget()
            if "steering" in changed:
                self.w_steering.value = H.steering_html(list(st.steering.values()))
            if "findings" in changed:
                self._redraw_findings()
            if "review" in changed:
                self._draw_review()
            if "log" in changed:
                self.w_log.value = H.log_html(st.log, last=40)
            self.updates += 1
            return True

    def _read_caps(self, run_dir: Path) -> None:
        """The run's budget caps, from its manifest (written before any task starts)."""
        path = run_dir / "manifest.json"
        if not path.is_file():
            return
        try:
            caps = load_manifest(path).budgets()
        except (OSError, UserError):
            return
        self._caps_read = True
        if caps.max_usd is not None or caps.max_tokens is not None:
            self.state.set_budget(caps.model_dump())

    def _draw_controls(self) -> None:
        st = self.state
        over = st.status in ("done", "failed", "cancelled")
        self.b_pause.disabled = over or st.status == "paused"
        self.b_resume.disabled = over or st.status != "paused"
        self.b_cancel.disabled = over
        self.b_steer.disabled = over

    def _draw_plan(self) -> None:
        st = self.state
        self.w_plan.value = H.plan_html(st.plan, st.plan_status)
        proposed = st.plan_status == "proposed"
        self.plan_box.layout.display = "" if st.plan else "none"
        self.b_approve.disabled = self.b_approve_edit.disabled = not proposed
        if proposed and st.plan and not self.w_plan_edit.value:
            self.w_plan_edit.value = json.dumps(st.plan, indent=2)
        # once decided, the plan stays in view but the approval controls go away
        self.plan_actions.layout.display = "" if proposed else "none"

    def _draw_stages(self) -> None:
        stages = self.state.ordered_stages()
        for sp in stages:
            row = self._stage_rows.get(sp.name)
            if row is None:
                bar = w.IntProgress(min=0, max=1, layout=w.Layout(width="320px"))
                label = w.HTML()
                name = w.HTML(f"<b>{H.e(sp.name)}</b>", layout=w.Layout(width="90px"))
                row = self._stage_rows[sp.name] = (w.HBox([name, bar, label]), bar, label)
            _, bar, label = row
            bar.max = max(sp.total, 1)
            bar.value = sp.done if sp.total else (1 if sp.status == "done" else 0)
            bar.bar_style = {"done": "success", "failed": "danger", "stopped": "warning"}.get(
                sp.status, "info"
            )
            count = f"{sp.done}/{sp.total}" if sp.total else sp.status
            reused = f", {sp.reused} reused" if sp.reused else ""
            label.value = (
                f"<span class='wb-stage' data-stage='{H.e(sp.name)}'>{count}{reused}</span> "
                f"<span class='wb-muted'>{H.e(sp.message[:90])}</span>"
            )
        order = [sp.name for sp in stages]
        if order != self._stage_order:
            self._stage_order = order
            self.stage_box.children = [self._stage_rows[n][0] for n in order]

    def _draw_budget(self) -> None:
        u = self.state.usage
        tokens = f"{u.tokens:,} tokens" + (f" of {u.max_tokens:,}" if u.max_tokens else "")
        cost = f"${u.cost_usd:.4f}" + (f" of ${u.max_usd:g}" if u.max_usd else " (no cap)")
        share = max(
            u.tokens / u.max_tokens if u.max_tokens else 0.0,
            u.cost_usd / u.max_usd if u.max_usd else 0.0,
        )
        bar = (
            f"<div style='background:#e5e7eb;height:6px;width:320px'><div style='height:6px;"
            f"width:{min(share, 1) * 320:.0f}px;background:{'#dc2626' if share > 0.9 else '#2563eb'}'>"
            "</div></div>"
            if share
            else ""
        )
        self.w_budget.value = f"<div class='wb-panel'>Spent: {tokens} · {cost}{bar}</div>"

    def _filtered(self) -> list[Any]:
        rows = self.state.snapshot_findings()
        q = self.w_filter.value.strip().lower()
        if q:
            rows = [r for r in rows if q in f"{r.doc_id} {r.claim} {r.quote}".lower()]
        return rows

    def _redraw_findings(self, reset: bool = False) -> None:
        if reset:
            self.page = 0
        rows = self._filtered()
        last = max(0, (len(rows) - 1) // PAGE)
        self.page = min(self.page, last)
        self.w_findings.value = H.findings_page(
            rows, self.page * PAGE, PAGE, len(self.state.findings)
        )
        self.b_prev.disabled = self.page == 0
        self.b_next.disabled = self.page >= last
        self.tabs.set_title(0, f"Findings ({len(self.state.findings)})")

    def _draw_review(self) -> None:
        rows = list(self.state.review.values())
        for r in rows:
            box = self._review_widgets.get(r.finding_id)
            if box is None:
                box = self._review_widgets[r.finding_id] = self._review_row(r)
            box.children[0].value = H.review_row_html(r)
            for b in box.children[1].children:
                b.disabled = r.decision is not None
        self.review_box.children = [self._review_widgets[r.finding_id] for r in rows] or [
            w.HTML("<i>Nothing to review.</i>")
        ]
        pending = len(self.state.pending_review())
        self.tabs.set_title(1, f"Review ({pending})" if pending else "Review")

    def _review_row(self, r: ReviewRow) -> w.VBox:
        accept = w.Button(description="Accept", button_style="success")
        reject = w.Button(description="Reject", button_style="warning")
        text = w.Text(value=r.claim, layout=w.Layout(width="420px"))
        save = w.Button(description="Save edit")
        fid = r.finding_id
        accept.on_click(lambda _b: self._decide(fid, "accept"))
        reject.on_click(lambda _b: self._decide(fid, "reject"))
        save.on_click(lambda _b: self._decide(fid, "edit", text.value))
        return w.VBox([w.HTML(), w.HBox([accept, reject, text, save])])

    # -- results ----------------------------------------------------------------------------
    def _finish(self, handle: RunLike) -> None:
        self._results_shown = True
        st = self.state
        if st.finished is None:
            err = handle.error
            if err is None:
                st.finish("done")
            else:
                cancelled = isinstance(err, RunCancelledError)
                st.finish("cancelled" if cancelled else "failed", f"{type(err).__name__}: {err}")
        run_dir = handle.run_dir or (Path(st.run_dir) if st.run_dir else None)
        if run_dir is None or not (Path(run_dir) / "manifest.json").exists():
            return

        self.show_results(Run(run_dir))

    def show_results(self, run: Run) -> None:
        """Fill the Results tab from a finished `Run`: themes, charts, clips, deck preview."""
        st = self.state
        st.add_findings(run.findings)
        m = run.record
        st.engine_note = m.engine_note
        if m.tokens is not None:
            st.set_usage({"tokens": m.tokens, "cost_usd": m.cost_usd})
        parts: list[w.Widget] = [w.HTML(H.CSS + "<h4>Themes</h4>" + H.themes_table(run.themes))]
        charts = [
            w.Image(value=p.read_bytes(), format="png", layout=w.Layout(width="420px"))
            for p in run.charts
        ]
        if charts:
            parts += [
                w.HTML("<h4>Charts</h4>"),
                w.HBox(charts, layout=w.Layout(flex_flow="row wrap")),
            ]
        parts.append(w.HTML("<h4>Clips</h4>"))
        parts += self._clips(run)
        deck_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        parts += [w.HTML(f"<h4>Deck</h4><code>{H.e(str(run.deck_path))}</code>"), deck_box]
        self.results_box.children = parts
        self.tabs.set_title(3, "Results ✓")
        if self.thumbnails and run.deck_path.exists():
            threading.Thread(
                target=self._thumbs, args=(run.deck_path, deck_box), daemon=True
            ).start()

    def _clips(self, run: Run) -> list[w.Widget]:
        out: list[w.Widget] = []
        media = sorted((run.dir / "clips").glob("*")) if (run.dir / "clips").is_dir() else []
        for p in media[:12]:
            kind = p.suffix.lower()
            if kind in (".wav", ".mp3", ".m4a", ".ogg", ".opus"):
                out.append(w.HTML(f"<b>{H.e(p.name)}</b>"))
                out.append(w.Audio.from_file(str(p), autoplay=False, loop=False))
            elif kind in (".mp4", ".webm", ".mov"):
                out.append(w.HTML(f"<b>{H.e(p.name)}</b>"))
                out.append(w.Video.from_file(str(p), autoplay=False, loop=False, width=420))
        out.append(w.HTML(H.quote_cards(run.themes, run.findings)))
        return out

    def _thumbs(self, deck: Path, box: w.HBox) -> None:
        from workbench.ui.thumbnails import ThumbnailError, deck_thumbnails

        box.children = [w.HTML("<i>rendering slide thumbnails…</i>")]
        try:
            pngs = deck_thumbnails(deck)
        except (ThumbnailError, OSError) as e:
            box.children = [w.HTML(f"<i>No thumbnails: {H.e(str(e))}</i>")]
            return
        box.children = [
            w.Image(
                value=p.read_bytes(), format="png", layout=w.Layout(width="200px", margin="3px")
            )
            for p in pngs
        ]
