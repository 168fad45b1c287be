"""REFI-QDA projects (`.qdpx`): the exchange format NVivo, ATLAS.ti, MAXQDA and others open.

A `.qdpx` is a zip holding `project.qde` (XML in the `urn:QDA-XML:project:1.0`
namespace, REFI-QDA Project 1.0) and `sources/<guid>.txt`, the plain text of each
source, referenced as `plainTextPath="internal://<guid>.txt"` (the folder name is
lower case, as QualCoder writes it and as readers resolve it; reading accepts any
case). Written here:

    Project (name, origin, creating user, date)
      Users/User                           the workbench, as the coder
      CodeBook/Codes/Code[/Code]           themes > codes, with descriptions and colours
      Sources/TextSource                   one per document, its text in sources/
        PlainTextSelection                 a coded passage at [start, end) characters of
          Description, Coding/CodeRef,     that text, its speaker as the description and
          NoteRef                          a note (speaker, run, claim, confidence)
      Notes/Note                           the selections' notes and the run's note
      Description, NoteRef                 what the run was

Positions count characters (Unicode code points) of the source text as written, which is
UTF-8 without a byte-order mark with "\\n" line ends. `read_qdpx` reads such a project
back (also one written by another tool: text inline or in `sources/`, PDF sources with a
text representation), for round trips and for scoring a run against a researcher's own
coding. The types here are plain data; the workbench fills them from a run.
"""

from __future__ import annotations

import contextlib
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

from pydantic import BaseModel, Field

from exports.errors import ExportInputError

NS = "urn:QDA-XML:project:1.0"
SOURCES_DIR = "sources"
_Q = f"{{{NS}}}"
GUID_NAMESPACE = uuid.UUID("6f1f0c3e-64a4-4c8b-9a5e-2b7c1d0e9f42")  # stable GUIDs per object key
PALETTE = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1",
           "#FF9DA7", "#9C755F", "#BAB0AC")  # fmt: skip


class QdpxError(ExportInputError):
    """A .qdpx that cannot be read (not a zip, no project.qde, a source missing)."""


def stable_guid(*key: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(key)))


class QdaCode(BaseModel):
    guid: str
    name: str
    description: str = ""
    color: str | None = None
    codable: bool = True
    children: list[QdaCode] = Field(default_factory=list)


class QdaSelection(BaseModel):
    """A coded passage: characters [start, end) of its source's text."""

    guid: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    code_guids: list[str] = Field(default_factory=list)
    name: str = ""
    description: str = ""
    note: str = ""


class QdaSource(BaseModel):
    guid: str
    name: str
    text: str
    description: str = ""
    selections: list[QdaSelection] = Field(default_factory=list)


class QdaProject(BaseModel):
    name: str
    origin: str = "research-workbench"
    user: str = "research-workbench"
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    description: str = ""
    note: str = ""  # the project's own note (what the run was)
    codes: list[QdaCode] = Field(default_factory=list)
    sources: list[QdaSource] = Field(default_factory=list)

    def walk_codes(self) -> list[tuple[list[str], QdaCode]]:
        """Every code with the names of its ancestors, depth first."""
        out: list[tuple[list[str], QdaCode]] = []

        def visit(code: QdaCode, above: list[str]) -> None:
            out.append((above, code))
            for child in code.children:
                visit(child, [*above, code.name])

        for c in self.codes:
            visit(c, [])
        return out

    def code_paths(self) -> dict[str, str]:
        """guid -> "Parent > Child" name path."""
        return {c.guid: " > ".join([*above, c.name]) for above, c in self.walk_codes()}


def _when(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check(project: QdaProject) -> None:
    guids = {g for _, c in project.walk_codes() for g in [c.guid]}
    for src in project.sources:
        for sel in src.selections:
            if not (0 <= sel.start <= sel.end <= len(src.text)):
                raise ExportInputError(
                    f"selection {sel.guid} of {src.name}: [{sel.start}, {sel.end}) is outside "
                    f"its text ({len(src.text)} characters)"
                )
            missing = [g for g in sel.code_guids if g not in guids]
            if missing:
                raise ExportInputError(f"selection {sel.guid} codes unknown codes {missing}")


def project_xml(project: QdaProject) -> bytes:
    """The `project.qde` document (see the module docstring for its layout)."""
    _check(project)
    user = stable_guid("user", project.user)
    when = _when(project.created)
    ET.register_namespace("", NS)
    root = ET.Element(
        _Q + "Project",
        {"name": project.name, "origin": project.origin, "creatingUserGUID": user,
         "creationDateTime": when},
    )  # fmt: skip
    users = ET.SubElement(root, _Q + "Users")
    ET.SubElement(users, _Q + "User", {"guid": user, "name": project.user})
    if project.codes:
        codes = ET.SubElement(ET.SubElement(root, _Q + "CodeBook"), _Q + "Codes")

        def add_code(parent: ET.Element, code: QdaCode) -> None:
            attrs = {"guid": code.guid, "name": code.name, "isCodable": str(code.codable).lower()}
            if code.color:
                attrs["color"] = code.color
            el = ET.SubElement(parent, _Q + "Code", attrs)
            if code.description:
                ET.SubElement(el, _Q + "Description").text = code.description
            for child in code.children:
                add_code(el, child)

        for c in project.codes:
            add_code(codes, c)
    notes: list[tuple[str, str, str]] = []  # (guid, name, text)
    if project.sources:
        sources = ET.SubElement(root, _Q + "Sources")
        for src in project.sources:
            s_el = ET.SubElement(
                sources,
                _Q + "TextSource",
                {"guid": src.guid, "name": src.name, "plainTextPath": f"internal://{src.guid}.txt",
                 "creatingUser": user, "creationDateTime": when},
            )  # fmt: skip
            if src.description:
                ET.SubElement(s_el, _Q + "Description").text = src.description
            for sel in src.selections:
                attrs = {"guid": sel.guid, "name": sel.name or f"{src.name} {sel.start}-{sel.end}",
                         "startPosition": str(sel.start), "endPosition": str(sel.end),
                         "creatingUser": user, "creationDateTime": when}  # fmt: skip
                sel_el = ET.SubElement(s_el, _Q + "PlainTextSelection", attrs)
                if sel.description:
                    ET.SubElement(sel_el, _Q + "Description").text = sel.description
                for code_guid in sel.code_guids:
                    coding = ET.SubElement(
                        sel_el,
                        _Q + "Coding",
                        {"guid": stable_guid("coding", sel.guid, code_guid), "creatingUser": user,
                         "creationDateTime": when},
                    )  # fmt: skip
                    ET.SubElement(coding, _Q + "CodeRef", {"targetGUID": code_guid})
                if sel.note:
                    note_guid = stable_guid("note", sel.guid)
                    notes.append((note_guid, f"Note on {attrs['name']}", sel.note))
                    ET.SubElement(sel_el, _Q + "NoteRef", {"targetGUID": note_guid})
    project_note = stable_guid("project-note", project.name) if project.note else None
    if project_note:
        notes.append((project_note, f"About {project.name}", project.note))
    if notes:
        notes_el = ET.SubElement(root, _Q + "Notes")
        for guid, name, text in notes:
            note = ET.SubElement(
                notes_el,
                _Q + "Note",
                {"guid": guid, "name": name, "creatingUser": user, "creationDateTime": when},
            )
            ET.SubElement(note, _Q + "PlainTextContent").text = text
    if project.description:
        ET.SubElement(root, _Q + "Description").text = project.description
    if project_note:
        ET.SubElement(root, _Q + "NoteRef", {"targetGUID": project_note})
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_qdpx(project: QdaProject, path: str | Path) -> Path:
    """Write `project` as a .qdpx file (written beside, then moved into place)."""
    target = Path(path)
    xml = project_xml(project)
    tmp = target.with_name(f".{target.name}.tmp")
    # fixed timestamps in the zip, so the same project gives the same bytes
    stamp = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("project.qde", stamp), xml, zipfile.ZIP_DEFLATED)
        for src in project.sources:
            z.writestr(
                zipfile.ZipInfo(f"{SOURCES_DIR}/{src.guid}.txt", stamp),
                src.text.encode("utf-8"),
                zipfile.ZIP_DEFLATED,
            )
    tmp.replace(target)
    return target


# -- reading -------------------------------------------------------------------------------


def _parse(xml: bytes, display: str) -> ET.Element:
    try:
        from defusedxml.ElementTree import fromstring
    except ImportError:  # pragma: no cover - defusedxml is a dependency
        fromstring = ET.fromstring
    try:
        root: ET.Element = fromstring(xml)
    except Exception as e:  # ParseError, or defusedxml's refusal of entities
        raise QdpxError(f"{display}: project.qde is not readable XML ({e})") from e
    if root.tag != _Q + "Project":
        raise QdpxError(f"{display}: project.qde is not a REFI-QDA project (root {root.tag!r})")
    return root


def _text_of(el: ET.Element, archive: zipfile.ZipFile, display: str) -> str:
    inline = el.find(_Q + "PlainTextContent")
    if inline is not None:
        return inline.text or ""
    ref = el.get("plainTextPath") or ""
    if ref.startswith("internal://"):
        want = f"{SOURCES_DIR}/{PurePosixPath(ref[len('internal://') :]).name}"
        member = next((n for n in archive.namelist() if n.lower() == want.lower()), None)
        if member is None:
            raise QdpxError(f"{display}: source {el.get('name')!r} points to missing {want}")
        return archive.read(member).decode("utf-8-sig")
    raise QdpxError(
        f"{display}: source {el.get('name')!r} keeps its text outside the project ({ref or 'no path'}); "
        "export it with the sources embedded"
    )


def _read_code(el: ET.Element) -> QdaCode:
    desc = el.find(_Q + "Description")
    return QdaCode(
        guid=el.get("guid", ""),
        name=el.get("name", ""),
        description=(desc.text or "") if desc is not None else "",
        color=el.get("color"),
        codable=el.get("isCodable", "true") == "true",
        children=[_read_code(c) for c in el.findall(_Q + "Code")],
    )


def _read_selections(el: ET.Element, notes: dict[str, str]) -> list[QdaSelection]:
    out = []
    for sel in el.findall(_Q + "PlainTextSelection"):
        desc = sel.find(_Q + "Description")
        refs = [n.get("targetGUID", "") for n in sel.findall(_Q + "NoteRef")]
        out.append(
            QdaSelection(
                guid=sel.get("guid", ""),
                start=int(sel.get("startPosition", "0")),
                end=int(sel.get("endPosition", "0")),
                code_guids=[
                    ref.get("targetGUID", "")
                    for c in sel.findall(_Q + "Coding")
                    if (ref := c.find(_Q + "CodeRef")) is not None
                ],
                name=sel.get("name", ""),
                description=(desc.text or "") if desc is not None else "",
                note="\n\n".join(notes[r] for r in refs if r in notes),
            )
        )
    return out


def read_qdpx(path: str | Path) -> QdaProject:
    """A .qdpx project: its codes, sources with their text, and coded text selections."""
    p = Path(path)
    display = str(p)
    try:
        archive = zipfile.ZipFile(p)
    except (OSError, zipfile.BadZipFile) as e:
        raise QdpxError(f"{display}: not a .qdpx (zip) file ({e})") from e
    with archive:
        name = next((n for n in archive.namelist() if n.lower().endswith(".qde")), None)
        if name is None:
            raise QdpxError(f"{display}: no project.qde inside; is it a REFI-QDA project?")
        root = _parse(archive.read(name), display)
        notes: dict[str, str] = {}
        for note in root.iterfind(f"{_Q}Notes/{_Q}Note"):
            notes[note.get("guid", "")] = _text_of(note, archive, display)
        codes = [_read_code(c) for c in root.iterfind(f"{_Q}CodeBook/{_Q}Codes/{_Q}Code")]
        sources: list[QdaSource] = []
        for el in root.iterfind(f"{_Q}Sources/*"):
            kind = el.tag.removeprefix(_Q)
            body: ET.Element | None = el
            if kind == "PDFSource":
                body = el.find(_Q + "Representation")
            elif kind != "TextSource":
                continue  # pictures, audio, video: no text to code
            if body is None:
                continue
            desc = el.find(_Q + "Description")
            sources.append(
                QdaSource(
                    guid=el.get("guid", ""),
                    name=el.get("name", "") or body.get("name", ""),
                    text=_text_of(body, archive, display),
                    description=(desc.text or "") if desc is not None else "",
                    selections=_read_selections(body, notes),
                )
            )
        project_note = next(
            (notes[r.get("targetGUID", "")] for r in root.findall(_Q + "NoteRef")
             if r.get("targetGUID", "") in notes),
            "",
        )  # fmt: skip
        desc = root.find(_Q + "Description")
        created = root.get("creationDateTime")
        extra: dict[str, Any] = {}
        if created:
            with contextlib.suppress(ValueError):
                extra["created"] = datetime.fromisoformat(created.replace("Z", "+00:00"))
        users = root.find(f"{_Q}Users/{_Q}User")
        return QdaProject(
            name=root.get("name", p.stem),
            origin=root.get("origin", ""),
            user=(users.get("name") or "") if users is not None else "",
            description=(desc.text or "") if desc is not None else "",
            note=project_note,
            codes=codes,
            sources=sources,
            **extra,
        )
