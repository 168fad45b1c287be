"""Fixtures shared by every test folder.

The suite never reaches a model API (ALLOW_MODEL_REQUESTS=0) nor a model hub
(HF_HUB_OFFLINE=1). The data every test needs ships in the repository (`samples/`,
`tests/data/`, `tests/ask/golden/`) or is made by the test. The larger corpora in
`../shared` beside the repository only add optional checks, skipped when it is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ["ALLOW_MODEL_REQUESTS"] = "0"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("ANTHROPIC_API_KEY", None)
os.environ.pop("E2B_API_KEY", None)

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The full corpora and benchmarks beside the repository: optional checks only."""
    path = Path(os.environ.get("WORKBENCH_SHARED", REPO.parent / "shared"))
    if not (path / "corpora").is_dir():
        pytest.skip(
            f"optional check on the full corpora: {path}/corpora is absent (set WORKBENCH_SHARED)"
        )
    return path


@pytest.fixture(scope="session")
def sonnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sonnet 1 read aloud (tests/data/sonnet-audio: text, forced alignment, MP3), plus
    `sonnet001.wav`, decoded from the MP3 here so that the repository ships one recording."""
    from exports.clips import ffmpeg_exe

    folder = tmp_path_factory.mktemp("sonnet") / "sonnet-audio"
    shutil.copytree(DATA / "sonnet-audio", folder)
    mp3, wav = folder / "sonnet001.mp3", folder / "sonnet001.wav"
    decode = ["-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le"]
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(mp3), *decode, str(wav)], check=True)
    return folder


@pytest.fixture(scope="session")
def sample_corpus() -> Path:
    return REPO / "samples" / "ami-meetings"
