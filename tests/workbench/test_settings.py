from pathlib import Path

import pytest

from workbench.errors import UserError
from workbench.settings import Settings


def test_defaults_when_no_config(tmp_path: Path) -> None:
    s = Settings.load(tmp_path / "config.toml")
    assert s.concurrency >= 1 and s.engine is None


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("concurency = 4\n")
    with pytest.raises(UserError, match="concurency"):
        Settings.load(cfg)


def test_wrong_type_and_bad_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[budgets]\nmax_usd = -3\n")
    with pytest.raises(UserError, match=r"budgets\.max_usd"):
        Settings.load(cfg)
    cfg.write_text("engine = [\n")
    with pytest.raises(UserError, match="not valid TOML"):
        Settings.load(cfg)


def test_nested_settings_load(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('engine = "offline"\n[analysis]\nmax_themes = 5\n')
    s = Settings.load(cfg)
    assert s.analysis.max_themes == 5 and s.engine == "offline"


def test_chunk_overlap_must_be_smaller_than_the_window(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("turns_per_chunk = 3\nchunk_overlap = 3\n")
    with pytest.raises(UserError, match=r"chunk_overlap \(3\) must be smaller"):
        Settings.load(cfg)
    cfg.write_text("turns_per_chunk = 6\nchunk_overlap = 2\n")
    s = Settings.load(cfg)
    assert (s.turns_per_chunk, s.chunk_overlap) == (6, 2)
