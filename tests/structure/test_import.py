"""``import swarm`` loads what the library needs and nothing a command, a test or a backend
SDK needs: no CLI, no claude-agent-sdk or anthropic (each loads when its backend is built),
no fake API, no bench, no trio.testing. Run in a fresh interpreter, as a user's would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    """The modules ``import swarm`` and its public names load include none of the forbidden
    ones (each name loads its layer when first asked for)."""
    assert [m for m in loaded_by("import swarm") if m.startswith("swarm.")] == []
    modules = loaded_by("import swarm; swarm.ParallelSwarmExecutor, swarm.SQLiteStore")
    assert "swarm.engine" in modules and "swarm.stores" in modules  # it did load the library
    assert heavy(modules) == []


# What `swarm --help` and `swarm validate` must never wait for (issue 15, start-up).
NOT_AT_START = (
    "trio.testing",
    "pytest",
    "swarm.bench",
    "swarm.mockapi",
    "hypercorn",
    "claude_agent_sdk",
    "anthropic",
    "mcp",
)


def loaded_by_command(*args: str) -> list[str]:
    """The modules loaded by running ``swarm <args>`` in a fresh interpreter."""
    code = (
        "import contextlib, io, json, sys\n"
        "from swarm.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({list(args)!r})\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    code, loaded = json.loads(done.stdout)
    assert code == 0, done.stderr
    return list(loaded)


def test_help_and_validate_load_no_bench_fake_api_or_sdk(tmp_path: Path) -> None:
    """`swarm --help` and `swarm validate examples/plan.yaml` (a claude plan too) import
    none of the bench, the fake API and its server, the backend SDKs, pytest."""
    example = Path(__file__).parents[2] / "examples" / "plan.yaml"
    claude = tmp_path / "claude.yaml"
    claude.write_text(
        "base: {prompt: x}\nagents: [{id: a, prompt: y}]\n"
        "backend: {name: claude, options: {model: m}}\nstore: {url: 'memory://'}\n"
    )
    for args in (("--help",), ("validate", str(example)), ("validate", str(claude))):
        loaded = loaded_by_command(*args)
        assert [
            m for m in loaded if any(m == f or m.startswith(f + ".") for f in NOT_AT_START)
        ] == []
    assert "swarm.engine" not in loaded_by_command("--help")


#: What `swarm validate` of a plan that names nothing in the store or in git must not load
#: either (issue 15, start-up): the run machinery (trio, tenacity, psutil), the logging
#: library (structlog: validate logs nothing), the store engines (the SQLite and PostgreSQL
#: layers: a plan's store URL is only parsed), the engine, timeline and merge layers, rich.
NOT_FOR_VALIDATE = (
    *NOT_AT_START,
    "trio",
    "tenacity",
    "psutil",
    "structlog",
    "sqlite3",
    "swarm.stores._sqlite",
    "swarm.stores._sqlite_db",
    "swarm.stores._postgres",
    "swarm.stores._leases",
    "swarm.stores._memory",
    "swarm.engine._executor",
    "swarm.engine._execution",
    "swarm.timeline",
    "swarm.workspaces._merge",
    "swarm.backends._simulated",
    "swarm.backends._retries",
    "swarm.backends._rehearsal",
    "rich",
)


def test_validate_loads_only_what_checking_a_plan_needs(tmp_path: Path) -> None:
    """`swarm validate` (the example plan, one on each backend with its options set, with
    `--json` and `--log-level debug` too) reads the plan with pydantic and yaml and
    imports no run machinery, logging library, store engine or rich."""
    example = str(Path(__file__).parents[2] / "examples" / "plan.yaml")
    plans = {
        "claude": "backend: {name: claude, options: {model: m, retry: {max_attempts: 2}}}",
        "anthropic": "backend: {name: anthropic, options: {model: m, max_tokens: 100}}",
        "simulated": "backend: {name: simulated, simulated: {latency_s: 0}}",
    }
    runs = [("validate", example), ("validate", example, "--json")]
    runs.append(("--log-level", "debug", "validate", example))
    for name, backend in plans.items():
        plan = tmp_path / f"{name}.yaml"
        plan.write_text(
            f"base: {{prompt: x}}\nagents: [{{id: a, prompt: y}}]\n{backend}\n"
            "store: {url: 'sqlite:///sessions/swarm.db'}\n"
        )
        runs.append(("validate", str(plan)))
    for args in runs:
        loaded = loaded_by_command(*args)
        assert "pydantic" in loaded and "yaml" in loaded and "swarm.plan" in loaded  # it read one
        heavy = [
            m for m in loaded if any(m == f or m.startswith(f + ".") for f in NOT_FOR_VALIDATE)
        ]
        assert heavy == [], args


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


def test_a_run_imports_its_backend_sdk_in_a_worker_thread() -> None:
    """preload_backend starts the claude backend's SDK import off the calling thread (a
    run calls it before opening its store), and does nothing for the simulated backend."""
    code = (
        "import json, sys, threading\n"
        "from swarm.backends import preload_backend\n"
        "assert preload_backend('simulated') is None and preload_backend('nope') is None\n"
        "seen = {}\n"
        "def audit(event, args):\n"
        "    if event == 'import' and args[0] == 'claude_agent_sdk' and not seen:\n"
        "        seen['thread'] = threading.current_thread().name\n"
        "sys.addaudithook(audit)\n"
        "thread = preload_backend('claude')\n"
        "thread.join(120)\n"
        "print(json.dumps([seen.get('thread'), 'claude_agent_sdk' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True
    )
    assert json.loads(done.stdout) == ["swarm-preload-claude", True]
