"""The import graph of the packages: arrows between packages and folders, cycles, sizes.

    python scripts/import_graph.py [--root DIR] [--package workbench] [--json]

Built with grimp (import-linter's library) from the source under DIR (default: this
repository), so it can describe any checkout, e.g. an older commit unpacked elsewhere.
It reports, for the package under study (`workbench` by default):

- its modules with their line counts (largest first), and how many exceed 500 lines;
- arrows between "folders": each subpackage (`workbench.ui`) is one folder, and the
  modules lying flat in the package form the folder `(flat)`; between the five
  packages too;
- import cycles: the strongly connected groups of modules and one shortest cycle in
  each, counted with every import and with runtime imports only (imports under
  `if TYPE_CHECKING:` left out);
- function-local imports (an `import` inside a function body), which hide arrows
  from a reader and delay cycles to run time: how many, and where.

The figures are the "before" of the planned folder restructure; run it again after.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import Counter, deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKAGES = ("workbench", "subagents", "retrieval", "sandboxes", "exports")
REPO = Path(__file__).resolve().parent.parent


def build(root: Path, *, runtime_only: bool) -> Any:
    import grimp

    sys.path.insert(0, str(root))
    try:
        return grimp.build_graph(
            *PACKAGES, exclude_type_checking_imports=runtime_only, cache_dir=None
        )
    finally:
        sys.path.remove(str(root))


def edges(graph: Any, package: str) -> dict[str, set[str]]:
    mods = {m for m in graph.modules if m == package or m.startswith(package + ".")}
    return {m: {t for t in graph.find_modules_directly_imported_by(m) if t in mods} for m in mods}


def strongly_connected(adj: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; groups of two or more modules (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(adj):
        if start in index:
            continue
        work = [(start, iter(sorted(adj[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adj[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1 or node in adj[node]:
                    out.append(sorted(group))
    return sorted(out, key=lambda g: (-len(g), g))


def shortest_cycle(adj: dict[str, set[str]], group: list[str]) -> list[str]:
    """A shortest cycle inside one strongly connected group (breadth-first from each node)."""
    members = set(group)
    best: list[str] = []
    for start in group:
        prev: dict[str, str] = {}
        queue = deque([start])
        found = None
        while queue and found is None:
            node = queue.popleft()
            for nxt in sorted(adj[node] & members):
                if nxt == start:
                    found = node
                    break
                if nxt not in prev:
                    prev[nxt] = node
                    queue.append(nxt)
        if found is None:
            continue
        path = [found]
        while path[-1] != start:
            path.append(prev[path[-1]])
        cycle = [*reversed(path), start]
        if not best or len(cycle) < len(best):
            best = cycle
    return best


def folder_of(module: str, package: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "(init)"
    return parts[1] if _is_package(module, parts) else "(flat)"


_PACKAGE_DIRS: set[str] = set()


def _is_package(module: str, parts: list[str]) -> bool:
    return ".".join(parts[:2]) in _PACKAGE_DIRS


def module_path(root: Path, module: str) -> Path:
    base = root.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def function_local_imports(path: Path, first_party: Iterable[str]) -> tuple[int, int]:
    """(all, first-party) import statements inside function bodies, each counted once."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ours = tuple(first_party)
    seen: set[int] = set()
    total = mine = 0
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                names = [("." if node.level else "") + (node.module or "")]
            total += 1
            if any(n.startswith(".") or n.split(".")[0] in ours for n in names):
                mine += 1
    return total, mine


def report(root: Path, package: str) -> dict[str, Any]:
    _PACKAGE_DIRS.clear()
    _PACKAGE_DIRS.update(
        f"{package}.{d.name}" for d in (root / package).iterdir() if (d / "__init__.py").is_file()
    )
    out: dict[str, Any] = {"package": package}
    full = build(root, runtime_only=False)
    runtime = build(root, runtime_only=True)
    mods = sorted(m for m in full.modules if m == package or m.startswith(package + "."))
    sizes = {
        m: len(module_path(root, m).read_text(encoding="utf-8").splitlines())
        for m in mods
        if module_path(root, m).is_file()
    }
    out["modules"] = len(sizes)
    out["lines"] = sum(sizes.values())
    out["over_500_lines"] = sorted(m for m, n in sizes.items() if n > 500)
    out["sizes"] = dict(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))

    pkg_arrows: Counter[str] = Counter()
    for m in full.modules:
        for t in full.find_modules_directly_imported_by(m):
            a, b = m.split(".")[0], t.split(".")[0]
            if a != b:
                pkg_arrows[f"{a} -> {b}"] += 1
    out["package_arrows"] = dict(sorted(pkg_arrows.items()))

    adj = edges(full, package)
    folder_arrows: Counter[str] = Counter()
    for m, targets in adj.items():
        for t in targets:
            a, b = folder_of(m, package), folder_of(t, package)
            if a != b:
                folder_arrows[f"{a} -> {b}"] += 1
    out["folders"] = sorted({folder_of(m, package) for m in adj})
    out["folder_arrows"] = dict(sorted(folder_arrows.items()))

    for label, graph in (("all_imports", full), ("runtime_imports", runtime)):
        g = edges(graph, package)
        groups = strongly_connected(g)
        out[f"cycles_{label}"] = [
            {"modules": grp, "shortest_cycle": " -> ".join(shortest_cycle(g, grp))}
            for grp in groups
        ]
    local: dict[str, tuple[int, int]] = {}
    for m in mods:
        path = module_path(root, m)
        if path.is_file():
            local[m] = function_local_imports(path, PACKAGES)
    out["function_local_imports"] = {
        "all": sum(a for a, _ in local.values()),
        "first_party": sum(b for _, b in local.values()),
        "by_module": {
            m: {"all": a, "first_party": b}
            for m, (a, b) in sorted(local.items(), key=lambda kv: -kv[1][0])
            if a
        },
    }
    return out


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"## Import graph of `{r['package']}`",
        "",
        f"{r['modules']} modules, {r['lines']} lines; over 500 lines: "
        + (", ".join(r["over_500_lines"]) or "none"),
        "",
        "Arrows between packages (importing module -> imported module pairs):",
        *(f"- {k}: {v}" for k, v in r["package_arrows"].items()),
        "",
        f"Folders: {', '.join(r['folders'])}. Arrows between them (module pairs):",
        *(f"- {k}: {v}" for k, v in r["folder_arrows"].items()),
        "",
    ]
    for label in ("all_imports", "runtime_imports"):
        cycles = r[f"cycles_{label}"]
        what = "all imports" if label == "all_imports" else "runtime imports (no TYPE_CHECKING)"
        lines.append(f"Import cycles, {what}: {len(cycles)} strongly connected groups")
        for c in cycles:
            lines.append(f"- {', '.join(c['modules'])}; a shortest cycle: {c['shortest_cycle']}")
        lines.append("")
    fl = r["function_local_imports"]
    lines.append(
        f"Function-local imports: {fl['all']} ({fl['first_party']} of the five packages); "
        "most in: " + ", ".join(f"{m} {v['all']}" for m, v in list(fl["by_module"].items())[:8])
    )
    lines += ["", "Module sizes (lines):"]
    lines += [f"- {m}: {n}" for m, n in r["sizes"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=REPO, help="the checkout to describe")
    ap.add_argument("--package", default="workbench", choices=PACKAGES)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args(argv)
    r = report(args.root.resolve(), args.package)
    print(json.dumps(r, indent=1) if args.json else markdown(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
