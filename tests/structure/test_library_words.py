"""The library speaks in its own terms: no message outside the CLI names a swarm command
or one of its flags (the CLI words the way out an error carries, see swarm.errors.Remedy).

Every string literal of every module outside ``swarm/cli`` is read, docstrings left out
(they may say which command uses a function)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import swarm

PACKAGE = Path(swarm.__file__).parent
# A command as hints spelt it (`swarm runs list`), and the flags users type.
CLI_WORDS = re.compile(
    r"`swarm [a-z]"
    r"|--(no-)?rehearse\b|--rehearse-config|--backend\b|--agent-id|--prompt\b|--since\b"
    r"|--output\b|--force\b|--store\b|--on-resume|--mode\b"
    r"|--into\b|--update-checkout|--orphans\b|--require-clean|--strategy\b"
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def cli_words(root: Path) -> list[str]:
    """``file:line: text`` of each string literal outside ``cli/`` naming the CLI."""
    said = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] == "cli" or relative.name == "__main__.py":
            continue  # the CLI's own words, and each package's own command line
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and CLI_WORDS.search(node.value)
            ):
                said.append(f"{relative}:{node.lineno}: {node.value[:80]!r}")
    return said


def test_no_library_message_names_a_command_or_flag() -> None:
    """Outside the CLI, no literal names a swarm command or flag."""
    assert cli_words(PACKAGE) == []


def test_the_check_finds_a_command_named_in_a_message(tmp_path: Path) -> None:
    """The check is not vacuous: a message naming a command is found, a docstring is not."""
    (tmp_path / "lib.py").write_text(
        '"""Used by `swarm runs list`."""\n'
        'def f():\n    raise ValueError("no run (see `swarm runs list`)")\n'
    )
    assert cli_words(tmp_path) == ["lib.py:3: 'no run (see `swarm runs list`)'"]
