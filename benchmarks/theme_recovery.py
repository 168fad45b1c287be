"""Themes against a researcher's own coding: the workbench next to BERTopic, same run.

    python benchmarks/theme_recovery.py --json [--coded DIR] [--question Q] [--skip-bertopic]
        [--with-model] [--model-config CONFIG_TOML]

DIR is a coded study: `transcripts/<doc>.txt` plus `codes.json` with the researchers'
coded segments and `interviewer_speakers` (default: ../shared/bench/coded-interviews/
pdpilot, a real study, BSD-3). The workbench analyses the transcripts offline exactly as
`workbench analyze` does (speaker roles detected, not read from codes.json); its run is
scored with the study's own scorer, `../shared/bench/score_themes.py` (its docstring
defines each measure). BERTopic (default settings, the same MiniLM embeddings) runs on
the participant turns, i.e. the turns of every speaker codes.json does not list as an
interviewer: the alternative a user would reach for, given the roles for free.

Prints one JSON object: {"workbench": {...}, "bertopic": {...}, "study": ..., "seconds": ...}
with, for each, interviewer_share, evidence_precision, code_recall, hm_purity,
prevalence_mae_docs, the themes with their labels and prevalence, and the scorer's other
figures. Needs the `bench` extra for BERTopic (`pip install -e .[bench]`).

`--with-model` adds the model engine answered by a scripted model through the fake
Messages API (`model_scripted`: it checks the plumbing, not a model's judgement).
`--model-config` adds the model engine on a real model (`model`): the settings of that
config.toml (`[models]`: Anthropic with ANTHROPIC_API_KEY in the environment, or
`provider = "openai-compatible"` and `base_url` for a local server). That is the figure
a language model's reading of the passages gives; without a key it says how to get one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "bench"
DEFAULT_CODED = SHARED / "coded-interviews" / "pdpilot"
DEFAULT_QUESTION = (
    "How do data scientists use partial dependence and ICE plots, and what do they think "
    "of the PDPilot tool?"
)
KEYS = (
    "interviewer_share",
    "evidence_precision",
    "code_recall",
    "hm_purity",
    "prevalence_mae_docs",
)


def _scorer() -> Any:
    path = SHARED / "score_themes.py"
    if not path.exists():
        raise SystemExit(f"the study's scorer is missing: {path} (the ../shared folder)")
    sys.path.insert(0, str(path.parent))
    import score_themes  # type: ignore[import-not-found]

    return score_themes


def score(run_dir: Path, coded: Path) -> dict[str, Any]:
    scorer = _scorer()
    buf = io.StringIO()
    argv = sys.argv
    sys.argv = ["score_themes.py", str(run_dir), str(coded)]
    try:
        with contextlib.redirect_stdout(buf):
            scorer.main()
    finally:
        sys.argv = argv
    return json.loads(buf.getvalue())


def run_workbench(
    coded: Path, question: str, work: Path, engine: str = "offline", config: Path | None = None
) -> tuple[Path, dict[str, Any]]:
    from workbench.project import Project

    corpus = work / f"transcripts-{engine}{'-real' if config else ''}"
    shutil.copytree(coded / "transcripts", corpus)
    if engine == "offline":
        project = Project(work / "project")
        run = project.analyze(corpus, question, on_event=lambda _e: None)
    elif config is not None:  # a real model, as the config names it
        from workbench.core.settings import Settings

        project = Project(work / "project-real-model", Settings.load(config))
        run = project.analyze(corpus, question, engine="model", on_event=lambda _e: None)
    else:
        run = _model_run(corpus, question, work)
    themes = json.loads((run.dir / "themes.json").read_text())
    summary = {
        "themes": [
            {
                "label": t["label"],
                "n_documents": t["n_documents"],
                "n_participants": t.get("n_participants"),
                "description": t.get("description", ""),
                "codes": [
                    f"{c['label']} ({c['n_documents']} of {t['total_documents']})"
                    for c in t.get("codes", [])
                ],
                "flags": t.get("flags", []),
            }
            for t in themes["themes"]
        ],
        "speaker_roles": {r["doc_id"]: r["interviewers"] for r in themes.get("speaker_roles", [])},
    }
    return run.dir, summary


def _model_run(corpus: Path, question: str, work: Path) -> Any:
    """The model engine through the real AnthropicModel and the fake Messages API, answered
    by the tests' scripted model (role-aware: it quotes [participant] lines and names the
    [interviewer] question as context). Its figures measure the plumbing (roles reach the
    analyst, the gates hold), not a language model's judgement."""
    sys.path.insert(0, str(REPO))
    from subagents.models.anthropic import AnthropicModel
    from tests.orchestrator.modelish import ModelLike
    from tests.orchestrator.servers import fake_server
    from workbench.core.settings import ModelSettings, Settings
    from workbench.project import Project

    with fake_server(ModelLike()) as server:
        model = AnthropicModel(api_key="bench-key", base_url=server.base_url, max_attempts=3)
        project = Project(
            work / "project-model",
            settings=Settings(models=ModelSettings(cache=False)),
            model=model,
        )
        return project.analyze(corpus, question, engine="model", on_event=lambda _e: None)


def run_bertopic(coded: Path, work: Path) -> tuple[Path, dict[str, Any]]:
    try:
        from bertopic import BERTopic
    except ImportError as exc:
        raise SystemExit(
            "BERTopic is not installed: pip install -e .[bench] (or run with --skip-bertopic)"
        ) from exc
    from retrieval import Embedder
    from retrieval.loaders import load_corpus

    gold = json.loads((coded / "codes.json").read_text())
    interviewers = {s.strip().lower() for s in gold.get("interviewer_speakers", [])}
    rows = []
    for doc in load_corpus(coded / "transcripts").documents:
        for seg in doc.segments:
            if seg.text.strip() and (seg.speaker or "").strip().lower() not in interviewers:
                rows.append({"doc_id": doc.id, "quote": seg.text, "speaker": seg.speaker})
    texts = [r["quote"] for r in rows]
    vecs = Embedder().encode(texts)
    model = BERTopic()
    topics, _ = model.fit_transform(texts, embeddings=vecs)
    info = {
        int(t): name
        for t, name in zip(
            model.get_topic_info()["Topic"], model.get_topic_info()["Name"], strict=True
        )
    }
    by_topic: dict[int, set[str]] = {}
    for i, (r, t) in enumerate(zip(rows, topics, strict=True)):
        r["id"] = str(i)
        r["theme_id"] = f"topic-{t}" if t >= 0 else None
        if t >= 0:
            by_topic.setdefault(int(t), set()).add(r["doc_id"])
    run_dir = work / "bertopic-run"
    run_dir.mkdir()
    (run_dir / "findings.json").write_text(json.dumps(rows))
    themes = [
        {"id": f"topic-{t}", "label": info.get(t, str(t)), "n_documents": len(d)}
        for t, d in sorted(by_topic.items())
    ]
    (run_dir / "themes.json").write_text(json.dumps({"themes": themes}))
    return run_dir, {
        "themes": [{"label": t["label"], "n_documents": t["n_documents"]} for t in themes]
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--coded", type=Path, default=DEFAULT_CODED)
    ap.add_argument("--question", default=DEFAULT_QUESTION)
    ap.add_argument("--skip-bertopic", action="store_true")
    ap.add_argument(
        "--with-model",
        action="store_true",
        help="also run the model engine through the fake Messages API (scripted model)",
    )
    ap.add_argument(
        "--model-config",
        type=Path,
        help="also run the model engine on the real model this config.toml's [models] names",
    )
    args = ap.parse_args()
    if args.model_config is not None and not args.model_config.is_file():
        raise SystemExit(f"--model-config: no such file: {args.model_config}")
    if not (args.coded / "codes.json").exists():
        raise SystemExit(f"not a coded study (no codes.json): {args.coded}")
    out: dict[str, Any] = {"study": args.coded.name, "question": args.question}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wb-themes-") as tmp:
        work = Path(tmp)
        run_dir, summary = run_workbench(args.coded, args.question, work)
        scored = score(run_dir, args.coded)
        out["workbench"] = {**{k: scored[k] for k in KEYS}, "scorer": scored, **summary}
        out["seconds"] = {"workbench": round(time.perf_counter() - t0, 1)}
        if args.with_model:
            t2 = time.perf_counter()
            m_dir, m_summary = run_workbench(args.coded, args.question, work, engine="model")
            m = score(m_dir, args.coded)
            out["model_scripted"] = {**{k: m[k] for k in KEYS}, "scorer": m, **m_summary}
            out["seconds"]["model_scripted"] = round(time.perf_counter() - t2, 1)
        if args.model_config is not None:
            t3 = time.perf_counter()
            from workbench.core.errors import UserError

            try:
                r_dir, r_summary = run_workbench(
                    args.coded, args.question, work, engine="model", config=args.model_config
                )
            except UserError as e:
                raise SystemExit(f"--model-config: {e}") from e
            r = score(r_dir, args.coded)
            out["model"] = {**{k: r[k] for k in KEYS}, "scorer": r, **r_summary}
            out["seconds"]["model"] = round(time.perf_counter() - t3, 1)
        if not args.skip_bertopic:
            t1 = time.perf_counter()
            bt_dir, bt_summary = run_bertopic(args.coded, work)
            bt = score(bt_dir, args.coded)
            out["bertopic"] = {**{k: bt[k] for k in KEYS}, "scorer": bt, **bt_summary}
            out["seconds"]["bertopic"] = round(time.perf_counter() - t1, 1)
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
