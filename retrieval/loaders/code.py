"""Loader for source code: symbol-level (AST) segments for Python, line blocks for the rest.

A Python file's segments cover it in order without overlap: module-level statements
between definitions, each top-level function, each class (a large class is split into
its header and its methods). Segments carry `start_line`/`end_line` (1-based, inclusive)
and attributes `path`, `symbol` (qualified name), `symbol_kind`, `class`, `function`.
"""

from __future__ import annotations

import ast

from retrieval.loaders._build import Part, slice_document
from retrieval.types import Document

CODE_EXTENSIONS = {
    ".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".java", ".kt",
    ".scala", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".m", ".sh",
    ".bash", ".sql", ".lua", ".r", ".jl", ".ex", ".exs", ".erl", ".hs", ".ml", ".clj", ".dart",
    ".vue", ".svelte", ".toml", ".yaml", ".yml", ".ini", ".cfg",
}  # fmt: skip
CLASS_SPLIT_LINES = 60  # classes longer than this are split into header + methods
BLOCK_LINES = 40  # line blocks for languages without an AST chunker


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            offsets.append(i + 1)
    return offsets


class _Spans:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.offsets = _line_offsets(text)
        self.nlines = len(self.offsets) if not text.endswith("\n") else len(self.offsets) - 1
        self.spans: list[tuple[int, int, Part]] = []

    def add(self, first: int, last: int, kind: str, symbol: str | None, cls: str | None,
            func: str | None) -> None:  # fmt: skip
        if last < first:
            return
        start = self.offsets[first - 1]
        end = self.offsets[last] if last < len(self.offsets) else len(self.text)
        while end > start and self.text[end - 1] in "\r\n":
            end -= 1
        if not self.text[start:end].strip():
            return
        attrs: dict[str, str] = {"path": self.path, "symbol_kind": kind}
        if symbol:
            attrs["symbol"] = symbol
        if cls:
            attrs["class"] = cls
        if func:
            attrs["function"] = func
        self.spans.append((start, end, Part(text="", start_line=first, end_line=last, attrs=attrs)))


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def _python_spans(text: str, path: str) -> list[tuple[int, int, Part]] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    sp = _Spans(text, path)

    def walk(body: list[ast.stmt], start: int, end: int, cls: str | None) -> None:
        pending = start  # first line not yet assigned to a segment
        for node in body:
            first, last = _first_line(node), node.end_lineno or node.lineno
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if first > pending:
                sp.add(pending, first - 1, "class_body" if cls else "module", cls, cls, None)
            if isinstance(node, ast.ClassDef):
                if cls is None and last - first + 1 > CLASS_SPLIT_LINES:
                    inner = [
                        n
                        for n in node.body
                        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                    ]
                    header_end = (_first_line(inner[0]) - 1) if inner else last
                    sp.add(first, header_end, "class", node.name, node.name, None)
                    walk(node.body, header_end + 1, last, node.name)
                else:
                    name = f"{cls}.{node.name}" if cls else node.name
                    sp.add(first, last, "class", name, cls or node.name, None)
            else:
                name = f"{cls}.{node.name}" if cls else node.name
                sp.add(first, last, "method" if cls else "function", name, cls, node.name)
            pending = last + 1
        if pending <= end:
            sp.add(pending, end, "class_body" if cls else "module", cls, cls, None)

    walk(tree.body, 1, sp.nlines, None)
    return sp.spans


def _block_spans(text: str, path: str) -> list[tuple[int, int, Part]]:
    """Blocks of about BLOCK_LINES lines, cut at a blank line when one is near."""
    sp = _Spans(text, path)
    lines = text.splitlines()
    first = 1
    while first <= len(lines):
        last = min(first + BLOCK_LINES - 1, len(lines))
        if last < len(lines):
            for cut in range(last, max(first + BLOCK_LINES // 2, first), -1):
                if not lines[cut - 1].strip():
                    last = cut
                    break
        sp.add(first, last, "block", None, None, None)
        first = last + 1
    return sp.spans


def load_code(
    text: str, *, doc_id: str, source_path: str, language: str
) -> tuple[Document, str | None]:
    """The document and, when a Python file does not parse, a warning saying so."""
    warning = None
    spans = _python_spans(text, source_path) if language == "python" else None
    if language == "python" and spans is None:
        warning = f"{source_path}: Python syntax error; indexed as line blocks instead of symbols."
    if spans is None:
        spans = _block_spans(text, source_path)
    doc = slice_document(
        doc_id=doc_id,
        kind="code",
        title=source_path,
        source_path=source_path,
        text=text,
        spans=spans,
        metadata={"language": language, "path": source_path, "lines": text.count("\n") + 1},
    )
    return doc, warning
