"""The answer analyst on transcripts the tests write, with the real MiniLM embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.loaders import load_corpus
from retrieval.recurring import annotate_recurring
from retrieval.roles import annotate_roles
from retrieval.types import Document, Hit
from subagents.offline.analyst import ExtractiveAnalyst, answer_passages, sub_queries


class NoSearch:
    def search(self, query: str, *, k: int, doc_ids: list[str]) -> list[Hit]:
        return []


@pytest.fixture(scope="module")
def analyst():  # type: ignore[no-untyped-def]
    from retrieval import Embedder

    return ExtractiveAnalyst(NoSearch(), Embedder())


QUESTION = "What problems do engineers have with monitoring their machine learning models?"


def _docs(tmp_path: Path, texts: dict[str, list[str]]) -> list[Document]:
    for name, lines in texts.items():
        (tmp_path / f"{name}.txt").write_text("\n\n".join(lines), encoding="utf-8")
    docs = load_corpus(tmp_path).documents
    annotate_roles(docs)
    annotate_recurring(docs)
    return sorted(docs, key=lambda d: d.id)


GUIDE = "What problems do you have with monitoring your machine learning models?"


def _interview(extra: list[str]) -> list[str]:
    return [
        "Interviewer: Thanks for taking the time today. Can you hear me?",
        "Interviewee: Yes, I can hear you fine.",
        f"Interviewer: {GUIDE}",
        *extra,
        "Interviewer: Is there anything else you want to add?",
        "Interviewee: No, I think that covers it.",
    ]


def test_findings_are_participants_answers_with_the_prompt_as_context(
    tmp_path: Path, analyst
) -> None:  # type: ignore[no-untyped-def]
    docs = _docs(
        tmp_path,
        {
            "a": _interview(
                [
                    "Interviewee: Data drift is the big one. The input distribution changes after a release and nobody notices for weeks.",
                    "Interviewer: How do you notice it in the end?",
                    "Interviewee: Usually a customer complains that the predictions look wrong, which is far too late.",
                ]
            ),
            "b": _interview(
                [
                    "Interviewee: Our labels arrive months later, so we cannot compute accuracy on live traffic at all.",
                ]
            ),
            "c": _interview(
                ["Interviewee: We mostly talked about the office move and the new coffee machine."]
            ),
        },
    )
    by_doc = {d.id: analyst.analyze(d, QUESTION, task_key=d.id) for d in docs}
    for doc_id, findings in by_doc.items():
        doc = next(d for d in docs if d.id == doc_id)
        for f in findings:
            ev = f.evidence[0]
            assert ev.role == "participant" and ev.speaker == "Interviewee"
            assert doc.text[ev.start_char : ev.end_char] == ev.quote
            assert not ev.quote.rstrip().endswith("?")
            assert f.context is not None and f.context.role == "interviewer"
            assert doc.text[f.context.start_char : f.context.end_char] == f.context.quote
    quotes_a = " ".join(f.evidence[0].quote for f in by_doc["a"])
    assert "Data drift" in quotes_a and "customer complains" in quotes_a
    follow_up = next(f for f in by_doc["a"] if "customer" in f.evidence[0].quote)
    assert (
        follow_up.context is not None
        and follow_up.context.quote == "How do you notice it in the end?"
    )
    # the guide question asked in every interview opens the section both answers are in
    for f in by_doc["a"] + by_doc["b"]:
        assert f.section is not None and f.section.quote == GUIDE
    assert len(by_doc["b"]) == 1
    assert by_doc["c"] == []  # says nothing about the question: no findings, not a quota


def test_guide_text_read_in_every_interview_is_not_evidence(tmp_path: Path, analyst) -> None:  # type: ignore[no-untyped-def]
    # no speaker labels: roles cannot be told apart, so recurring text and questions go
    intro = "This study is about monitoring machine learning models in production systems."
    answers = [
        "Monitoring is hard for us because alerts fire on every small shift and people ignore them.",
        "Our dashboards show latency but nothing about whether the predictions are still right.",
        "We only find out a model degraded when the business metric drops a month later.",
        "Nobody owns the monitoring once the data scientist who trained the model moves on.",
    ]
    docs = _docs(tmp_path, {f"u{i}": [intro, a] for i, a in enumerate(answers)})
    for d in docs:
        quotes = [f.evidence[0].quote for f in analyst.analyze(d, QUESTION, task_key=d.id)]
        assert quotes and all(intro not in q for q in quotes)


def test_two_part_questions_keep_their_short_clause() -> None:
    qs = sub_queries("What do the teams want from the new remote control, and what worries them?")
    assert any(q.startswith("what worries them about") and "remote" in q for q in qs), qs


def test_long_answers_are_split_into_passages_of_complete_sentences(tmp_path: Path) -> None:
    long_answer = " ".join(
        f"Sentence number {i} talks about alert fatigue in detail." for i in range(12)
    )
    docs = _docs(tmp_path, {"l": _interview([f"Interviewee: {long_answer}"])})
    passages = [p for p in answer_passages(docs[0], 200) if "alert" in p.text]
    assert len(passages) >= 3
    for p in passages:
        assert p.text.endswith(".") and len(p.text) <= 200


def test_a_sentence_split_over_subtitle_cues_is_one_finding(tmp_path: Path, analyst) -> None:  # type: ignore[no-untyped-def]
    cues = [
        "WEBVTT",
        "",
        "00:00:01.000 --> 00:00:03.000",
        "<v Ann>Monitoring our models is hard because the alerts",
        "",
        "00:00:03.000 --> 00:00:05.000",
        "<v Ann>fire on every small shift and people stop reading them.",
        "",
        "00:00:05.000 --> 00:00:07.000",
        "<v Bob>I see.",
    ]
    (tmp_path / "call.vtt").write_text("\n".join(cues), encoding="utf-8")
    docs = load_corpus(tmp_path).documents
    annotate_roles(docs)
    findings = analyst.analyze(docs[0], QUESTION, task_key="t")
    assert len(findings) == 1
    f = findings[0]
    assert [ev.segment_id for ev in f.evidence] == [docs[0].segments[0].id, docs[0].segments[1].id]
    assert f.claim.startswith("Monitoring our models") and f.claim.endswith("reading them.")
    for ev in f.evidence:
        assert docs[0].text[ev.start_char : ev.end_char] == ev.quote


def test_a_tickets_opening_post_answers_what_the_tickets_report(tmp_path: Path, analyst) -> None:  # type: ignore[no-untyped-def]
    import json

    tickets = [
        {
            "id": str(i),
            "title": title,
            "body": body,
        }
        for i, (title, body) in enumerate(
            [
                ("Editor freezes on save", "Whenever I press save on a large file the window hangs for a minute and then the editor exits without warning."),
                ("Dark theme for the sidebar", "It would be great to have the sidebar follow the dark theme as well, right now it stays bright white at night."),
            ]
        )
    ]  # fmt: skip
    (tmp_path / "tickets.jsonl").write_text("\n".join(json.dumps(t) for t in tickets))
    docs = load_corpus(tmp_path).documents
    assert docs and all(d.kind == "ticket" for d in docs)
    generic = "What problems do users report, and what do they ask for?"
    for d in docs:  # each report answers a question about what the tickets report
        found = analyst.analyze(d, generic, task_key=d.id)
        assert found and found[0].context is not None  # the title, as the prompt
    topic = "What do users say about GPU memory on the training cluster?"
    assert not any(analyst.analyze(d, topic, task_key=d.id) for d in docs)


def test_a_maintainers_reply_on_a_ticket_is_a_prompt_never_a_finding(
    tmp_path: Path, analyst
) -> None:  # type: ignore[no-untyped-def]
    """A maintainer's stock reply is not what users report; the reporter's answer to it is,
    with the maintainer's question as its context."""
    import json

    thread = (
        "[2020-01-02 10:00Z] [MEMBER] maint:\nThanks for the report. Could you tell us which "
        "operating system and version of the editor you are using when the save hangs?\n---\n"
        "[2020-01-03 10:00Z] [NONE] reporter:\nI am on Windows 11 with version 1.8 and the save "
        "hangs for a minute on every large file, then the editor exits without warning."
    )
    ticket = {"id": "1", "title": "Editor freezes on save", "body": "Saving large files hangs the "
              "editor for a minute and then it closes.", "comments_text": thread}  # fmt: skip
    (tmp_path / "tickets.jsonl").write_text(json.dumps(ticket))
    (doc,) = load_corpus(tmp_path).documents
    found = analyst.analyze(doc, "What problems do users report when saving files?", task_key="t")
    assert found
    assert all(e.role != "maintainer" and e.speaker != "maint" for f in found for e in f.evidence)
    answer = [f for f in found if any(e.speaker == "reporter" for e in f.evidence)]
    assert answer and answer[0].context is not None and answer[0].context.speaker == "maint"


def test_a_sentence_that_is_only_a_link_is_not_evidence(tmp_path: Path) -> None:
    import json

    body = (
        "Via https://github.com/acme/plugin/issues/28.\n\n"
        "See [repro](https://example.org/repl?version=0.59.0&shareable=abc).\n\n"
        "The bundle drops the default export when a plugin rewrites the entry module."
    )
    (tmp_path / "t.jsonl").write_text(json.dumps({"id": "1", "title": "Export lost", "body": body}))
    (doc,) = load_corpus(tmp_path).documents
    texts = [p.text for p in answer_passages(doc, 2000)]
    assert any("drops the default export" in t for t in texts)
    assert not any("Via" in t or "repro" in t for t in texts)
