"""``import swarm`` loads what the library needs and nothing a command, a test or a backend
SDK needs: no CLI, no claude-agent-sdk or anthropic (each loads when its backend is built),
no fake API, no bench, no trio.testing. Run in a fresh interpreter, as a user's would."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "swarm.cli",
    "swarm.mockapi",
    "swarm.bench",
    "swarm.testing",
    "swarm.backends.claude._backend",
    "swarm.backends.anthropic._backend",
    "claude_agent_sdk",
    "anthropic",
    "mcp",
    "trio.testing",
    "pytest",
    "typer",
    "hypercorn",
    "matplotlib",
    "swarm.telemetry",
    "swarm.ui",
    "opentelemetry",
    "starlette",
    "jinja2",
)


def loaded_by(statement: str) -> list[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]


def test_import_swarm_loads_only_the_library() -> None:
    """The modules ``import swarm`` loads include none of the forbidden ones."""
    modules = loaded_by("import swarm")
    assert "swarm.engine" in modules and "swarm.stores" in modules  # it did load the library
    assert heavy(modules) == []


def test_reading_a_plan_and_opening_a_store_load_no_backend_sdk() -> None:
    """Validating a plan (every backend's options included) and the registry stay light."""
    statement = (
        "import swarm; from swarm.backends import BACKENDS; "
        "swarm.parse_plan('base: {prompt: x}\\nagents: [{id: a, prompt: y}]\\n"
        "backend: {name: claude, options: {model: m, retry: {max_attempts: 2}}}\\n')"
    )
    assert heavy(loaded_by(statement)) == []


def test_the_check_sees_a_heavy_import() -> None:
    """The check is not vacuous: building the claude backend's module loads its SDK."""
    modules = loaded_by("import swarm.backends.claude._backend")
    assert "claude_agent_sdk" in heavy(modules)
