"""REFI-QDA projects: written, validated against the schema, read back unchanged."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exports.errors import ExportInputError
from exports.qdc import codebook_xml, read_codebook_file, write_qdc
from exports.qdpx import (
    QdaCode,
    QdaProject,
    QdaSelection,
    QdaSource,
    QdpxError,
    project_xml,
    read_qdpx,
    stable_guid,
    write_qdpx,
)

DATA = Path(__file__).parent / "data"


def validate(xml: bytes, kind: str = "project") -> None:
    """Against every `*<kind>*.xsd` schema in tests/exports/data (see their headers)."""
    from lxml import etree

    schemas = sorted(p for p in DATA.glob("*.xsd") if kind in p.name.lower())
    assert schemas
    doc = etree.fromstring(xml)
    for path in schemas:
        schema = etree.XMLSchema(etree.parse(str(path)))
        assert schema.validate(doc), f"{path.name}: {schema.error_log}"


def sample() -> QdaProject:
    text = "Dana: Zoë said the export — all of it — breaks.\nLee: Ça marche 🙂 mostly.\n"
    start = text.index("the export")
    emoji_end = text.index(" mostly") + len(" mostly")
    battery = QdaCode(guid=stable_guid("c", "b"), name="Battery", description="power & <life>")
    child = QdaCode(guid=stable_guid("c", "k"), name="Charging")
    battery.children.append(child)
    return QdaProject(
        name="Study: what breaks?",
        created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        description="Run r1",
        note="Run r1\nQuestion: what breaks?",
        codes=[battery, QdaCode(guid=stable_guid("c", "o"), name="Other", color="#AABBCC")],
        sources=[
            QdaSource(
                guid=stable_guid("s", "1"),
                name="interviews/p1",
                text=text,
                description="interviews/p1.txt",
                selections=[
                    QdaSelection(
                        guid=stable_guid("sel", "1"),
                        start=start,
                        end=start + len("the export — all of it — breaks"),
                        code_guids=[child.guid],
                        name="p1: the export",
                        description="Speaker: Zoë",
                        note="Speaker: Zoë\nRun r1",
                    ),
                    QdaSelection(
                        guid=stable_guid("sel", "2"),
                        start=text.index("Ça"),
                        end=emoji_end,
                        name="p1: ça marche",
                        code_guids=[battery.guid, stable_guid("c", "o")],
                    ),
                ],
            ),
            QdaSource(guid=stable_guid("s", "2"), name="empty", text=""),
        ],
    )


def test_written_project_validates_and_reads_back_the_same(tmp_path: Path) -> None:
    project = sample()
    path = write_qdpx(project, tmp_path / "p.qdpx")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        xml = z.read("project.qde")
        src = project.sources[0]
        assert z.read(f"sources/{src.guid}.txt") == src.text.encode("utf-8")  # no BOM
    assert names == {"project.qde", *(f"sources/{s.guid}.txt" for s in project.sources)}
    validate(xml)
    back = read_qdpx(path)
    assert back == project
    # positions count characters: the emoji and accents do not shift a selection
    sel = back.sources[0].selections[0]
    assert back.sources[0].text[sel.start : sel.end] == "the export — all of it — breaks"
    assert back.code_paths()[sel.code_guids[0]] == "Battery > Charging"
    # the same project gives the same bytes (stable GUIDs, fixed zip times)
    again = write_qdpx(project, tmp_path / "q.qdpx")
    assert again.read_bytes() == path.read_bytes()


def test_a_project_without_codes_or_notes_still_validates() -> None:
    validate(
        project_xml(
            QdaProject(name="bare", sources=[QdaSource(guid=stable_guid("x"), name="a", text="hi")])
        )
    )


def test_selections_must_lie_in_their_text_and_name_known_codes() -> None:
    p = sample()
    p.sources[0].selections[0].end = len(p.sources[0].text) + 1
    with pytest.raises(ExportInputError, match="outside its text"):
        project_xml(p)
    p = sample()
    p.sources[0].selections[0].code_guids = [stable_guid("nope")]
    with pytest.raises(ExportInputError, match="unknown codes"):
        project_xml(p)


NS = 'xmlns="urn:QDA-XML:project:1.0"'
G = "11111111-2222-3333-4444-"


def _zip(path: Path, qde: str, files: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.qde", qde)
        for name, data in (files or {}).items():
            z.writestr(name, data)
    return path


def test_reads_other_tools_layouts_inline_text_and_pdf_representations(tmp_path: Path) -> None:
    qde = f"""<?xml version="1.0" encoding="utf-8"?>
<Project {NS} name="From a QDA tool">
 <CodeBook><Codes><Code guid="{G}000000000001" name="Top" isCodable="false">
   <Code guid="{G}000000000002" name="Leaf" isCodable="true"/></Code></Codes></CodeBook>
 <Sources>
  <TextSource guid="{G}000000000010" name="P1.docx">
   <PlainTextContent>Participant: it is slow</PlainTextContent>
   <PlainTextSelection guid="{G}000000000011" startPosition="13" endPosition="23">
    <Coding guid="{G}000000000012"><CodeRef targetGUID="{G}000000000002"/></Coding>
   </PlainTextSelection>
  </TextSource>
  <PDFSource guid="{G}000000000020" name="P2.pdf" path="relative:///P2.pdf">
   <Representation guid="{G}000000000021" plainTextPath="internal://{G}000000000021.txt">
    <PlainTextSelection guid="{G}000000000022" startPosition="0" endPosition="4">
     <Coding guid="{G}000000000023"><CodeRef targetGUID="{G}000000000001"/></Coding>
    </PlainTextSelection>
   </Representation>
  </PDFSource>
  <PictureSource guid="{G}000000000030" name="photo.png"/>
 </Sources>
</Project>"""
    path = _zip(
        tmp_path / "tool.qdpx",
        qde,
        {f"Sources/{G}000000000021.txt": "\ufeffSlow and clunky".encode()},
    )
    p = read_qdpx(path)
    assert [(s.name, s.text) for s in p.sources] == [
        ("P1.docx", "Participant: it is slow"),
        ("P2.pdf", "Slow and clunky"),
    ]
    s1 = p.sources[0]
    assert s1.text[s1.selections[0].start : s1.selections[0].end] == "it is slow"
    paths = p.code_paths()
    assert paths[s1.selections[0].code_guids[0]] == "Top > Leaf"
    assert paths[p.sources[1].selections[0].code_guids[0]] == "Top"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "not a .qdpx (zip) file"),
        ({"other.txt": "x"}, "no project.qde inside"),
        ({"project.qde": "<Project"}, "not readable XML"),
        ({"project.qde": "<Codebook/>"}, "not a REFI-QDA project"),
        (
            {"project.qde": f'<Project {NS} name="x"><Sources><TextSource guid="{G}000000000001" '
                            f'name="a" plainTextPath="internal://gone.txt"/></Sources></Project>'},
            "points to missing sources/gone.txt",
        ),
        (
            {"project.qde": f'<Project {NS} name="x"><Sources><TextSource guid="{G}000000000001" '
                            f'name="a" plainTextPath="relative:///a.txt"/></Sources></Project>'},
            "keeps its text outside the project",
        ),
        (
            {"project.qde": '<!DOCTYPE x [<!ENTITY a "aaaa">]><Project xmlns="urn:QDA-XML:project:1.0" name="&a;"/>'},
            "not readable XML",
        ),
    ],
)  # fmt: skip
def test_unreadable_projects_say_why(
    tmp_path: Path, content: dict[str, str] | None, says: str
) -> None:
    path = tmp_path / "bad.qdpx"
    if content is None:
        path.write_bytes(b"PK not really")
    else:
        with zipfile.ZipFile(path, "w") as z:
            for name, data in content.items():
                z.writestr(name, data)
    with pytest.raises(QdpxError, match=r".") as e:
        read_qdpx(path)
    assert says in str(e.value)


def test_codebook_exchange_file_validates_and_reads_back(tmp_path: Path) -> None:
    codes = sample().codes
    validate(codebook_xml(codes), "codebook")
    assert read_codebook_file(write_qdc(codes, tmp_path / "book.qdc")) == codes
    # a project's codebook reads the same way
    assert read_codebook_file(write_qdpx(sample(), tmp_path / "p.qdpx")) == codes
    (tmp_path / "bad.qdc").write_text(f"<Project {NS} name='x'/>")
    with pytest.raises(QdpxError, match="not a REFI-QDA codebook"):
        read_codebook_file(tmp_path / "bad.qdc")
