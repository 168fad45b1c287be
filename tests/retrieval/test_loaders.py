from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import UserInputError, load_corpus
from retrieval.types import Document
from tests.retrieval.conftest import SAMPLES, write


def assert_exact(doc: Document) -> None:
    for seg in doc.segments:
        assert doc.text[seg.start_char : seg.end_char] == seg.text


def test_ami_meeting_json_keeps_turns_speakers_and_metadata() -> None:
    report = load_corpus(SAMPLES)
    doc = next(d for d in report.documents if d.id == "ES2002a")
    raw = json.loads((SAMPLES / "ES2002a.json").read_text())["meeting_transcripts"]
    assert doc.kind == "conversation" and doc.title == "ES2002a"
    assert len(doc.segments) == len(raw)
    assert [s.speaker for s in doc.segments[:3]] == [t["speaker"] for t in raw[:3]]
    assert doc.segments[5].text == raw[5]["content"].strip()
    assert doc.metadata["series"] == "ES2002" and doc.metadata["meeting_part"] == "a"
    assert_exact(doc)


def test_text_transcript_with_timestamps(tmp_path: Path) -> None:
    write(
        tmp_path / "interview.txt",
        "[00:00:05] Interviewer: How do you export reports?\n"
        "[00:01:10] Dana: Mostly CSV, and it keeps\nbreaking on large files.\n"
        "[00:02:00] Interviewer: Thanks.\n",
    )
    doc = load_corpus(tmp_path).documents[0]
    assert doc.id == "interview" and doc.kind == "conversation"
    assert [s.speaker for s in doc.segments] == ["Interviewer", "Dana", "Interviewer"]
    assert doc.segments[1].text == "Mostly CSV, and it keeps breaking on large files."
    assert doc.segments[1].start_time == 70.0 and doc.segments[1].end_time == 120.0
    assert_exact(doc)


def test_webvtt_voice_tags_and_srt(tmp_path: Path) -> None:
    write(
        tmp_path / "call.vtt",
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\n<v Sam>Hello there\n\n"
        "2\n00:00:02.500 --> 00:00:04.000\n<v Lee>Hi <b>Sam</b>\n",
    )
    write(tmp_path / "call.wav", b"RIFF")
    write(
        tmp_path / "talk.srt",
        "1\n00:00:01,000 --> 00:00:03,000\nAna: first line\n\n2\n00:00:03,000 --> 00:00:05,500\nsecond line\n",
    )
    docs = {d.id: d for d in load_corpus(tmp_path).documents}
    vtt = docs["call"]
    assert [(s.speaker, s.text, s.start_time, s.end_time) for s in vtt.segments] == [
        ("Sam", "Hello there", 0.0, 2.5),
        ("Lee", "Hi Sam", 2.5, 4.0),
    ]
    assert vtt.media_path == "call.wav"
    srt = docs["talk"]
    assert srt.segments[0].speaker == "Ana" and srt.segments[1].end_time == 5.5
    assert_exact(vtt)
    assert_exact(srt)


def test_json_turns_with_field_map(tmp_path: Path) -> None:
    write(
        tmp_path / "chat.json",
        json.dumps({"msgs": [{"who": "A", "said": "one", "t": 1.5}, {"who": "B", "said": "two"}]}),
    )
    doc = load_corpus(
        tmp_path, field_map={"turns": "msgs", "speaker": "who", "text": "said", "start": "t"}
    ).documents[0]
    assert [(s.speaker, s.text, s.start_time) for s in doc.segments] == [
        ("A", "one", 1.5),
        ("B", "two", None),
    ]


def test_tickets_csv_and_jsonl_with_comments_and_metadata(tmp_path: Path) -> None:
    write(
        tmp_path / "tickets.csv",
        "id,title,description,plan,priority\n"
        '1,Export fails,"CSV export, times out",pro,high\n'
        "2,Login loop,Redirects forever,free,low\n",
    )
    write(
        tmp_path / "issues.jsonl",
        json.dumps({"number": 7, "title": "Crash", "body": "It crashes", "labels": [{"name": "bug"}],
                    "comments": [{"author": {"username": "kim"}, "body": "Same here"}]}) + "\n",
    )  # fmt: skip
    docs = {d.id: d for d in load_corpus(tmp_path).documents}
    t1 = docs["tickets/1"]
    assert t1.kind == "ticket" and t1.metadata["plan"] == "pro"
    assert [s.attrs["field"] for s in t1.segments] == ["title", "body"]
    assert (
        t1.segments[1].text == "CSV export, times out"
        and t1.segments[1].attrs["priority"] == "high"
    )
    issue = docs["issues/7"]
    assert issue.metadata["labels"] == "bug"
    assert issue.segments[-1].speaker == "kim" and issue.segments[-1].attrs["field"] == "comment"
    assert_exact(t1)
    assert_exact(issue)


def test_maintainers_and_bots_comments_are_marked_as_prompts_not_users_voices(
    tmp_path: Path,
) -> None:
    """GitHub's author association (an author object's, or a flattened thread's tag) and bot
    accounts mark a maintainer's reply; a contributor or a stranger stays a user's voice."""
    thread = (
        "[2016-12-29 03:10Z] [MEMBER] user_45:\nCan you share a repro?\n---\n"
        "[2016-12-30 10:00Z] [NONE] user_1:\nHere it is, it fails on every build.\n---\n"
        "[2017-01-02 09:00Z] [CONTRIBUTOR] user_9:\nSame for me since 1.2.\n---\n"
        "stale[bot]:\nThis issue has been automatically marked as stale."
    )
    write(
        tmp_path / "issues.jsonl",
        json.dumps({"id": 1, "title": "Build fails", "body": "It fails", "comments_text": thread})
        + "\n"
        + json.dumps({"id": 2, "title": "Crash", "body": "It crashes", "comments": [
            {"author": {"username": "lee", "author_association": "OWNER"}, "body": "Fixed in 2.0"},
            {"author": {"username": "kim", "author_association": "NONE"}, "body": "Still there"},
            {"author": {"login": "renovate", "type": "Bot"}, "body": "Update dependency"},
        ]}) + "\n",
    )  # fmt: skip
    docs = {d.id: d for d in load_corpus(tmp_path).documents}

    def roles(d: Document) -> list[tuple[str | None, str | None]]:
        return [
            (s.speaker, s.attrs.get("role")) for s in d.segments if s.attrs["field"] == "comment"
        ]

    assert roles(docs["issues/1"]) == [
        ("user_45", "maintainer"), ("user_1", None), ("user_9", None), ("stale[bot]", "maintainer"),
    ]  # fmt: skip
    assert roles(docs["issues/2"]) == [
        ("lee", "maintainer"),
        ("kim", None),
        ("renovate", "maintainer"),
    ]
    # a flattened comment's head is its speaker and attributes, not part of what it says
    first = next(s for s in docs["issues/1"].segments if s.attrs["field"] == "comment")
    assert first.text == "Can you share a repro?"
    assert first.attrs["created_at"] == "2016-12-29 03:10Z"
    assert_exact(docs["issues/1"])
    assert_exact(docs["issues/2"])


def test_csv_with_a_field_over_the_csv_module_limit_loads_whole(tmp_path: Path) -> None:
    import csv

    body = "stack frame at module.function (file.js:1:2)\n" * 5_000  # ~230,000 characters
    limit = csv.field_size_limit()
    assert len(body) > limit  # the limit that refused real tickets
    write(
        tmp_path / "issues.csv",
        "repo,label,title,body\n"
        'acme/app,bug,Short one,"Two\nlines"\n'
        f'acme/app,bug,Huge trace,"{body}"\n'
        "acme/app,feature,After it,Still read\n",
    )
    report = load_corpus(tmp_path)
    docs = {d.id: d for d in report.documents}
    # no id column: tickets are numbered by record, not by the line a quoted body ends on
    assert sorted(docs) == ["issues/1", "issues/2", "issues/3"]
    huge = docs["issues/2"]
    assert huge.segments[1].text == body.strip() and huge.metadata["label"] == "bug"
    assert docs["issues/3"].segments[1].text == "Still read"
    assert_exact(huge)
    assert csv.field_size_limit() == limit  # the process's own limit is left as it was


def test_csv_whose_head_has_no_doubled_quotes_still_reads_them_later(tmp_path: Path) -> None:
    """The dialect sniffed from the first 4 KB says quotes are never doubled; a title further
    down has doubled quotes, as every CSV writer writes them: the file still loads."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, ["id", "title", "body"])  # CRLF line ends, like exports
    writer.writeheader()
    for i in range(1, 60):
        writer.writerow({"id": i, "title": f"Crash in layer {i}, again",
                         "body": f"Steps:\n1. open the app, press run\n2. see error {i}"})  # fmt: skip
    writer.writerow({"id": 60, "title": 'Calling layer "13" fails', "body": 'It says "no, bad"'})
    text = out.getvalue()
    assert csv.Sniffer().sniff(text[:4096], ",;\t|").doublequote is False  # what misled it
    write(tmp_path / "tickets.csv", text.encode())
    docs = {d.id: d for d in load_corpus(tmp_path).documents}
    assert len(docs) == 60
    assert docs["tickets/60"].title == 'Calling layer "13" fails'
    assert docs["tickets/60"].segments[1].text == 'It says "no, bad"'


def test_a_truly_ragged_csv_names_the_line_under_every_dialect(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", 'title,body\nA,x\nB,y\nC,"w",z\nD,v\n')
    with pytest.raises(UserInputError, match=r"t\.csv: line 4 has 3 fields but the header has 2"):
        load_corpus(tmp_path)


def test_identical_tickets_are_reported_by_id(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", "title,body\n#F,#\nOther,x\n#F,#\n")
    report = load_corpus(tmp_path)
    assert [d.id for d in report.documents] == ["t/1", "t/2"]
    assert [s.reason for s in report.skipped] == [
        "document t/3 duplicates document t/1 (same text)"
    ]


def test_corrupt_json_and_csv_name_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "a" / "bad.json", '{\n  "turns": [\n  oops\n]}')
    with pytest.raises(UserInputError, match=r"bad\.json.*line 3"):
        load_corpus(tmp_path / "a")
    write(tmp_path / "b" / "bad.jsonl", '{"title": "ok", "body": "x"}\n{"title": \n')
    with pytest.raises(UserInputError, match=r"bad\.jsonl.*line 2"):
        load_corpus(tmp_path / "b")
    write(tmp_path / "c" / "bad.csv", 'title,body\nA,"unterminated\nB,x\n')
    with pytest.raises(UserInputError, match=r"bad\.csv.*line"):
        load_corpus(tmp_path / "c")
    write(tmp_path / "good.md", "fine")
    report = load_corpus(tmp_path, on_error="skip")
    assert {s.path for s in report.skipped} >= {"a/bad.json", "b/bad.jsonl"}


def test_non_utf8_and_mixed_encodings_warn_per_file(tmp_path: Path) -> None:
    write(tmp_path / "notes.txt", "Caf\xe9 menu\n".encode("cp1252"))
    write(tmp_path / "mixed.md", "na\xefve\n".encode() + "\n\ncaf\xe9 line\n".encode("cp1252"))
    report = load_corpus(tmp_path)
    docs = {d.id: d for d in report.documents}
    assert docs["notes"].text == "Café menu"
    assert "naïve" in docs["mixed"].text and "café" in docs["mixed"].text
    assert any("notes.txt" in w and "cp1252" in w for w in report.warnings)
    assert any("mixed.md" in w and "line 4" in w for w in report.warnings)


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    write(tmp_path / "fake.txt", b"\x00\x01binary\x00stuff")
    write(tmp_path / "big.md", "x" * 2000)
    write(tmp_path / "empty.txt", "   \n\n")
    write(tmp_path / "zero.md", "")
    write(tmp_path / "one.md", "Same text here")
    write(tmp_path / "two.md", "Same text here")
    write(tmp_path / "photo.png", b"\x89PNG")
    report = load_corpus(tmp_path, max_file_bytes=1000)
    reasons = {s.path: s.reason for s in report.skipped}
    assert "binary" in reasons["fake.txt"]
    assert "limit" in reasons["big.md"]
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["zero.md"]
    assert "document two duplicates document one" in reasons["two.md"]
    assert "unsupported" in reasons["photo.png"]
    assert [d.id for d in report.documents] == ["one"]


def test_missing_path_and_empty_folder_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no such file"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match="no files"):
        load_corpus(tmp_path / "empty")
    write(tmp_path / "junk" / "a.bin", b"\x00")
    with pytest.raises(UserInputError, match="no loadable documents"):
        load_corpus(tmp_path / "junk")


def test_code_repository_respects_gitignore_and_skips_vendored(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / ".gitignore", "secret_*.py\nout/\n")
    write(
        repo / "pkg" / "core.py",
        'import os\n\n\nclass Engine:\n    """Runs jobs."""\n\n    def start(self):\n        return 1\n\n\ndef helper(x):\n    return x\n',
    )
    write(repo / "pkg" / "secret_keys.py", "KEY = 1\n")
    write(repo / "out" / "gen.py", "x = 1\n")
    write(repo / "node_modules" / "lib" / "index.js", "module.exports = 1\n")
    write(
        repo / "pkg" / "gen_pb2.py",
        "# Generated by the protocol buffer compiler.  DO NOT EDIT!\nx = 1\n",
    )
    write(repo / "web" / "app.js", "\n".join(f"const v{i} = {i};" for i in range(100)))
    write(repo / "logo.png", b"\x89PNG\x00\x00")
    report = load_corpus(repo)
    ids = {d.id for d in report.documents}
    assert ids == {"pkg/core.py", "web/app.js"}
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["pkg/secret_keys.py"] == "ignored by .gitignore"
    assert "generated" in reasons["pkg/gen_pb2.py"]
    core = next(d for d in report.documents if d.id == "pkg/core.py")
    symbols = [
        (s.attrs.get("symbol"), s.attrs["symbol_kind"], s.start_line, s.end_line)
        for s in core.segments
    ]
    assert symbols == [
        (None, "module", 1, 3),
        ("Engine", "class", 4, 8),
        ("helper", "function", 11, 12),
    ]
    js = next(d for d in report.documents if d.id == "web/app.js")
    assert len(js.segments) >= 3 and js.segments[0].start_line == 1
    assert_exact(core)
    assert_exact(js)


def test_python_syntax_error_falls_back_to_blocks_with_warning(tmp_path: Path) -> None:
    write(tmp_path / "broken.py", "def f(:\n    pass\n")
    report = load_corpus(tmp_path)
    assert report.documents[0].segments[0].attrs["symbol_kind"] == "block"
    assert any("broken.py" in w for w in report.warnings)


def test_docx_transcript(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("Moderator: What do you use today?")
    d.add_paragraph("Participant: A spreadsheet, mostly.")
    d.save(str(tmp_path / "session.docx"))
    doc = load_corpus(tmp_path).documents[0]
    assert doc.kind == "conversation" and [s.speaker for s in doc.segments] == [
        "Moderator",
        "Participant",
    ]


def test_markdown_sections(tmp_path: Path) -> None:
    write(tmp_path / "guide.md", "# Setup\n\nInstall it.\n\n## Usage\n\nRun it.\n")
    doc = load_corpus(tmp_path / "guide.md").documents[0]
    assert doc.kind == "text" and doc.segments[-1].attrs["section"] == "Usage"
    assert_exact(doc)


def test_a_ticket_folder_s_readme_and_license_are_notes_not_tickets(tmp_path: Path) -> None:
    write(tmp_path / "issues" / "train.csv", "title,body\nCrash on start,It crashes\n")
    write(tmp_path / "issues" / "README.md", "# Issues\n\nA data set of 1,500 issues.\n")
    write(tmp_path / "issues" / "LICENSE.txt", "MIT License\n\nPermission is hereby granted.\n")
    write(tmp_path / "issues" / "notes.md", "What we saw in the issues.\n")
    report = load_corpus(tmp_path / "issues")
    assert sorted(d.id for d in report.documents) == ["notes", "train/1"]
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {"README.md", "LICENSE.txt"}
    assert "not one of its documents" in skipped["README.md"]
    # a folder of texts keeps its README: there it is one of the documents
    write(tmp_path / "texts" / "README.md", "# Notes\n\nWhy this folder exists.\n")
    write(tmp_path / "texts" / "day1.md", "First day.\n")
    assert sorted(d.id for d in load_corpus(tmp_path / "texts").documents) == ["README", "day1"]
    # and a README given by name is read
    assert [d.id for d in load_corpus(tmp_path / "issues" / "README.md").documents] == ["README"]


def test_people_who_reply_across_the_tracker_are_maintainers_whatever_their_tag(
    tmp_path: Path,
) -> None:
    """A maintainer GitHub shows as CONTRIBUTOR, or a help desk agent with no tag at all,
    replies on many tickets they did not open; a reporter on their own ticket and a user
    seen twice stay users' voices."""
    from retrieval.ticket_roles import annotate_responders

    def ticket(i: int, reporter: str, comments: list[tuple[str, str]]) -> str:
        return json.dumps({
            "id": i, "title": f"Problem {i}", "body": f"Something breaks in case {i}",
            "author": reporter,
            "comments": [{"author": who, "body": text} for who, text in comments],
        })  # fmt: skip

    lines = [
        ticket(i, f"reporter{i}", [("agent", "Could you send the logs?"), (f"reporter{i}", "Here")])
        for i in range(6)
    ]
    lines += [ticket(6, "amy", [("bob", "Same here")]), ticket(7, "cat", [("bob", "Me too")])]
    # a saved reply posted word for word on two tickets marks its author after two tickets
    saved = "Thanks for the report. This is a support question, please ask it on the forum instead."
    lines += [ticket(8, "dan", [("sam", saved)]), ticket(9, "eve", [("sam", f"Hi! {saved}")])]
    write(tmp_path / "desk.jsonl", "\n".join(lines) + "\n")
    docs = load_corpus(tmp_path).documents
    assert annotate_responders(docs) == {"agent": 6, "sam": 2}
    for d in docs:
        for s in d.segments:
            if s.attrs["field"] == "comment":
                voice = s.attrs.get("role") != "maintainer"
                assert voice == (s.speaker not in ("agent", "sam")), s
