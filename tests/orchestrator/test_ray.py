"""The Ray backend gives the same findings as asyncio, on a local Ray cluster."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.core.settings import Settings

from .conftest import QUESTION


@pytest.fixture
def local_ray() -> Iterator[None]:
    import ray

    from tests.services import RAY_START_TIMEOUTS

    while True:  # bounded by the test's timeout, not by a start-up deadline of ours
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            break
        except Exception as exc:
            ray.shutdown()
            # only Ray's own fixed start-up wait running out (a busy machine) is tried again
            if not any(m.decode() in str(exc) for m in RAY_START_TIMEOUTS):
                raise
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_and_asyncio_give_the_same_findings(
    project_dir: Path, corpus3: Path, tmp_path: Path, local_ray: None
) -> None:
    import workbench as wb
    from workbench.orchestrator.plans import themes_plan
    from workbench.runs.corpus import Corpus

    plan = themes_plan(Corpus.load(corpus3), QUESTION)
    plan.stages = [s for s in plan.stages if s.kind != "charts"]  # charts: not what is compared
    plan.stage("export").depends_on = ["critic"]
    quiet = {"on_event": lambda e: None, "plan": plan}
    other = tmp_path / "ray-project"
    shutil.copytree(project_dir, other)
    local = wb.Project(project_dir, settings=Settings(engine="offline")).analyze(
        corpus3, QUESTION, **quiet
    )
    on_ray = wb.Project(other, settings=Settings(engine="offline", executor="ray")).analyze(
        corpus3, QUESTION, **quiet
    )
    assert on_ray.status == "complete"
    assert on_ray.manifest["settings"]["executor"] == "ray"
    assert on_ray.manifest["tasks"] == {"executed": 3, "reused": 0}
    key = [(f.id, f.doc_id, f.evidence[0].quote) for f in local.findings]
    assert key and [(f.id, f.doc_id, f.evidence[0].quote) for f in on_ray.findings] == key
    assert [t.label for t in on_ray.themes] == [t.label for t in local.themes]
