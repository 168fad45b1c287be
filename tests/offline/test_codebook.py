"""Codebooks in and out, and deductive coding with the real MiniLM embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from subagents.codebook import (
    Codebook,
    CodebookError,
    codebook_from_synthesis,
    load_codebook,
    synthesis_from_tags,
    write_codebook,
)
from subagents.findings import Code, Evidence, Finding, Synthesis, Theme
from subagents.offline.codebook import CodebookCoder, CoderSettings


def _f(doc: str, i: int, text: str, *, role: str | None = None, tags: list[str] | None = None) -> Finding:  # fmt: skip
    return Finding(
        id=f"{doc}-{i}",
        task_key="t",
        doc_id=doc,
        claim=text,
        confidence=0.8,
        tags=tags or [],
        evidence=[
            Evidence(doc_id=doc, segment_id=f"{doc}#{i}", quote=text, speaker="P", role=role)  # type: ignore[arg-type]
        ],
    )


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    from retrieval import Embedder

    return Embedder()


def test_csv_codebook_with_parents_paths_and_examples(tmp_path: Path) -> None:
    p = tmp_path / "book.csv"
    p.write_text(
        "Code,Description,Examples,Parent,Files\n"
        "Remote,Anything about the remote control,,,3\n"
        "Battery,How long the batteries last,lasts months | hate replacing batteries,Remote,1\n"
        "Design > Buttons,How many buttons and how big,,,2\n"
        ",,,,\n",
        encoding="utf-8-sig",
    )
    book = load_codebook(p)
    assert [(c.code, c.parent) for c in book.codes] == [
        ("Remote", None),
        ("Battery", "Remote"),
        ("Design", None),
        ("Buttons", "Design"),
    ]
    assert book.by_name()["Battery"].examples == ["lasts months", "hate replacing batteries"]
    assert [c.code for c in book.leaves()] == ["Battery", "Buttons"]
    assert book.path("Buttons") == ["Design", "Buttons"]


def test_yaml_codebook_nested_and_round_trips_through_both_formats(tmp_path: Path) -> None:
    p = tmp_path / "book.yaml"
    p.write_text(
        "codes:\n"
        "  - code: Remote\n"
        "    description: Anything about the remote\n"
        "    codes:\n"
        "      - code: Battery\n"
        "        examples: [lasts months]\n"
        "      - Buttons\n"
        "  - code: Price\n"
        "    parent: Remote\n",
        encoding="utf-8",
    )
    book = load_codebook(p)
    assert [(c.code, c.parent) for c in book.codes] == [
        ("Remote", None),
        ("Battery", "Remote"),
        ("Buttons", "Remote"),
        ("Price", "Remote"),
    ]
    for name in ("again.yaml", "again.csv"):
        back = load_codebook(write_codebook(book, tmp_path / name))
        assert back.codes == book.codes
        assert back.content_hash == book.content_hash


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("a.csv", "name,description\nX,y\n", "no 'code' column"),
        ("b.csv", "code,description\nX,one\nX,two\n", "appears twice"),
        ("c.csv", "code,parent\nA,B\nB,A\n", "its own ancestor"),
        ("d.csv", "code,description\n,orphan description\n", "line 2 has no code name"),
        ("e.yaml", "codes:\n  - code: A\n    colour: red\n", "unknown keys ['colour']"),
        ("f.yaml", "codes: [\n", "not valid YAML"),
        ("g.txt", "A\n", "a .csv or .yaml file"),
        ("h.yaml", "codes: []\n", "has no codes"),
    ],
)
def test_bad_codebooks_say_what_to_fix(tmp_path: Path, name: str, text: str, says: str) -> None:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(CodebookError, match=r".*") as e:
        load_codebook(p)
    assert says in str(e.value) and name in str(e.value)
    with pytest.raises(CodebookError, match="not found"):
        load_codebook(tmp_path / "missing.csv")


def _book() -> Codebook:
    from subagents.codebook import CodebookCode

    return Codebook(
        codes=[
            CodebookCode(code="Remote"),
            CodebookCode(
                code="Battery",
                parent="Remote",
                description="batteries, charging and how long the power lasts",
                examples=["I hate replacing the batteries"],
            ),
            CodebookCode(
                code="Buttons",
                parent="Remote",
                description="the number, size and layout of the buttons",
            ),
            CodebookCode(code="Price", description="what the product costs and budget limits"),
        ],
        source="test book",
    )


def test_coder_codes_by_description_and_examples_and_leaves_the_rest_as_other(embedder) -> None:  # type: ignore[no-untyped-def]
    battery = [
        "The battery should last for months without charging",
        "People hate replacing the batteries in the remote control",
        "A rechargeable battery with a charging dock would be nice",
        "Battery life matters more than extra features",
    ]
    buttons = [
        "There are far too many buttons on current remotes",
        "Users only use a few of the buttons on the remote",
        "Fewer, bigger buttons would make it easier to use",
    ]
    weather = [
        "The weather in Edinburgh was rainy during the meeting",
        "It rained all week in the city, a grey and wet week",
        "Rain and wind made everyone late to the office",
    ]
    findings = [_f(f"d{i}", 0, t) for i, t in enumerate(battery)]
    findings += [_f(f"d{i}", 1, t) for i, t in enumerate(buttons)]
    findings += [_f(f"d{i}", 2, t) for i, t in enumerate(weather)]
    findings.append(_f("d5", 3, "Too many buttons and the batteries die", role="interviewer"))
    docs = [f"d{i}" for i in range(8)]
    from subagents.offline.synthesis import ClusteringSynthesizer, SynthesisSettings

    synth = CodebookCoder(embedder, _book()).synthesize(
        findings,
        docs,
        noun="meetings",
        candidates_from=ClusteringSynthesizer(embedder, SynthesisSettings(min_doc_share=0.3)),
    )
    themes = {t.label: t for t in synth.themes}
    assert list(themes) == ["Remote", "Price"]  # every top-level code is a theme, even empty
    remote = themes["Remote"]
    codes = {c.label: c for c in remote.codes}
    assert set(codes["Battery"].finding_ids) == {f"d{i}-0" for i in range(4)}
    assert set(codes["Buttons"].finding_ids) == {f"d{i}-1" for i in range(3)}
    assert remote.n_documents == 4 and remote.total_documents == 8
    assert codes["Battery"].n_documents == 4 and codes["Buttons"].n_documents == 3
    assert themes["Price"].n_documents == 0 and themes["Price"].finding_ids == []
    # the weather and the interviewer's own words fit no code: "other", not forced in
    assert set(synth.outlier_finding_ids) == {"d0-2", "d1-2", "d2-2", "d5-3"}
    assert "deductive coding" in synth.method
    # candidates come from what fit no code, kept apart from the themes
    assert len(synth.candidate_codes) == 1
    cand = synth.candidate_codes[0]
    assert set(cand.finding_ids) >= {"d0-2", "d1-2", "d2-2"}
    assert "candidate code: not in the codebook" in cand.flags


def test_the_prompt_that_drew_an_answer_steers_its_code(embedder) -> None:  # type: ignore[no-untyped-def]
    answers = [_f(f"d{i}", 0, "Yes, all the time, honestly every single day") for i in range(9)]
    answers += [_f(f"d{i}", 1, "I think about it now and then, it depends") for i in range(9)]
    contexts = {f.id: "How often do you change the batteries?" for f in answers[:9]}
    contexts.update({f.id: "Do the buttons bother you?" for f in answers[9:]})
    # a low floor: this is about which code the prompt steers to, not whether one fits
    coder = CodebookCoder(embedder, _book(), CoderSettings(min_similarity=0.2))
    coded, _ = coder.code(answers, contexts)
    assert coder.code(answers)[0] == {}  # without their prompts the answers fit no code
    assert {coded.get(f.id) for f in answers[:9]} == {"Battery"}
    assert {coded.get(f.id) for f in answers[9:]} == {"Buttons"}


def test_model_tags_map_to_codes_and_candidates_need_two_documents() -> None:
    findings = [
        _f("a", 0, "x", tags=["Remote > Battery"]),
        _f("b", 0, "x", tags=["buttons"]),
        _f("c", 0, "x", tags=["other", "candidate: Colour"]),
        _f("d", 0, "x", tags=["other", "candidate: Colour"]),
        _f("e", 0, "x", tags=["other", "candidate: Smell"]),
    ]
    synth = synthesis_from_tags(_book(), findings, ["a", "b", "c", "d", "e"])
    remote = next(t for t in synth.themes if t.label == "Remote")
    assert {c.label: c.finding_ids for c in remote.codes} == {
        "Battery": ["a-0"],
        "Buttons": ["b-0"],
    }
    assert [c.label for c in synth.candidate_codes] == ["Colour"]
    assert synth.outlier_finding_ids == ["c-0", "d-0", "e-0"]


def test_an_inductive_run_becomes_a_codebook_a_later_run_reads(tmp_path: Path) -> None:
    findings = [_f("a", 0, "quote a"), _f("b", 0, "quote b")]
    synth = Synthesis(
        themes=[
            Theme(
                id="t1", label="Battery > life", summary="s", finding_ids=["a-0", "b-0"],
                doc_ids=["a", "b"], n_documents=2, total_documents=2, description="Power",
                representative_finding_ids=["a-0"],
                codes=[Code(id="c1", label="Charging", finding_ids=["b-0"], doc_ids=["b"],
                            n_documents=1, description="docks")],
            )
        ],
    )  # fmt: skip
    book = codebook_from_synthesis(synth, findings)
    assert [(c.code, c.parent, c.examples) for c in book.codes] == [
        ("Battery - life", None, ["quote a"]),
        ("Charging", "Battery - life", ["quote b"]),
    ]
    assert load_codebook(write_codebook(book, tmp_path / "b.yaml")).codes == book.codes
    with pytest.raises(CodebookError, match="no themes"):
        codebook_from_synthesis(Synthesis(themes=[]), findings)


def test_a_qda_tools_codebook_drives_a_run(tmp_path: Path) -> None:
    from exports.qdc import write_qdc
    from exports.qdpx import QdaCode, stable_guid
    from workbench.core.errors import UserError
    from workbench.core.settings import AnalysisSettings, Settings
    from workbench.engines.codebook import codebook_for, qda_codes

    tree = [
        QdaCode(guid=stable_guid("a"), name="Remote", description="the remote", children=[
            QdaCode(guid=stable_guid("b"), name="Battery", description="power")]),
        QdaCode(guid=stable_guid("c"), name="Price"),
    ]  # fmt: skip
    path = write_qdc(tree, tmp_path / "nvivo.qdc")
    book = codebook_for(Settings(analysis=AnalysisSettings(codebook=str(path))))
    assert book is not None
    assert [(c.code, c.parent, c.description) for c in book.codes] == [
        ("Remote", None, "the remote"),
        ("Battery", "Remote", "power"),
        ("Price", None, ""),
    ]
    # and back out as a .qdc: same tree, names and descriptions
    again = qda_codes(book)
    assert [(c.name, [k.name for k in c.children]) for c in again] == [
        ("Remote", ["Battery"]),
        ("Price", []),
    ]
    tree[1].children.append(QdaCode(guid=stable_guid("d"), name="Battery"))
    write_qdc(tree, tmp_path / "dupe.qdc")
    with pytest.raises(UserError, match="repeat under different parents"):
        codebook_for(Settings(analysis=AnalysisSettings(codebook=str(tmp_path / "dupe.qdc"))))


def test_candidate_codes_wait_for_the_researcher_to_accept_them(tmp_path: Path) -> None:
    from subagents.codebook import CodebookCode

    book = Codebook(
        codes=[
            CodebookCode(code="Remote"),
            CodebookCode(code="Battery", parent="Remote", description="power"),
            CodebookCode(code="Scroll wheel", parent="Remote", candidate=True),
            CodebookCode(code="Weather", candidate=True, description="rain"),
            CodebookCode(code="Rain at night", parent="Weather"),
        ],
        source="run",
    )
    assert [c.code for c in book.accepted().codes] == ["Remote", "Battery"]
    # the mark survives both file formats, so a later run leaves the candidates out too
    for suffix in (".yaml", ".csv"):
        back = load_codebook(write_codebook(book, tmp_path / f"book{suffix}"))
        assert [(c.code, c.candidate) for c in back.codes] == [
            (c.code, c.candidate) for c in book.codes
        ], suffix
        assert [c.code for c in back.accepted().codes] == ["Remote", "Battery"]
    # a codebook with no candidates keeps the plain four columns
    plain = write_codebook(book.accepted(), tmp_path / "plain.csv").read_text()
    assert plain.splitlines()[0] == "code,description,examples,parent"
    # accepting = removing the mark
    import yaml

    data = yaml.safe_load((tmp_path / "book.yaml").read_text())
    del data["codes"][0]["codes"][1]["candidate"]  # Remote > Scroll wheel
    (tmp_path / "book.yaml").write_text(yaml.safe_dump(data))
    kept = [c.code for c in load_codebook(tmp_path / "book.yaml").accepted().codes]
    assert kept == ["Remote", "Battery", "Scroll wheel"]
