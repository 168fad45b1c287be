"""A model-engine run in its own process (for the kill -9 test): logs each analyst call.

python -m tests.orchestrator.model_script PROJECT CORPUS CALL_LOG new|resume [openai]

With `openai`, the run talks to a fake OpenAI-compatible server (started in this
process) through the real `OpenAICompatibleModel`; otherwise to a `FunctionModel`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from workbench.core.settings import ModelSettings, Settings

from .conftest import QUESTION
from .modelish import ModelLike, function_model

SETTINGS = Settings(concurrency=1, models=ModelSettings(cache=False, synthetic_queries=False))


OPENAI_TIERS = {"lead": "local-lead", "worker": "local-worker", "fast": "local-fast"}


def make_responder(log: Path | None = None) -> ModelLike:
    responder = ModelLike()

    def on_analyst(n: int) -> None:
        if log is not None:
            m = re.search(r"Documents to analyse[^:]*: (\S+) \(", responder.analyst_prompts[-1])
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{m.group(1) if m else '?'}\n")

    responder.on_analyst = on_analyst
    return responder


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
    if sys.argv[5:] == ["openai"]:
        from subagents.models.openai_compat import OpenAICompatibleModel
        from subagents.testing.fake_openai_server import (
            FakeOpenAIConfig,
            blocks_responder,
            fake_openai_server_in_thread,
        )

        responder = blocks_responder(make_responder(Path(log)))
        with fake_openai_server_in_thread(FakeOpenAIConfig(latency_s=0.4), responder) as server:
            client = OpenAICompatibleModel(base_url=server.base_url, tiers=OPENAI_TIERS)  # type: ignore[arg-type]
            wb.Project(project, settings=SETTINGS, model=client).analyze(
                corpus, QUESTION, engine="model", resume=mode == "resume"
            )
        return
    model = make_model(Path(log), delay_s=0.4)
    wb.Project(project, settings=SETTINGS, model=model).analyze(  # type: ignore[arg-type]
        corpus, QUESTION, engine="model", resume=mode == "resume"
    )


if __name__ == "__main__":
    main()
