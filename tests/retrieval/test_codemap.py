"""The code map: the files that define, re-export and register the names a question mentions."""

from __future__ import annotations

from pathlib import Path

from retrieval import HybridIndex, load_corpus
from retrieval.chunking import chunk_document
from retrieval.codemap import CodeMap, mentions, module_name
from retrieval.docrank import BEFORE_STRUCTURE
from tests.retrieval.conftest import HashingEmbedder, write

# a small package: `shop/__init__.py` re-exports what `shop/_core/pricing.py` defines;
# `shop/cli.py` registers the options; `shop/report.py` only *uses* the names, often
PACKAGE = {
    "src/shop/__init__.py": (
        '"""The shop package."""\n'
        "from shop._core.pricing import PriceRule as PriceRule\n"
        "from shop._core.pricing import apply_discount\n"
        "from .cli import main\n"
    ),
    "src/shop/_core/__init__.py": "",
    "src/shop/_core/pricing.py": (
        '"""Prices."""\n\n\nclass PriceRule:\n    """A rule."""\n\n'
        "    def __init__(self, percent):\n        self.percent = percent\n\n"
        "    def applies_to(self, item):\n        return item.price > 0\n\n\n"
        "def apply_discount(price, rule):\n    return price * (1 - rule.percent / 100)\n"
    ),
    "src/shop/cli.py": (
        "import argparse\n\n\ndef main():\n    parser = argparse.ArgumentParser()\n"
        '    parser.add_argument("--dry-run", action="store_true")\n'
        '    parser.add_argument("--currency", default="EUR")\n    return parser\n'
    ),
    "src/shop/report.py": (
        '"""Reports on discounts: every discount, every price rule, every dry run."""\n'
        "from shop import PriceRule, apply_discount\n\n\n"
        "def discount_report(items, rule: PriceRule):\n"
        "    # apply_discount to every item; a PriceRule applies to each; dry run or not\n"
        "    return [apply_discount(i.price, rule) for i in items if rule.applies_to(i)]\n\n\n"
        "def discount_totals(items, rule: PriceRule):\n"
        "    # the discount totals: apply_discount per item, PriceRule percent, dry run\n"
        "    return sum(apply_discount(i.price, rule) for i in items)\n"
    ),
    "tests/test_pricing.py": (
        "from shop import PriceRule, apply_discount\n\n\n"
        "def test_apply_discount():\n    assert apply_discount(100, PriceRule(10)) == 90\n"
    ),
}


def package(tmp_path: Path) -> Path:
    for rel, text in PACKAGE.items():
        write(tmp_path / "repo" / rel, text or "\n")
    return tmp_path / "repo"


def code_map(root: Path) -> CodeMap:
    docs = load_corpus(root).documents
    return CodeMap({d.id: chunk_document(d) for d in docs})


def test_module_names_come_from_paths() -> None:
    assert module_name("src/shop/_core/pricing.py") == "shop._core.pricing"
    assert module_name("src/shop/__init__.py") == "shop"
    assert module_name("tools/run.py") == "tools.run"


def test_mentions_are_the_code_like_names_of_a_question() -> None:
    q = (
        "Fixed :func:`shop.apply_discount` when ``--dry-run`` is set; see "
        ":ref:`rules <shop.PriceRule>`. PriceRule.applies_to now checks it, e.g. for gifts."
    )
    assert mentions(q) == [
        "shop.apply_discount", "--dry-run", "shop.PriceRule", "PriceRule.applies_to",
    ]  # fmt: skip


def test_names_lead_to_the_file_that_defines_them(tmp_path: Path) -> None:
    cmap = code_map(package(tmp_path))
    core = "src/shop/_core/pricing.py"
    assert cmap.files_for("shop.PriceRule") == {core}  # through the re-export
    assert cmap.files_for("shop.apply_discount()") == {core}
    assert cmap.files_for("PriceRule.applies_to") == {core}
    assert cmap.files_for("PriceRule.percent") == {core}  # an attribute: the class's file
    assert cmap.files_for("--currency") == {"src/shop/cli.py"}  # registered there
    assert cmap.files_for("gc.collect") == set()  # a name from outside the corpus
    assert cmap.files_for("test_apply_discount") == set()  # tests use names, not define them
    ranked = cmap.rank("``shop.PriceRule`` ignored ``--dry-run``")
    assert {d for d, _ in ranked} == {core, "src/shop/cli.py", "src/shop/__init__.py"}
    assert ranked[-1][0] == "src/shop/__init__.py"  # it re-exports the name: some credit
    assert cmap.rank("prices are wrong") == []  # no code named: no opinion


def test_the_defining_file_ranks_above_the_file_that_uses_the_names(tmp_path: Path) -> None:
    root = package(tmp_path)
    index = HybridIndex(tmp_path / "index", HashingEmbedder())
    index.update(load_corpus(root).documents)
    query = "The discount of :class:`shop.PriceRule` is applied twice in a dry run."
    before = [h.doc_id for h in index.rank_documents(query, options=BEFORE_STRUCTURE)]
    after = index.rank_documents(query)
    assert before[0] == "src/shop/report.py"  # the words are all over the file that uses it
    assert after[0].doc_id == "src/shop/_core/pricing.py"
    assert after[0].ranks["structure"] == 1
    only = index.rank_documents(query, retrievers=("structure",))
    assert only[0].doc_id == "src/shop/_core/pricing.py"
