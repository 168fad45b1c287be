"""Which file defines the names a question mentions: the symbol and path structure of code.

A change request names code: ``pytest.raises``, ``--maxfail``, ``FSCollector``,
``config.inicfg``, :func:`tmp_path`. Text retrieval matches those words wherever they
occur, in the hundred files that *use* a name as much as in the one that *defines* it.
`CodeMap` reads, from the indexed chunks of code files alone (no model, nothing about any
benchmark):

- the names each file defines: its functions, classes and methods (`Class.method` and
  `method`), module-level assignments, and its module's dotted name from the path
  (`src/pkg/sub/mod.py` -> `pkg.sub.mod`; `__init__.py` names the package);
- names re-exported under another module (`from pkg.sub.mod import thing as alias` in
  `pkg/__init__.py` makes `pkg.alias` a name of `mod.py`'s `thing`): a public API name
  leads to the file that implements it, not to the file that lists it;
- names a file registers with a call (`parser.addoption("--maxfail", ...)`,
  `add_argument("--verbose")`, `addini("testpaths", ...)`): the settings and command-line
  options a file owns.

`rank(query)` finds the code-like mentions of a query (spans in backticks or reST roles,
dotted or snake_case or CamelCase words, `--options`), resolves each to the files that
define it, and scores files by the rarity of what they define (a name defined in one file
says more than one defined in five; names defined in more than `max_files` files say
nothing). A query that mentions no defined name gives an empty ranking: the other
retrievers decide alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from retrieval.docrank import is_test_path
from retrieval.types import Chunk

_SPAN = re.compile(r"``(.+?)``|`([^`\n]+?)`")  # ``code`` and `code` / :role:`target`
_ROLE_TARGET = re.compile(r"<([^<>]+)>\s*$")
_NAME = re.compile(r"-{1,2}[A-Za-z][\w-]*|@?[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*")
_CODEISH = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b|\b\w*_\w+\b|\b[A-Z][a-z]+[A-Z]\w*\b")
_OPTION = re.compile(r"(?<![\w-])--[a-z][\w-]+")
_FROM_IMPORT = re.compile(r"^\s*from\s+(\.*[\w.]*)\s+import\s+(\([^)]*\)|[^\n#]+)", re.MULTILINE)
_REGISTER = re.compile(
    r"\.add\w*\(\s*((?:[rbuRBU]?[\"'][^\"'\n]+[\"']\s*,\s*)*[rbuRBU]?[\"'][^\"'\n]+[\"'])"
)
_STRING = re.compile(r"[\"']([^\"'\n]+)[\"']")
_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=\n]+)?=(?!=)", re.MULTILINE)
_WORD = re.compile(r"[a-z_][a-z0-9_]*")
_SOURCE_ROOTS = {"src", "lib", "python", "source"}
_FILE_EXTENSIONS = {
    ".py",
    ".pyi",
    ".toml",
    ".ini",
    ".cfg",
    ".txt",
    ".json",
    ".yaml",
    ".yml",
    ".js",
    ".ts",
}
_NOT_NAMES = {"self", "cls", "none", "true", "false", "return", "import", "from", "def"}


def module_name(path: str) -> str:
    """`src/pkg/sub/mod.py` -> `pkg.sub.mod`; a package's `__init__.py` -> the package."""
    parts = path.split("/")
    if len(parts) > 1 and parts[0] in _SOURCE_ROOTS:
        parts = parts[1:]
    stem = parts[-1].rsplit(".", 1)[0]
    parts = parts[:-1] if stem == "__init__" else [*parts[:-1], stem]
    return ".".join(parts)


@dataclass
class _File:
    path: str
    module: str
    defines: set[str] = field(default_factory=set)  # bare and Class.member names
    registers: set[str] = field(default_factory=set)  # option and setting names


@dataclass(frozen=True)
class CodeMapOptions:
    max_files: int = 4  # a name defined in more files than this identifies none of them
    export_share: float = 0.5  # of a public name's weight, for the file that re-exports it
    common_share: float = 0.1  # a plain word used in more of the files is an ordinary word


def _collect_names(f: _File, chunks: list[Chunk], text: str) -> None:
    """What a code file defines (its chunks' symbols, module-level names) and registers."""
    for c in chunks:
        for sym in str(c.metadata.get("symbols") or "").split(","):
            sym = sym.strip()
            if sym:
                f.defines.add(sym)
                f.defines.add(sym.rsplit(".", 1)[-1])
        if c.metadata.get("symbol_kind") == "module":
            f.defines.update(_ASSIGN.findall(c.text))
    for m in _REGISTER.finditer(text):
        for name in _STRING.findall(m.group(1)):
            if re.fullmatch(r"-{0,2}[A-Za-z][\w.-]*", name):
                f.registers.add(name)


class CodeMap:
    """Names to the code files that define them (see the module docstring)."""

    def __init__(self, files: dict[str, list[Chunk]], options: CodeMapOptions | None = None):
        self.options = options or CodeMapOptions()
        self._files: dict[str, _File] = {}
        self._usage: dict[str, int] = {}  # word -> files that use it
        by_module: dict[str, str] = {}
        texts: dict[str, str] = {}
        for doc_id, chunks in files.items():
            if not chunks or chunks[0].metadata.get("kind") != "code" or is_test_path(doc_id):
                continue  # a test file uses names; what it defines is not what is asked for
            path = str(chunks[0].metadata.get("source_path") or doc_id)
            f = _File(path=doc_id, module=module_name(path))
            text = "\n".join(c.text for c in chunks)
            texts[doc_id] = text
            for word in set(_WORD.findall(text.lower())):
                self._usage[word] = self._usage.get(word, 0) + 1
            _collect_names(f, chunks, text)
            self._files[doc_id] = f
            if f.module:
                by_module[f.module] = doc_id
        # qualified names: module.name for what a file defines, and re-exports
        self._qualified: dict[str, set[str]] = {}
        # public name -> the files that re-export it (`pkg/__init__.py`): a change to a public
        # name often touches the list of exports too
        self._exported_by: dict[str, set[str]] = {}
        for f in self._files.values():
            for name in f.defines:
                self._qualified.setdefault(f"{f.module}.{name}", set()).add(f.path)
            if f.module:
                self._qualified.setdefault(f.module, set()).add(f.path)
        for doc_id, text in texts.items():
            here = self._files[doc_id]
            package = (
                here.module if doc_id.endswith("__init__.py") else here.module.rpartition(".")[0]
            )
            for source, names in _FROM_IMPORT.findall(text):
                target = _resolve_module(source, package)
                owner = by_module.get(target)
                if owner is None:
                    continue
                for item in names.strip("()").split(","):
                    pieces = item.split()
                    if not pieces or not re.fullmatch(r"[A-Za-z_]\w*", pieces[0]):
                        continue
                    alias = pieces[2] if len(pieces) == 3 and pieces[1] == "as" else pieces[0]
                    definer = self._definer(target, pieces[0], by_module) or owner
                    public = f"{here.module}.{alias}"
                    self._qualified.setdefault(public, set()).add(definer)
                    if not alias.startswith("_"):
                        self._exported_by.setdefault(public, set()).add(doc_id)
        self._by_name: dict[str, set[str]] = {}
        for f in self._files.values():
            for name in f.defines | f.registers:
                self._by_name.setdefault(name.lower(), set()).add(f.path)

    def _definer(self, module: str, name: str, by_module: dict[str, str]) -> str | None:
        doc = by_module.get(module)
        if doc is not None and name in self._files[doc].defines:
            return doc
        return None

    def __len__(self) -> int:
        return len(self._files)

    def files_for(self, mention: str) -> set[str]:
        """The files that define `mention` (a dotted name, a bare name or an option)."""
        m = mention.strip().lstrip("@").rstrip("()").split("[", 1)[0].split("(", 1)[0]
        if not m or m.lower() in _NOT_NAMES or (m.startswith("__") and m.endswith("__")):
            return set()
        if m.startswith("-"):
            return set(self._by_name.get(m.lower(), ()))
        _, dot, ext = m.rpartition(".")
        if dot and "." + ext.lower() in _FILE_EXTENSIONS:  # a file name: `conftest.py`
            return {p for p in self._files if p.rsplit("/", 1)[-1] == m}
        if m in self._qualified:
            return set(self._qualified[m])
        parts = m.split(".")
        if len(parts) == 1:
            if m.islower() and m.isalpha() and self._common(m):
                return set()  # an ordinary word most files use ("name", "list"): no evidence
            return set(self._by_name.get(m.lower(), ()))
        two = ".".join(parts[-2:])  # `Class.method`
        found = {p for p, f in self._files.items() if two in f.defines}
        if found:
            return found
        for n in range(len(parts) - 1, 1, -1):  # the longest known prefix: `pkg.mark.x`
            prefix = ".".join(parts[:n])
            if prefix in self._qualified:
                return set(self._qualified[prefix])
        head = parts[0]  # `Class.attribute`: the file of the class
        if head[:1].isupper() or "_" in head.strip("_"):
            return {
                p for p in self._by_name.get(head.lower(), ()) if head in self._files[p].defines
            }
        return set()  # `gc.collect`, `e.g`: a name from outside the corpus

    def _common(self, word: str) -> bool:
        return self._usage.get(word.lower(), 0) > self.options.common_share * len(self._files)

    def rank(self, query: str) -> list[tuple[str, float]]:
        """Files ranked by the rarity of the query's code mentions they define."""
        scores: dict[str, float] = {}
        n = max(1, len(self._files))
        for mention in mentions(query):
            found = self.files_for(mention)
            if not found or len(found) > self.options.max_files:
                continue
            weight = math.log(1 + n / len(found))
            for path in found:
                scores[path] = scores.get(path, 0.0) + weight
            name = mention.strip().lstrip("@").split("(", 1)[0].split("[", 1)[0]
            for path in self._exported_by.get(name, set()) - found:
                scores[path] = scores.get(path, 0.0) + self.options.export_share * weight
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _resolve_module(source: str, package: str) -> str:
    """`from .x import` inside `pkg.sub` -> `pkg.sub.x`; absolute names stay."""
    dots = len(source) - len(source.lstrip("."))
    if not dots:
        return source
    base = package.split(".") if package else []
    if dots > 1:
        base = base[: len(base) - (dots - 1)]
    rest = source[dots:]
    return ".".join([*base, rest] if rest else base)


def mentions(query: str) -> list[str]:
    """The code-like names a query mentions, in order, each once."""
    out: list[str] = []
    for m in _SPAN.finditer(query):
        span = m.group(1) or m.group(2)
        target = _ROLE_TARGET.search(span)
        out.extend(_NAME.findall(target.group(1) if target else span))
    prose = _SPAN.sub(" ", query)
    out.extend(_OPTION.findall(prose))
    out.extend(_CODEISH.findall(prose))
    # at least one part longer than a letter: not `e.g`, `i.e`
    return list(dict.fromkeys(x for x in out if max(map(len, x.strip("-@").split("."))) > 1))
