"""The packages whose names load on first use (``swarm._lazy``): each one's table says what
its ``import`` lines (under ``TYPE_CHECKING``, for readers and mypy) say, and every name
resolves to the object its module defines."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import swarm

PACKAGE = Path(swarm.__file__).parent

#: Each package whose ``__init__`` calls lazy_exports, by dotted name.
LAZY = sorted(
    ".".join(path.parent.relative_to(PACKAGE.parent).parts)
    for path in PACKAGE.rglob("__init__.py")
    if "lazy_exports(" in path.read_text()
)


def typing_imports(package: str) -> dict[str, str]:
    """name -> relative module, from the ``from .x import ...`` lines of the package's
    ``if TYPE_CHECKING:`` block."""
    path = PACKAGE.parent.joinpath(*package.split("."), "__init__.py")
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.level == 1
                for alias in statement.names:
                    found[alias.asname or alias.name] = f".{statement.module}"
    return found


def test_the_lazy_packages_are_the_layers_that_need_it() -> None:
    """The check below covers the packages it should (it is not vacuous)."""
    assert {"swarm.stores", "swarm.backends", "swarm.engine", "swarm.workspaces"} <= set(LAZY)


@pytest.mark.parametrize("package", LAZY)
def test_the_table_says_what_the_imports_say(package: str) -> None:
    """The runtime table, the typing imports and ``__all__`` name the same names, each from
    the same module; each resolves to its module's object and is listed by ``dir``."""
    module = importlib.import_module(package)
    table = {name: where for where, names in module._EXPORTS.items() for name in names}
    assert table == typing_imports(package)
    assert sorted(table) == sorted(module.__all__)
    for name, where in table.items():
        assert getattr(module, name) is getattr(importlib.import_module(where, package), name)
    assert set(table) <= set(dir(module))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_a_name_loads_only_its_own_module() -> None:
    """Asking ``swarm.stores`` for the URL parser imports neither store engine."""
    code = (
        "import json, sys\n"
        "from swarm.stores import parse_store_url\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('swarm.stores.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == '["swarm.stores._urls"]'


def test_a_lazy_import_shows_in_importtime() -> None:
    """``python -X importtime`` (the bench's import check, the profiles in docs/speed.md)
    lists a module a lazy name imported, like any other import."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from swarm.stores import SQLiteStore"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert {"swarm.stores._sqlite", "sqlite3"} <= names
