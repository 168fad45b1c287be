"""A model-engine run in its own process (for the kill -9 test): logs each analyst call.

python -m tests.orchestrator.model_script PROJECT CORPUS CALL_LOG new|resume
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from workbench.settings import ModelSettings, Settings

from .conftest import QUESTION
from .modelish import ModelLike, function_model

SETTINGS = Settings(concurrency=1, models=ModelSettings(cache=False, synthetic_queries=False))


def make_model(log: Path | None = None, delay_s: float = 0.0) -> object:
    responder = ModelLike()

    def on_analyst(n: int) -> None:
        if log is not None:
            m = re.search(r"Documents to analyse[^:]*: (\S+) \(", responder.analyst_prompts[-1])
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{m.group(1) if m else '?'}\n")

    responder.on_analyst = on_analyst
    return function_model(responder, delay_s=delay_s)


def main() -> None:
    import workbench as wb

    project, corpus, log, mode = sys.argv[1:5]
    model = make_model(Path(log), delay_s=0.4)
    wb.Project(project, settings=SETTINGS, model=model).analyze(  # type: ignore[arg-type]
        corpus, QUESTION, engine="model", resume=mode == "resume"
    )


if __name__ == "__main__":
    main()
