"""Helpers shared by several test folders."""

from __future__ import annotations

from pathlib import Path

from pptx import Presentation


def deck_text(path: Path) -> str:
    """All the text of a deck: shapes, table cells and speaker notes."""
    prs = Presentation(str(path))
    parts = []
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts.extend(c.text for row in shape.table.rows for c in row.cells)
        if slide.has_notes_slide:
            parts.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(parts)
