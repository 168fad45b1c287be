"""The gates between the analyst stages and synthesis: what an analyst returned is kept
only when it passes them, and the run says what each dropped.

- schema: every finding validates as `subagents.findings.Finding`;
- quotes: every quote is verbatim in its segment, and no evidence is an interviewer's
  prompt (`subagents.verify`);
- claims (model engine only): the quotes carry the claim (`unsupported_claims`);
- coverage: at least `settings.min_coverage` of the documents were analysed, else the
  run stops with a RunError (run again to retry the failed tasks).

The figures go into the manifest (`quote_check`, `gates`) through the one writer.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from subagents.findings import Finding
from subagents.verify import check_findings, interviewer_evidence, unsupported_claims
from workbench.core.errors import RunError
from workbench.core.events import Event
from workbench.orchestrator.plans import Stage
from workbench.runs.context import RunContext


def gate(
    ctx: RunContext,
    stage: Stage,
    results: list[dict[str, Any]],
    total: int,
    *,
    record: bool = True,
) -> list[Finding]:
    """Schema, verbatim quotes, claims and coverage; what fails is dropped and said.

    `record=False` (a replan's partial re-run) checks without overwriting the run's
    gate figures in the manifest.
    """
    findings: list[Finding] = []
    bad_schema = 0
    for r in results:
        for raw in r.get("findings", []):
            try:
                findings.append(Finding.model_validate(raw))
            except ValidationError:
                bad_schema += 1
    if bad_schema:
        ctx.emit(Event("warning", "gate", f"{bad_schema} findings did not match the schema"))
    problems = check_findings(findings, ctx.corpus.by_id())
    problems += interviewer_evidence(findings)
    if problems:
        bad = {p.finding_id for p in problems}
        findings = [f for f in findings if f.id not in bad]
        for p in problems:
            ctx.emit(
                Event(
                    "warning", "gate", f"dropped finding {p.finding_id} in {p.doc_id}: {p.problem}"
                )
            )
    quoted = len(findings) + len(problems)  # findings the quote check saw
    unsupported = _drop_unsupported(ctx, findings)
    covered = {d for r in results for d in r.get("doc_ids", [])}
    coverage = len(covered) / total if total else 1.0
    checked = "verbatim, claims supported" if ctx.runner.uses_model else "verbatim"
    ctx.emit(Event("stage_done", "gate", f"{len(findings)} findings, all quotes {checked}"))
    if record:
        ctx.store.update_manifest(
            quote_check={"checked": quoted, "failed": len(problems)},
            gates={
                "schema": {"failed": bad_schema},
                "quotes": {"checked": quoted, "failed": len(problems)},
                "coverage": {"documents": len(covered), "of": total, "share": round(coverage, 3)},
                "claims": {"checked": len(findings) + len(unsupported), "failed": len(unsupported)},
            },
        )
    if coverage < ctx.settings.min_coverage:
        raise RunError(
            f"coverage gate: only {len(covered)} of {total} documents were analysed "
            f"(min_coverage={ctx.settings.min_coverage}); run again to retry the failed tasks",
            run_id=ctx.store.run_id,
            stage=stage.id,
        )
    return findings


def _drop_unsupported(ctx: RunContext, findings: list[Finding]) -> list[Any]:
    """Model findings whose claim their quotes do not carry are dropped (prompt injection
    through names, or a claim drifting from its evidence); the offline engine's claims
    are built from their quotes."""
    if not ctx.runner.uses_model:
        return []
    problems = unsupported_claims(findings, embedder=ctx.embedder)
    bad = {p.finding_id for p in problems}
    findings[:] = [f for f in findings if f.id not in bad]
    for p in problems:
        ctx.emit(
            Event("warning", "gate", f"dropped finding {p.finding_id} in {p.doc_id}: {p.problem}")
        )
    return problems
