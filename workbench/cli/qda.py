"""`workbench export qdpx|codebook` and `workbench eval coding`: the researcher's own tools.

    workbench export qdpx RUN_DIR [--out FILE.qdpx]
    workbench export codebook RUN_DIR [--out codebook.yaml|codebook.csv|codebook.qdc]
    workbench eval coding RUN_DIR CODED.qdpx|codes.json [--min-docs N] [--participants-only]
                          [--json]

Registered by `workbench.cli.app` through `register(main, eval_group)`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from workbench.cli.common import _guard, json_option


def register(main: click.Group, eval_group: click.Group) -> None:

    @main.group(name="export")
    def export_group() -> None:
        """Write a finished run for other tools (REFI-QDA project, codebook)."""

    @export_group.command(name="qdpx")
    @click.argument("run_dir", type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), default=None,
                  help="Where to write the .qdpx (default: RUN_DIR/project.qdpx).")  # fmt: skip
    @_guard
    def export_qdpx(run_dir: Path, out: Path | None) -> None:
        """A REFI-QDA project (NVivo, ATLAS.ti, MAXQDA, QualCoder, ...) of the run: sources,
        themes > codes, and each finding's quote coded at its exact offsets."""
        from workbench.outputs.qda import run_documents, write_qdpx_for_run
        from workbench.runs.run import Run

        run = Run(run_dir)
        path = write_qdpx_for_run(
            run.dir, run.record, run_documents(run), run.findings, run.synthesis, out
        )
        click.echo(str(path))

    @export_group.command(name="codebook")
    @click.argument("run_dir", type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), default=None,
                  help="A .yaml, .csv or REFI-QDA .qdc file (default: RUN_DIR/codebook.yaml).")  # fmt: skip
    @_guard
    def export_codebook(run_dir: Path, out: Path | None) -> None:
        """The run's themes and codes as a codebook; give it to a later run with --codebook."""
        from workbench.core.errors import UserError
        from workbench.outputs.qda import write_run_codebook
        from workbench.runs.run import Run

        run = Run(run_dir)
        path = write_run_codebook(
            run.dir, run.findings, run.synthesis, out or run.dir / "codebook.yaml"
        )
        if path is None:
            raise UserError(f"run {run.id} has no themes to write as a codebook")
        click.echo(str(path))

    @eval_group.command(name="coding")
    @click.argument("run_dir", type=click.Path(path_type=Path))
    @click.argument("coded", type=click.Path(path_type=Path))
    @click.option("--min-docs", type=click.IntRange(1), default=2, show_default=True,
                  help="Codes backed by fewer documents are not counted in code recall.")  # fmt: skip
    @click.option("--participants-only", is_flag=True,
                  help="Leave out findings an interviewer spoke before scoring.")  # fmt: skip
    @json_option()
    @_guard
    def eval_coding(
        run_dir: Path, coded: Path, min_docs: int, participants_only: bool, as_json: bool
    ) -> None:
        """Score a run against a researcher's coding of the same transcripts (a .qdpx from
        their QDA tool, or a codes.json): evidence precision, code recall, purity, and
        precision and recall per top-level code."""
        from workbench.evaluation.coding import evaluate_coding

        result = evaluate_coding(
            run_dir, coded, min_docs=min_docs, participants_only=participants_only
        )
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
            return
        click.echo(f"run {result['run']} against {result['coding']}")
        for key in ("themed_findings", "unlocated_quotes", "coded_segments_located",
                    "evidence_precision", "interviewer_share", "code_recall", "parent_recall",
                    "hm_purity", "prevalence_mae_docs"):  # fmt: skip
            click.echo(f"  {key:<22} {result[key]}")
        click.echo(
            "  per top-level code (precision of the run's selections, recall of the coding's):"
        )
        for code, m in result["per_code"].items():
            p = "-" if m["precision"] is None else f"{m['precision']:.3f}"
            r = "-" if m["recall"] is None else f"{m['recall']:.3f}"
            click.echo(
                f"    {code[:44]:<44} P {p:>5} ({m['selections']:>3} sel.)  R {r:>5} ({m['segments']:>3} seg.)"
            )
