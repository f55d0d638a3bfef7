"""The layers of swarm, declared once, and the import rules that keep them visible.

Every module of the package is parsed (no import is run) and each import it makes is
read, wherever it is: at the top, inside a function, or under ``TYPE_CHECKING``. The
rules: no import cycle between modules; no module imports a higher layer than its
own; and no module imports a private module (``_name``) of another package, only the
names that package's ``__init__`` re-exports (the core's private modules, which are
the top package's own, are open to every layer).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import swarm

PACKAGE = Path(swarm.__file__).parent

#: The layers, lowest first: a module may import its own layer and any layer below it.
#: Each layer is a list of module prefixes; ``swarm.`` + a core name covers that module.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("swarm.errors", "swarm.records", "swarm.events", "swarm._")),
    ("mockapi", ("swarm.mockapi",)),
    ("stores", ("swarm.stores",)),
    ("backends", ("swarm.backends",)),
    ("plan", ("swarm.plan",)),
    ("timeline", ("swarm.timeline",)),
    ("workspaces", ("swarm.workspaces",)),
    ("engine", ("swarm.engine",)),
    ("telemetry", ("swarm.telemetry",)),
    ("ui", ("swarm.ui",)),
    ("testing", ("swarm.testing",)),
    ("bench", ("swarm.bench",)),
    ("cli", ("swarm.cli", "swarm.__main__")),
    ("api", ("swarm",)),  # swarm/__init__.py: the public API re-exports every layer
]


def layer_of(module: str) -> int | None:
    """The index of ``module``'s layer in :data:`LAYERS`, or None when it has none."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            matches = matches or (prefix.endswith("._") and module.startswith(prefix))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return best[1] if best is not None else None


def modules(root: Path) -> dict[str, Path]:
    """Every module under package ``root``, by dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(module: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every import of the package in ``module``."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    top = module.split(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == top:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != top:
                continue
            for alias in node.names:  # `from pkg import submodule` imports that module
                sub = f"{target}.{alias.name}"
                yield (sub if sub in known else target), node.lineno


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {module it imports: the first line that does}."""
    found = modules(root)
    known = set(found)
    graph: dict[str, dict[str, int]] = {}
    for module, path in found.items():
        edges = graph.setdefault(module, {})
        for target, line in imports(module, path, known):
            if target != module:
                edges.setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(root: Path) -> list[str]:
    """Every broken rule of the package at ``root``, one line each."""
    graph = import_graph(root)
    problems = []
    for module in sorted(graph):
        if layer_of(module) is None:
            problems.append(f"{module} is in no layer (declare it in LAYERS)")
    for module, edges in sorted(graph.items()):
        mine = layer_of(module)
        for target, line in sorted(edges.items()):
            theirs = layer_of(target)
            where = f"{module}:{line} imports {target}"
            if mine is not None and theirs is not None and theirs > mine:
                problems.append(f"{where}: {LAYERS[mine][0]} may not import {LAYERS[theirs][0]}")
            owner, _, name = target.rpartition(".")
            if (
                name.startswith("_")
                and owner != "swarm"
                and not (module == owner or module.startswith(owner + "."))
            ):
                problems.append(f"{where}: a private module of another package")
    problems += [f"import cycle: {' <-> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def test_every_module_keeps_the_layer_rules() -> None:
    """No cycle, no import of a higher layer, no private module of another package."""
    assert violations(PACKAGE) == []


def test_the_layer_table_names_only_what_exists() -> None:
    """Each layer of the table holds at least one module (a renamed package cannot leave a
    stale entry behind that silently matches nothing)."""
    names = set(modules(PACKAGE))
    for layer, prefixes in LAYERS:
        assert any(layer_of(m) == [n for n, _ in LAYERS].index(layer) for m in names), layer
        assert prefixes


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("from ..cli import app\n", "stores may not import cli"),
        ("from ..engine._journal import Journal\n", "a private module of another package"),
        ("if TYPE_CHECKING:\n    from ..engine import Journal\n", "stores may not import engine"),
        ("def f():\n    from ..plan import Plan\n", "stores may not import plan"),
    ],
    ids=["upward", "private", "type-checking", "in-a-function"],
)
def test_the_rules_catch_what_they_forbid(tmp_path: Path, source: str, problem: str) -> None:
    """Each rule fails a package that breaks it, wherever the import is written."""
    root = tmp_path / "swarm"
    for package in ("stores", "cli", "engine", "plan"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "engine" / "_journal.py").write_text("class Journal: ...\n")
    (root / "cli" / "app.py").write_text("app = None\n")
    (root / "stores" / "_bad.py").write_text(source)
    assert any(problem in line for line in violations(root)), violations(root)


def test_a_cycle_is_caught(tmp_path: Path) -> None:
    """Two modules of one layer importing each other (even for typing only) are a cycle."""
    root = tmp_path / "swarm"
    (root / "engine").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "engine" / "__init__.py").write_text("")
    (root / "engine" / "_a.py").write_text("from ._b import B\n")
    (root / "engine" / "_b.py").write_text("if TYPE_CHECKING:\n    from ._a import A\n")
    assert violations(root) == ["import cycle: swarm.engine._a <-> swarm.engine._b"]


#: The CLI's command modules (one per command group): composed by cli/app.py only.
COMMAND_MODULES = {
    f"swarm.cli._{name}"
    for name in (
        "run",
        "validate",
        "resume",
        "runs",
        "sessions",
        "timetravel",
        "gc",
        "store",
        "bench",
        "mock_api",
        "changes",
        "ui",
    )
}


def test_command_modules_never_import_each_other() -> None:
    """What two commands share lives in a module of its own, never in one of them; and only
    cli/app.py composes them (no command registers itself)."""
    graph = import_graph(PACKAGE)
    assert set(graph) >= COMMAND_MODULES
    for module in sorted(COMMAND_MODULES):
        assert not COMMAND_MODULES & set(graph[module]), module
    importers = {m for m, edges in graph.items() if COMMAND_MODULES & set(edges)}
    assert importers <= {"swarm.cli.app"}
    # cli/app.py composes them by name, each imported when its command runs.
    from swarm.cli.app import COMMANDS

    assert {f"swarm.cli.{command.module}" for command in COMMANDS.values()} == COMMAND_MODULES
