"""The structure's own measure: the imports of reflect/, deploy/, pipelines/, data_tools/ and benchmarks/,
read from the code (``ast``, nothing is imported), as a module graph.

Prints
  (a) the import cycles: strongly connected components of the package graph (``reflect.train``,
      ``reflect.loader``, ``deploy.export``, ...) and of the module graph;
  (b) the upward imports: a module importing a module of a higher layer under :data:`LAYERS` (the
      order docs/ARCHITECTURE.md describes), counted once per (module, imported module) pair and
      listed with every file:line.

Every ``import`` counts, at module level or inside a function (marked ``[in function]``); imports under
``if TYPE_CHECKING:`` are listed with ``-v`` but counted in neither measure (they never run).
``tests/test_structure.py`` holds the counts to their targets.

    python scripts/imports.py            # the summary and the lists
    python scripts/imports.py -v         # also every package-level edge
    python scripts/imports.py --json     # the counts as JSON
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("reflect", "deploy", "pipelines", "data_tools", "benchmarks")

#: The layer order, lowest first: a module may import modules of its own layer or below. A pattern names
#: a module and everything below it (``reflect.data`` covers ``reflect.data.synth.config``) or is a glob
#: (``deploy.*``); where several match, the longest wins (``pipelines.commands`` over ``pipelines.*``).
#: The package graph's units are a module's first two name parts (``reflect.train``, ``reflect.loader``).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("reflect", "reflect.errors", "reflect.utils", "reflect.schema")),
    ("blocks", ("reflect.nn", "reflect.faces")),
    ("data", ("reflect.data",)),
    ("losses and metrics", ("reflect.losses", "reflect.metrics")),
    ("registry", ("reflect.registry",)),
    ("variants", ("reflect.variants",)),
    ("experiment config", ("reflect.config", "reflect.config_checks")),
    ("model files", ("reflect.checkpoint", "reflect.generator_file", "reflect.bundled", "reflect.loader")),
    (
        "training and inference",
        ("reflect.train", "reflect.adapt", "reflect.inference", "reflect.work_size", "reflect.face_enhance"),
    ),
    ("deployment", ("deploy", "deploy.*")),
    ("pipelines and data tools", ("pipelines", "pipelines.*", "data_tools", "data_tools.*")),
    (
        "commands",
        (
            "reflect.commands",
            "reflect.cli",
            "reflect.__main__",
            "deploy.commands",
            "pipelines.commands",
            "data_tools.commands",
        ),
    ),
    ("benchmarks", ("benchmarks", "benchmarks.*")),
]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (internal)
    path: str  # file, relative to the repository
    line: int
    where: str  # "module", "function" or "typing"

    @property
    def at(self) -> str:
        return f"{self.path}:{self.line}"


def find_modules(repo: Path = REPO) -> dict[str, Path]:
    """Module name -> file, for every .py file under the roots."""
    modules: dict[str, Path] = {}
    for root in ROOTS:
        for path in sorted((repo / root).rglob("*.py")):
            rel = path.relative_to(repo)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with where it runs: "module" (module or class body), "function", "typing"."""
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, where))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, "typing" if where == "typing" else "function")
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_stmt(stmt, "typing")
                for stmt in child.orelse:
                    visit_stmt(stmt, where)
            else:
                visit(child, where)

    def visit_stmt(stmt: ast.stmt, where: str) -> None:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            found.append((stmt, where))
        else:
            visit(stmt, where)

    visit(tree, "module")
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest internal module that ``name`` is or lies in, else None (a library)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def read_imports(repo: Path = REPO) -> tuple[dict[str, Path], list[Import]]:
    modules = find_modules(repo)
    imports: list[Import] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        rel = str(path.relative_to(repo))
        for node, where in _import_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = module.split(".") if is_package else module.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    # ``from a import b``: the module a.b when there is one, else a
                    targets.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            for name in targets:
                target = _resolve(name, modules)
                if target is not None and target != module:
                    imports.append(Import(module, target, rel, node.lineno, where))
    return modules, list(dict.fromkeys(imports))  # ``from a import b, c`` of one module: one import


def unit_of(module: str) -> str:
    """A module's package-level unit: its first two name parts."""
    return ".".join(module.split(".")[:2])


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the longest pattern matching the module or its unit."""
    best: tuple[int, int] | None = None  # (pattern length, layer)
    candidates = {module, unit_of(module)}
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            for name in candidates:
                exact = name == pattern or name.startswith(pattern + ".")
                if exact or fnmatch.fnmatchcase(name, pattern):
                    length = len(pattern.replace("*", ""))
                    if best is None or length > best[0]:
                        best = (length, index)
    if best is None:
        raise ValueError(f"{module} is in no layer; add it to LAYERS in scripts/imports.py")
    return best[1]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components of two or more nodes, each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components, key=lambda c: (-len(c), c))


def simple_cycles(graph: dict[str, set[str]], limit: int = 100_000) -> int:
    """How many elementary circles the graph holds (each counted once, from its smallest node)."""
    count = 0
    for start in sorted(graph):
        stack = [(start, iter(sorted(t for t in graph.get(start, ()) if t >= start)))]
        on_path = {start}
        while stack and count < limit:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.discard(node)
            elif child == start:
                count += 1
            elif child not in on_path:
                on_path.add(child)
                stack.append((child, iter(sorted(t for t in graph.get(child, ()) if t >= start))))
    return count


@dataclass
class Measure:
    modules: dict[str, Path]
    imports: list[Import]
    package_cycles: list[list[str]]
    package_circles: int  # elementary circles of the package graph
    module_cycles: list[list[str]]
    upward: dict[tuple[str, str], list[Import]]  # (module, higher module) -> the import statements

    def counts(self) -> dict[str, int]:
        return {
            "modules": len(self.modules),
            "imports": len(self.imports),
            "package_cycles": len(self.package_cycles),
            "package_circles": self.package_circles,
            "module_cycles": len(self.module_cycles),
            "upward_imports": len(self.upward),
            "upward_import_statements": sum(len(found) for found in self.upward.values()),
        }


def measure(repo: Path = REPO) -> Measure:
    modules, imports = read_imports(repo)
    running = [i for i in imports if i.where != "typing"]
    module_graph: dict[str, set[str]] = defaultdict(set)
    package_graph: dict[str, set[str]] = defaultdict(set)
    for i in running:
        module_graph[i.source].add(i.target)
        if unit_of(i.source) != unit_of(i.target):
            package_graph[unit_of(i.source)].add(unit_of(i.target))
    upward: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for i in sorted(running, key=lambda i: (i.path, i.line)):
        if layer_of(i.source) < layer_of(i.target):
            upward[(i.source, i.target)].append(i)
    return Measure(
        modules=modules,
        imports=imports,
        package_cycles=strongly_connected(package_graph),
        package_circles=simple_cycles(package_graph),
        module_cycles=strongly_connected(module_graph),
        upward=dict(upward),
    )


def _edges_within(component: list[str], imports: list[Import], key: Callable[[str], str]) -> list[Import]:
    members = set(component)
    return [
        i
        for i in imports
        if i.where != "typing"
        and key(i.source) in members
        and key(i.target) in members
        and key(i.source) != key(i.target)
    ]


def report(m: Measure, verbose: bool = False) -> str:
    out: list[str] = []
    c = m.counts()
    where: dict[str, int] = defaultdict(int)
    for i in m.imports:
        where[i.where] += 1
    out.append(
        f"{c['modules']} modules, {c['imports']} internal imports "
        f"({where['module']} at module level, {where['function']} in functions, "
        f"{where['typing']} under TYPE_CHECKING, not counted)"
    )
    out.append("")
    out.append("layers, lowest first:")
    for n, (name, patterns) in enumerate(LAYERS):
        out.append(f"  {n:2d} {name}: {', '.join(patterns)}")
    for title, cycles, key in (
        (f"package-level cycles ({m.package_circles} elementary circles)", m.package_cycles, unit_of),
        ("module-level cycles", m.module_cycles, lambda s: s),
    ):
        out.append("")
        out.append(f"{title}: {len(cycles)} strongly connected components")
        for comp in cycles:
            out.append("  " + " <-> ".join(comp))
            for i in _edges_within(comp, m.imports, key):
                mark = " [in function]" if i.where == "function" else ""
                out.append(f"      {i.at}  {i.source} -> {i.target}{mark}")
    out.append("")
    out.append(
        f"upward imports (module -> module of a higher layer): {c['upward_imports']} "
        f"({c['upward_import_statements']} statements)"
    )
    for (source, target), found in m.upward.items():
        lines = ", ".join(i.at + (" [in function]" if i.where == "function" else "") for i in found)
        out.append(
            f"  {source} ({LAYERS[layer_of(source)][0]}) -> {target} ({LAYERS[layer_of(target)][0]}): {lines}"
        )
    if verbose:
        out.append("")
        out.append("package-level edges (count; t = only under TYPE_CHECKING):")
        edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
        for i in m.imports:
            if unit_of(i.source) != unit_of(i.target):
                edges[(unit_of(i.source), unit_of(i.target))].append(i)
        for (a, b), found in sorted(edges.items()):
            typing_only = all(i.where == "typing" for i in found)
            out.append(f"  {a} -> {b} ({len(found)}{', t' if typing_only else ''})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="also list every package-level edge")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to read (default: this one)")
    args = parser.parse_args(argv)
    m = measure(args.repo)
    print(json.dumps(m.counts(), indent=2) if args.json else report(m, verbose=args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
