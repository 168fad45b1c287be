"""The offline engine of `ask` on real meetings: cited, verbatim, scoped, honest."""

from __future__ import annotations

import pytest

from subagents.findings import Evidence
from subagents.verify import check_evidence
from workbench.ask.answer import (
    NO_EVIDENCE,
    Answer,
    AnswerSentence,
    Citation,
    Scope,
    verify_answer,
)
from workbench.ask.api import ask
from workbench.ask.offline import OfflineAsker, OfflineAskSettings
from workbench.core.errors import UserError

from .conftest import Indexed

pytestmark = pytest.mark.slow


def _ask(ix: Indexed, q: str, scope: object = None) -> Answer:
    return ask(ix.project, q, corpus=ix.corpus, scope=scope, index=ix.index)  # type: ignore[arg-type]


def test_answer_cites_verbatim_quotes_for_every_sentence(indexed: Indexed) -> None:
    a = _ask(indexed, "What did they say about the remote control's buttons?", ["ES2002a"])
    assert a.found and a.sentences and a.evidence
    numbers = {c.n for c in a.evidence}
    assert numbers == set(range(1, len(a.evidence) + 1))
    docs = indexed.corpus.by_id()
    for s in a.sentences:
        assert s.citations and set(s.citations) <= numbers
    for c in a.evidence:
        ev = Evidence(
            doc_id=c.doc_id, segment_id=c.segment_id, quote=c.quote,
            start_char=c.start_char, end_char=c.end_char,
        )  # fmt: skip
        assert check_evidence(ev, docs) is None
        assert c.doc_id == "ES2002a"
        assert c.speaker
    assert f"[{a.evidence[0].n}]" in a.text
    budget = OfflineAskSettings().max_words
    assert len(a.plain_text.split()) <= budget + 40  # the budget, plus the last quote
    md = a.markdown()
    assert "Evidence:" in md and a.evidence[0].quote in md
    assert "<q>" in a._repr_html_()


def test_scope_by_documents_and_by_metadata(indexed: Indexed) -> None:
    q = "What is the project about and who is in the team?"
    only_is = _ask(indexed, q, "IS1000a")
    assert only_is.found and {c.doc_id for c in only_is.evidence} == {"IS1000a"}
    by_meta = _ask(indexed, q, {"series": "ES2002"})
    assert by_meta.found and {c.doc_id for c in by_meta.evidence} == {"ES2002a"}
    everywhere = _ask(indexed, q)
    assert everywhere.scope == Scope()


def test_no_evidence_says_so_instead_of_inventing(indexed: Indexed) -> None:
    a = _ask(indexed, "What is the boiling point of liquid nitrogen in kelvin?", ["ES2002a"])
    assert not a.found
    assert a.sentences == [] and a.evidence == []
    assert a.text == NO_EVIDENCE.format(where=a.scope.describe())
    assert "no evidence" in a.text


def test_bad_input_is_a_user_error(indexed: Indexed) -> None:
    with pytest.raises(UserError, match="question is empty"):
        _ask(indexed, "   ")
    with pytest.raises(UserError, match="not in the corpus"):
        _ask(indexed, "anything", ["NOPE123"])
    with pytest.raises(UserError, match="unknown engine"):
        ask(indexed.project, "x?", corpus=indexed.corpus, engine="psychic", index=indexed.index)
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        ask(indexed.project, "x?", corpus=indexed.corpus, engine="model", index=indexed.index)


def test_citation_gate_drops_fabricated_quotes(indexed: Indexed) -> None:
    docs = indexed.corpus.by_id()
    seg = docs["ES2002a"].segments[5]
    good = Citation(n=1, doc_id="ES2002a", segment_id=seg.id, quote=seg.text[:10])
    bad = Citation(n=2, doc_id="ES2002a", segment_id=seg.id, quote="words nobody said")
    answer = Answer(
        question="q",
        sentences=[
            AnswerSentence(text="Supported.", citations=[1]),
            AnswerSentence(text="Invented.", citations=[2]),
        ],
        evidence=[good, bad],
    )
    checked = verify_answer(answer, docs)
    assert [s.text for s in checked.sentences] == ["Supported."]
    assert [c.quote for c in checked.evidence] == [seg.text[:10]]
    assert any("not verbatim" in n for n in checked.notes)
    nothing = verify_answer(Answer(question="q", evidence=[bad], sentences=[
        AnswerSentence(text="Invented.", citations=[2])]), docs)  # fmt: skip
    assert not nothing.found and "no evidence" in nothing.text


def test_scope_forms() -> None:
    assert Scope.of(None) == Scope()
    assert Scope.of("a") == Scope(doc_ids=["a"])
    assert Scope.of(["a", "b"]).doc_ids == ["a", "b"]
    assert Scope.of({"speaker:PM": True}).where == {"speaker:PM": True}
    assert Scope.of({"doc_ids": ["a"], "where": {"x": 1}}) == Scope(doc_ids=["a"], where={"x": 1})
    assert "whole corpus" in Scope().describe()


def test_project_ask_delegates_with_scope(indexed: Indexed) -> None:
    answer = indexed.project.ask(
        "What is the remote control project about?", corpus=indexed.corpus, scope="ES2002a"
    )
    assert answer.found and answer.evidence
    assert {e.doc_id for e in answer.evidence} == {"ES2002a"}


def test_run_on_sentences_are_quoted_by_the_clause() -> None:
    from subagents.offline.text import sentence_spans
    from workbench.ask.offline import _clauses

    turn = (
        "So we could, um, do the buttons in rubber, and then the case in plastic, which would "
        "be cheaper for everyone involved here. Yes."
    )
    spans = _clauses(sentence_spans(turn), max_words=8)
    assert [s.text for s in spans] == [
        "we could,",
        "um,",
        "do the buttons in rubber,",
        "and then the case in plastic,",
        "which would be cheaper for everyone involved here.",
        "Yes.",
    ]
    assert all(turn[s.start : s.end] == s.text for s in spans)  # verbatim, offsets kept
    short = sentence_spans("We keep the yellow case. It is cheap.")
    assert _clauses(short, max_words=8) == short


def test_supporting_turns_need_less_similarity_than_the_best_match(indexed: Indexed) -> None:
    question = "What did they decide about the remote's buttons?"
    strict = OfflineAsker(
        indexed.index, indexed.corpus.by_id(), OfflineAskSettings(min_turn_similarity=0.25)
    ).ask(question, Scope(doc_ids=["ES2002a"]))
    loose = OfflineAsker(indexed.index, indexed.corpus.by_id(), OfflineAskSettings()).ask(
        question, Scope(doc_ids=["ES2002a"])
    )
    assert strict.found and loose.found
    assert len(loose.evidence) >= len(strict.evidence)
    # abstention still needs one candidate at min_similarity: a floor of 0 changes nothing there
    nothing = OfflineAsker(
        indexed.index, indexed.corpus.by_id(), OfflineAskSettings(min_turn_similarity=0.0)
    ).ask("quantum chromodynamics lattice gauge", Scope(doc_ids=["ES2002a"]))
    assert not nothing.found and not nothing.evidence
