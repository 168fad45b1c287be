from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench.core.errors import UserError
from workbench.core.settings import Settings


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


@dataclass
class _ChartRun:
    """What the chart stage reads from a run's context."""

    store: Any
    corpus: Any
    settings: Settings
    engine_short: str = "Offline engine"
    sandbox: Any = None  # no factory handed in: the settings' backend


def _synthesis(corpus: Any) -> Any:
    from subagents.findings import Synthesis, Theme

    ids = [d.id for d in corpus.documents]
    return Synthesis(
        themes=[
            Theme(id="t1", label="Batteries", summary="s", finding_ids=[], doc_ids=ids[:2],
                  n_documents=2, total_documents=len(ids)),
            Theme(id="t2", label="Price", summary="s", finding_ids=[], doc_ids=ids[:1],
                  n_documents=1, total_documents=len(ids)),
        ]
    )  # fmt: skip


def test_the_sandbox_setting_chooses_where_charts_are_drawn(
    tmp_path: Path, sample_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Settings.sandbox` is read: "local" draws here even with an E2B key in the
    environment, "e2b" without a key says what is missing (before, only the key decided)."""
    from sandboxes import SandboxUnavailableError
    from workbench.outputs.charts import make_charts
    from workbench.runs.corpus import Corpus
    from workbench.runs.store import RunStore

    corpus = Corpus.load(sample_corpus)
    synthesis = _synthesis(corpus)
    monkeypatch.setenv("E2B_API_KEY", "e2b_not_a_real_key")  # "auto" would pick E2B
    local = _ChartRun(RunStore.create(tmp_path, "local"), corpus, Settings(sandbox="local"))
    charts = make_charts(local, [], synthesis)  # type: ignore[arg-type]
    assert charts and all((local.store.dir / c.png_path).stat().st_size > 1000 for c in charts)

    monkeypatch.delenv("E2B_API_KEY")
    e2b = _ChartRun(RunStore.create(tmp_path, "e2b"), corpus, Settings(sandbox="e2b"))
    with pytest.raises(SandboxUnavailableError, match="E2B_API_KEY"):
        make_charts(e2b, [], synthesis)  # type: ignore[arg-type]


def test_the_limit_per_corpus_file_is_a_setting_and_an_option(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from workbench.cli import main
    from workbench.project import Project

    corpus = tmp_path / "tickets"
    corpus.mkdir()
    (corpus / "big.csv").write_text("title,body\n" + "Slow,page takes long to load\n" * 100)
    (corpus / "small.csv").write_text("title,body\nCrash,on start\n")
    assert len(Project(tmp_path / "default").corpus(corpus).documents) == 2
    (tmp_path / "p" / ".workbench").mkdir(parents=True)
    (tmp_path / "p" / ".workbench" / "config.toml").write_text("max_file_mib = 0.001\n")
    loaded = Project(tmp_path / "p").corpus(corpus)
    assert [d.id for d in loaded.documents] == ["small/1"]
    (skip,) = loaded.skipped
    assert skip.path == "big.csv" and "over the 1.0 KiB limit per file" in skip.reason
    assert "raise max_file_mib in .workbench/config.toml (or --max-file-mib)" in skip.reason
    (corpus / "small.csv").unlink()
    r = CliRunner().invoke(
        main, ["analyze", str(corpus), "-q", "What breaks?", "--project", str(tmp_path / "q"),
               "--max-file-mib", "0.001"],
    )  # fmt: skip
    assert r.exit_code == 2 and "max_file_mib" in r.output
