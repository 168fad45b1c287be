"""REFI-QDA codebooks (`.qdc`): the codebook exchange NVivo, ATLAS.ti, MAXQDA and others use.

A `.qdc` is one XML document in the `urn:QDA-XML:codebook:1.0` namespace:

    CodeBook (origin)
      Codes/Code (guid, name, isCodable, color)
        Description
        Code ...                     codes nest: a code's children are its sub-codes

`write_qdc` writes a code tree (`exports.qdpx.QdaCode`); `read_codebook_file` reads the
tree back from a `.qdc`, or the codebook of a `.qdpx` project, so a researcher's
existing codebook can drive a deductive run.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from exports.qdpx import QdaCode, QdpxError, read_qdpx

NS = "urn:QDA-XML:codebook:1.0"
_Q = f"{{{NS}}}"


def codebook_xml(codes: list[QdaCode], *, origin: str = "research-workbench") -> bytes:
    if not codes:
        raise QdpxError("a REFI-QDA codebook needs at least one code")
    ET.register_namespace("", NS)
    root = ET.Element(_Q + "CodeBook", {"origin": origin})
    holder = ET.SubElement(root, _Q + "Codes")

    def add(parent: ET.Element, code: QdaCode) -> None:
        attrs = {"guid": code.guid, "name": code.name, "isCodable": str(code.codable).lower()}
        if code.color:
            attrs["color"] = code.color
        el = ET.SubElement(parent, _Q + "Code", attrs)
        if code.description:
            ET.SubElement(el, _Q + "Description").text = code.description
        for child in code.children:
            add(el, child)

    for c in codes:
        add(holder, c)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_qdc(
    codes: list[QdaCode], path: str | Path, *, origin: str = "research-workbench"
) -> Path:
    p = Path(path)
    p.write_bytes(codebook_xml(codes, origin=origin))
    return p


def _code(el: ET.Element) -> QdaCode:
    desc = el.find(_Q + "Description")
    return QdaCode(
        guid=el.get("guid", ""),
        name=el.get("name", ""),
        description=(desc.text or "") if desc is not None else "",
        color=el.get("color"),
        codable=el.get("isCodable", "true") == "true",
        children=[_code(c) for c in el.findall(_Q + "Code")],
    )


def read_codebook_file(path: str | Path) -> list[QdaCode]:
    """The code tree of a `.qdc` codebook, or of a `.qdpx` project's codebook."""
    p = Path(path)
    if p.suffix.lower() == ".qdpx":
        return read_qdpx(p).codes
    try:
        from defusedxml.ElementTree import fromstring
    except ImportError:  # pragma: no cover - defusedxml is a dependency
        fromstring = ET.fromstring
    try:
        root: ET.Element = fromstring(p.read_bytes())
    except OSError as e:
        raise QdpxError(f"{p}: cannot read the codebook ({e})") from e
    except Exception as e:  # ParseError, or defusedxml's refusal of entities
        raise QdpxError(f"{p}: not readable XML ({e})") from e
    if root.tag != _Q + "CodeBook":
        raise QdpxError(f"{p}: not a REFI-QDA codebook (root {root.tag!r})")
    return [_code(c) for c in root.iterfind(f"{_Q}Codes/{_Q}Code")]
