"""Speaker roles, recurring text and language, on transcripts the tests write."""

from __future__ import annotations

from pathlib import Path

from retrieval.language import annotate_languages
from retrieval.loaders import load_corpus
from retrieval.recurring import annotate_recurring, recurring_threshold
from retrieval.roles import RoleSettings, annotate_roles, detect_roles, named_role, normalise_label
from retrieval.types import Document


def _doc(tmp_path: Path, name: str, lines: list[str]) -> Document:
    path = tmp_path / f"{name}.txt"
    path.write_text("\n\n".join(lines), encoding="utf-8")
    return next(d for d in load_corpus(path).documents)


INTERVIEW = [
    "Dan: Thanks for joining. How do you check your models today?",
    "Participant: We mostly look at feature importance from the gradient boosted trees.",
    "Dan: And what is hard about that?",
    "Participant: The plots are slow to build and I copy them from old notebooks.",
    "Dan: Okay. Which plots do you trust?",
    "Participant: Partial dependence plots, but only for the top features.",
    "Dan: Why only those?",
    "Particpant: Yes.",
    "Participant: Because the rest are noise; the long tail never moves the prediction.",
]


def test_label_variants_name_a_role() -> None:
    assert normalise_label("Interviewer1") == normalise_label("INTERVIEWER 1") == "interviewer 1"
    assert named_role("Interviewer 1") == named_role("moderator") == "interviewer"
    assert named_role("Q") == named_role("I") == "interviewer"
    assert named_role("Interviewee") == named_role("P3") == named_role("A") == "participant"
    assert named_role("Dan") is None and named_role("Project Manager") is None


def test_the_speaker_who_asks_is_the_interviewer_and_misspellings_join(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "p1", INTERVIEW)
    roles = detect_roles(doc)
    assert roles.method == "asks-questions" and roles.confident
    assert roles.interviewers == ["Dan"]
    assert roles.participants == ["Participant"]  # "Particpant" is the same person
    assert roles.role_of("Particpant") == "participant"
    assert "Dan asks questions" in roles.note


def test_named_roles_win_and_settings_override(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "named",
        [
            "Interviewer 1: Tell me about the last outage?",
            "Interviewee: The disk filled up and nobody noticed for a day.",
            "Interviewer 1: What did you change?",
            "Interviewee: We added an alert on free space.",
        ],
    )
    assert detect_roles(doc).interviewers == ["Interviewer 1"]
    assert detect_roles(doc).method == "named"
    # a participant whose label is "Interviewer" (say, a recruiter interviewed about hiring)
    swapped = _doc(
        tmp_path,
        "swapped",
        [
            "Sam: How do you screen candidates?",
            "Interviewer: I read the CV first, then a short call.",
            "Sam: What slows you down?",
            "Interviewer: Scheduling, always scheduling.",
        ],
    )
    roles = detect_roles(swapped, RoleSettings(participants=("interviewer",)))
    assert roles.interviewers == ["Sam"] and roles.role_of("Interviewer") == "participant"
    forced = detect_roles(doc, RoleSettings(interviewers=("interviewee",)))
    assert forced.method == "settings" and forced.interviewers == ["Interviewee"]


def test_meetings_focus_groups_one_speaker_and_unlabelled_turns(tmp_path: Path) -> None:
    meeting = _doc(
        tmp_path,
        "meeting",
        [
            f"{who}: I think the remote should be {adj}."
            for who, adj in zip(
                ["Ann", "Bob", "Cy", "Di"] * 3,
                ["small", "cheap", "bright", "soft"] * 3,
                strict=True,
            )
        ]
        + ["Ann: Shall we vote?", "Bob: Yes, let us vote now."],
    )
    r = detect_roles(meeting)
    assert r.method == "no-interviewer" and r.interviewers == []
    assert len(r.participants) == 4
    many = _doc(
        tmp_path, "fifty", [f"Speaker {i}: I would like a quieter office, {i}." for i in range(50)]
    )
    assert detect_roles(many).interviewers == []
    alone = _doc(
        tmp_path,
        "alone",
        ["Ann: I recorded this note about the launch plan.", "Ann: It slipped a week."],
    )
    assert detect_roles(alone).method == "one-speaker"
    plain = _doc(
        tmp_path,
        "plain",
        ["The launch slipped a week because of testing.", "Nobody owned the plan."],
    )
    plain = plain.model_copy(update={"kind": "conversation"})
    r = detect_roles(plain)
    assert r.method == "unlabelled" and not r.confident and "cannot be told apart" in r.note


def test_roles_are_recorded_on_segments(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "p1", INTERVIEW)
    annotate_roles([doc])
    assert doc.metadata["speaker_roles"]["interviewers"] == ["Dan"]
    assert {s.attrs["role"] for s in doc.segments if s.speaker == "Dan"} == {"interviewer"}
    assert {s.attrs["role"] for s in doc.segments if s.speaker != "Dan"} == {"participant"}


def test_text_many_documents_share_word_for_word_is_recurring(tmp_path: Path) -> None:
    template = (
        "### How often does this bug happen? Every time. ### Website or app: the desktop app."
    )
    docs = [
        _doc(
            tmp_path,
            f"t{i}",
            [f"Reporter: {template} The export of report {i} fails with error {i * 7}."],
        )
        for i in range(4)
    ]
    assert recurring_threshold(4) == 3
    annotate_recurring(docs)
    seg = docs[0].segments[0]
    spans = [seg.text[a:b] for a, b in seg.attrs["recurring"]]
    assert any("How often does this bug happen" in s for s in spans)
    assert not any("export of report" in s for s in spans)
    assert recurring_threshold(1500) == 15  # short sentences: 1% of a large corpus
    assert recurring_threshold(1500, words=8) == 3  # eight words in three documents: a template


def test_a_short_heading_line_many_tickets_share_is_recurring(tmp_path: Path) -> None:
    from retrieval.recurring import find_recurring
    from retrieval.types import Document, Segment

    def ticket(i: int) -> Document:
        text = (
            f"### Current behavior\nThe page goes blank after step {i}, every time.\n"
            f"### Expected\nIt loads. Export {i}\nEmbedder: codespaces"
        )
        seg = Segment(
            id=f"t{i}#0", doc_id=f"t{i}", index=0, text=text, start_char=0, end_char=len(text)
        )
        return Document(
            id=f"t{i}", kind="ticket", title=f"t{i}", source_path=f"t{i}", text=text, segments=[seg]
        )

    docs = [ticket(i) for i in range(5)]
    found = find_recurring(docs)
    text = docs[0].segments[0].text
    spans = [text[a:b].strip() for a, b in found["t0"]["t0#0"]]
    assert "### Current behavior" in spans and "Embedder: codespaces" in spans
    assert "### Expected" in spans
    # a two-word sentence inside a line of other words is not a heading: "It loads." stays
    assert not any("loads" in s or "blank" in s for s in spans)


def test_a_templates_hidden_comment_is_never_evidence_even_in_one_ticket() -> None:
    from retrieval.types import Segment

    text = (
        "<!-- Issues without a minimal reproduction will be closed!\nUse the REPL. -->\n"
        "The build hangs when a plugin returns null. <!-- version? --> Node 20.\n"
        "<!-- an unclosed comment"
    )
    seg = Segment(id="t#0", doc_id="t", index=0, text=text, start_char=0, end_char=len(text))
    doc = Document(id="t", kind="ticket", title="t", source_path="t", text=text, segments=[seg])
    assert annotate_recurring([doc]) == 1
    spans = [text[a:b] for a, b in seg.attrs["recurring"]]
    assert spans == [
        "<!-- Issues without a minimal reproduction will be closed!\nUse the REPL. -->",
        "<!-- version? -->",
        "<!-- an unclosed comment",
    ]
    # what the reporter wrote stays evidence
    assert not any("build hangs" in s or "Node 20" in s for s in spans)


def test_another_language_is_flagged(tmp_path: Path) -> None:
    en = _doc(
        tmp_path,
        "en",
        ["Ann: " + "The remote control should be simpler and have fewer buttons. " * 6],
    )
    de = _doc(
        tmp_path,
        "de",
        ["Ann: " + "Die Fernbedienung sollte einfacher sein und weniger Tasten haben. " * 6],
    )
    log = _doc(
        tmp_path,
        "log",
        ["Ann: " + "0x7ff3a 0x334b1 0x0000 0xdeadbeef 0x1f2e3d " * 10],
    )
    other = annotate_languages([en, de, log])
    assert other == {de.id: "de"}  # a log has no language: analysed, not left out
    assert en.metadata["language"] == "en" and log.metadata["language"] == "zxx"
