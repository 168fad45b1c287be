"""A run: what `Project.analyze` returns, and what a finished run directory reads back as."""

from __future__ import annotations

import html
from functools import cached_property
from pathlib import Path
from typing import Any

from subagents.findings import Finding, Synthesis, Theme
from workbench.core.errors import UserError
from workbench.runs.manifest import RunManifest
from workbench.runs.store import RunStore, read_json_file, run_lock


class Run:
    """A run directory, read lazily: manifest, findings, themes, exports."""

    def __init__(self, run_dir: str | Path) -> None:
        self.store = RunStore(Path(run_dir))
        if not self.store.manifest_path.exists():
            raise UserError(f"{run_dir} is not a run directory (no manifest.json)")

    @property
    def id(self) -> str:
        return self.store.run_id

    @property
    def dir(self) -> Path:
        return self.store.dir

    @property
    def record(self) -> RunManifest:
        """The run's manifest, typed (`runs.manifest.RunManifest`)."""
        return self.store.manifest()

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest as data (`record.as_dict()`)."""
        return self.record.as_dict()

    @property
    def status(self) -> str:
        """The manifest's status; a run whose manifest says "running" but whose lock no
        process holds was stopped without recording it (killed, disk full): "interrupted"."""
        status = self.record.status
        if status == "running" and not run_lock(self.dir.parent.parent, self.id).is_held():
            return "interrupted"
        return status

    @property
    def engine(self) -> str:
        return self.record.engine

    @property
    def question(self) -> str:
        return self.record.question

    @cached_property
    def synthesis(self) -> Synthesis:
        path = self.dir / "themes.json"
        if not path.exists():
            return Synthesis(themes=[])
        data = read_json_file(path)
        data.pop("engine", None)
        data.pop("engine_note", None)
        return Synthesis.model_validate(data)

    @property
    def themes(self) -> list[Theme]:
        return self.synthesis.themes

    @cached_property
    def findings(self) -> list[Finding]:
        """The run's findings after the gates and reviews (all analyst results if unfinished)."""
        final = self.dir / "findings.json"
        if final.exists() and self.status == "complete":
            data = read_json_file(final)
            return sorted((Finding.model_validate(f) for f in data), key=lambda f: (f.doc_id, f.id))
        out: list[Finding] = []
        for key in sorted(self.store.finished_tasks()):
            if key.startswith("analyze-"):
                data = self.store.load_task(key) or {}
                out.extend(Finding.model_validate(f) for f in data.get("findings", []))
        return sorted(out, key=lambda f: (f.doc_id, f.id))

    @property
    def deck_path(self) -> Path:
        return self.dir / "deck.pptx"

    @property
    def report_path(self) -> Path:
        return self.dir / "report.html"

    @property
    def charts(self) -> list[Path]:
        return sorted((self.dir / "charts").glob("*.png"))

    def summary(self) -> dict[str, Any]:
        m = self.record
        return {
            "run_id": self.id,
            "run_dir": str(self.dir),
            "status": self.status,
            "engine": m.engine,
            "engine_note": m.engine_note,
            "recipe": m.recipe,
            "question": m.question,
            "documents": m.documents,
            "skipped": m.skipped,
            "findings": m.findings,
            "themes": [
                {
                    "label": t.label,
                    "n_documents": t.n_documents,
                    "total_documents": t.total_documents,
                    "n_participants": t.n_participants,
                    "description": t.description,
                    "codes": [{"label": c.label, "n_documents": c.n_documents} for c in t.codes],
                }
                for t in self.themes
            ],
            "unassigned_documents": len(self.synthesis.unassigned_doc_ids),
            "speaker_roles": m.speaker_roles,
            "other_language": m.other_language,
            "cost_usd": m.cost_usd,
            "outputs": {k: str(self.dir / v) for k, v in m.outputs.items()},
            "timings_s": m.timings_s,
        }

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r}, engine={self.engine!r}, themes={len(self.themes)})"

    def _repr_html_(self) -> str:
        m = self.record
        rows = "".join(
            f"<tr><td>{html.escape(t.label)}</td><td>{t.n_documents} of {t.total_documents}</td>"
            f"<td>{html.escape(t.summary)}</td></tr>"
            for t in self.themes
        )
        return (
            f"<div><b>Run {html.escape(self.id)}</b> ({html.escape(self.status)}) &mdash; "
            f"<i>{html.escape(m.engine_note)}</i><br>"
            f"Question: {html.escape(self.question)}<br>"
            f"{m.documents} documents, {m.findings} findings, {len(self.themes)} themes"
            f"<table><tr><th>theme</th><th>prevalence</th><th>summary</th></tr>{rows}</table>"
            f"<p>Deck: <code>{html.escape(str(self.deck_path))}</code><br>"
            f"Report: <code>{html.escape(str(self.report_path))}</code></p></div>"
        )
