"""The model engine with a codebook: the codebook is in the analyst's task (trusted text),
the analysts' code tags become the themes, no theme-synthesizer call is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core.settings import AnalysisSettings, ModelSettings, Settings

from .conftest import QUESTION
from .modelish import ModelLike, function_model


class Coder(ModelLike):
    """Tags the first finding of each meeting with a code, the others as candidates."""

    def _findings(self, body: dict[str, Any]) -> dict[str, Any]:
        out = super()._findings(body)
        for i, f in enumerate(out["findings"]):
            f["tags"] = ["Remote > Design"] if i == 0 else ["other", "candidate: Budget worries"]
        return out


def test_model_engine_codes_against_the_codebook(project_dir: Path, corpus3: Path, tmp_path: Path) -> None:  # fmt: skip
    import workbench as wb

    book = tmp_path / "book.csv"
    book.write_text(
        "code,description,examples,parent\n"
        "Design,How the remote looks and feels,curved case | big buttons,Remote\n"
        "Cost,Price of the parts,,Remote\n"
        "Schedule,Deadlines of the project,,\n"
    )
    responder = Coder()
    settings = Settings(
        models=ModelSettings(cache=False), analysis=AnalysisSettings(codebook=str(book))
    )
    project = wb.Project(project_dir, settings=settings, model=function_model(responder))
    run = project.analyze(corpus3, QUESTION, engine="model")
    assert run.status == "complete"
    assert "theme-synthesizer" not in responder.calls
    # the codebook is in the analyst's task text, with its descriptions and examples
    for prompt in responder.analyst_prompts:
        assert "Remote > Design: How the remote looks and feels" in prompt
        assert "\u201ccurved case\u201d" in prompt and "Schedule: Deadlines" in prompt
    themes = {t.label: t for t in run.themes}
    assert set(themes) == {"Remote", "Schedule"}
    design = next(c for c in themes["Remote"].codes if c.label == "Design")
    assert design.n_documents == 3 == themes["Remote"].n_documents
    assert themes["Schedule"].n_documents == 0
    assert [c.label for c in run.synthesis.candidate_codes] == ["Budget worries"]
    # the codebook is part of the tasks' identity: a changed codebook re-runs the analysts
    book.write_text("code,description\nDesign,How it looks\n")
    calls = len(responder.analyst_prompts)
    run2 = project.analyze(corpus3, QUESTION, engine="model", resume=False)
    assert len(responder.analyst_prompts) == calls + 3
    assert [t.label for t in run2.themes] == ["Design"]
    assert all("Design: How it looks" in p for p in responder.analyst_prompts[calls:])
