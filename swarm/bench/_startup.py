"""Workload startup: what a person waits for before swarm does anything.

Each command runs as a user runs it, in a fresh process (the ``swarm`` script beside this
interpreter), interleaved over a few rounds; the figures are medians of wall time and of
the process's CPU time (``getrusage`` of children):

- ``swarm --help`` and ``swarm validate PLAN`` (a one-agent plan in a temporary folder),
  against their floors in the same rounds: ``python -c pass`` (the interpreter),
  ``python -c "import typer"`` (the command-line framework), and validate's: a typer
  command that reads the plan's YAML into a pydantic model (typer builds a pydantic
  adapter for each parameter, so that is typer + pydantic + yaml, nothing of swarm);
- process start to the base session's first request: ``swarm run PLAN`` (a claude plan)
  spawned with the environment of a fake Messages API served by this process, from just
  before the spawn to the first ``POST /v1/messages`` the server logs; beside it, the two
  costs that come in series before that request: ``import claude_agent_sdk`` (measured
  here) and the Claude Code CLI's own start to its first request (~0.7 s of CPU, the
  realcli workload's figure; benchmarks/README.md has the floor).

The gate checks relations of this run only: ``swarm --help`` and ``swarm validate`` import
no bench, fake API or backend SDK, and validate none of trio, structlog or a store engine
either (``python -X importtime``), and ``swarm --help`` costs at most 2.5x the bare
framework's import.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from ._child import children_cpu_s
from ._model import Check, Figure, WorkloadResult, WorkloadStatus

TITLE = "Start-up (what a person waits for)"
HELP_TARGET_S = 0.3
FIRST_REQUEST_TARGET_S = 0.8
HELP_OVER_FRAMEWORK = 2.5  # the gate: swarm --help <= 2.5 x `import typer`
NOT_AT_START = ("swarm.bench", "swarm.mockapi", "hypercorn", "claude_agent_sdk", "anthropic")
# ... and what checking a plan that names nothing in a store does not need either.
NOT_FOR_VALIDATE = (*NOT_AT_START, "trio", "structlog", "swarm.stores._sqlite")

PLAN = """\
name: bench-startup
base: {prompt: "Read the brief: bench start-up."}
agents: [{id: a, prompt: "Answer in one line."}]
defaults: {max_turns: 1}
backend: {name: claude}
store: {url: "sqlite:///swarm.db"}
"""


#: validate's floor: the same framework, parser and validator, nothing of swarm.
FLOOR_PROGRAM = """\
import sys
from pathlib import Path
from typing import Annotated
import typer, yaml
from pydantic import BaseModel

class Agent(BaseModel):
    id: str
    prompt: str

class Plan(BaseModel):
    name: str
    agents: list[Agent]

def validate(plan: Annotated[Path, typer.Argument()]) -> None:
    checked = Plan.model_validate(yaml.safe_load(plan.read_text()))
    print(f"{plan}: ok: {len(checked.agents)} agents")

app = typer.Typer(add_completion=False)
app.command()(validate)
app()
"""


def swarm_command() -> list[str]:
    """``swarm`` as installed beside this interpreter, else ``python -m swarm``."""
    script = Path(sys.executable).with_name("swarm")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "swarm"]


def _timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (which must succeed)."""
    cpu, wall = children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    wall, cpu = time.perf_counter() - wall, children_cpu_s() - cpu
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {tail}")
    return wall, cpu


def _imports(command: list[str], cwd: Path, forbidden: tuple[str, ...] = NOT_AT_START) -> list[str]:
    """The ``forbidden`` modules ``command`` (a python program) imports, from
    ``-X importtime``."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    names = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    return [n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)]


async def _first_request(command: list[str], cwd: Path) -> float:
    """Seconds from spawning ``command`` to the fake API's first messages request."""
    from ..backends import open_rehearsal

    async with open_rehearsal() as rehearsal:
        env = {**os.environ, **rehearsal.env}
        start = trio.current_time()
        done = await trio.run_process(
            command, cwd=cwd, env=env, capture_stdout=True, capture_stderr=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"swarm run exited {done.returncode}: {done.stderr[-300:]!r}")
        first = min(r.started for r in rehearsal.server.message_requests)
        return first - start


def measure(rounds: int = 5) -> dict[str, Any]:
    swarm = swarm_command()
    python = [sys.executable]
    samples: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="swarm-bench-startup-") as tmp:
        cwd = Path(tmp)
        (cwd / "plan.yaml").write_text(PLAN)
        commands = {
            "python -c pass": [*python, "-c", "pass"],
            "python -c 'import typer'": [*python, "-c", "import typer"],
            "python -c 'import claude_agent_sdk'": [*python, "-c", "import claude_agent_sdk"],
            "floor of validate": [*python, "-c", FLOOR_PROGRAM, "plan.yaml"],
            "swarm --help": [*swarm, "--help"],
            "swarm validate plan.yaml": [*swarm, "validate", "plan.yaml"],
        }
        for _ in range(rounds):
            for name, command in commands.items():
                samples.setdefault(name, []).append(_timed(command, cwd))
        first = [
            trio.run(_first_request, [*swarm, "run", "plan.yaml", "-q"], cwd)
            for _ in range(max(1, rounds // 2))
        ]
        entry = [sys.executable, "-c", "import sys; from swarm.cli import main; sys.exit(main())"]
        heavy = {
            "swarm --help": _imports([*entry, "--help"], cwd),
            "swarm validate plan.yaml": _imports(
                [*entry, "validate", "plan.yaml"], cwd, NOT_FOR_VALIDATE
            ),
        }
    return {
        "rounds": rounds,
        "commands": {
            name: {
                "wall_s": statistics.median(w for w, _ in runs),
                "cpu_s": statistics.median(c for _, c in runs),
                "walls": [w for w, _ in runs],
            }
            for name, runs in samples.items()
        },
        "first_request_s": statistics.median(first),
        "first_requests": first,
        "heavy_imports": heavy,
    }


def summarize(raw: dict[str, Any]) -> WorkloadResult:
    c = raw["commands"]
    help_s, validate_s = c["swarm --help"]["wall_s"], c["swarm validate plan.yaml"]["wall_s"]
    first = raw["first_request_s"]
    sdk = c["python -c 'import claude_agent_sdk'"]["wall_s"]
    figures = [
        Figure("swarm --help", help_s, "s", f"<= {HELP_TARGET_S}", help_s <= HELP_TARGET_S),
        Figure(
            "swarm validate plan.yaml",
            validate_s,
            "s",
            f"<= {HELP_TARGET_S}",
            validate_s <= HELP_TARGET_S,
        ),
        Figure(
            "process start -> base's first API request (claude backend)",
            first,
            "s",
            f"<= {FIRST_REQUEST_TARGET_S}",
            first <= FIRST_REQUEST_TARGET_S,
        ),
        Figure("floor: python -c pass", c["python -c pass"]["wall_s"], "s"),
        Figure("floor: import typer", c["python -c 'import typer'"]["wall_s"], "s"),
        Figure("floor of validate: typer + pydantic + yaml", c["floor of validate"]["wall_s"], "s"),
        Figure("floor: import claude_agent_sdk (in series before the CLI starts)", sdk, "s"),
        Figure("CPU: swarm --help", c["swarm --help"]["cpu_s"], "s"),
        Figure("CPU: swarm validate", c["swarm validate plan.yaml"]["cpu_s"], "s"),
    ]
    framework = c["python -c 'import typer'"]["wall_s"]
    heavy = raw["heavy_imports"]
    checks = [
        Check(
            "swarm --help and validate import no bench, fake API or backend SDK; validate "
            "no trio, structlog or SQLite store",
            not any(heavy.values()),
            "; ".join(f"{k}: {', '.join(v[:3]) or 'none'}" for k, v in heavy.items()),
        ),
        Check(
            f"swarm --help <= {HELP_OVER_FRAMEWORK:g}x import typer (same rounds)",
            help_s <= HELP_OVER_FRAMEWORK * framework,
            f"{help_s:.3f}s vs {framework:.3f}s = {help_s / framework:.2f}x",
        ),
    ]
    return WorkloadResult(
        name="startup",
        title=TITLE,
        status=WorkloadStatus.MEASURED,
        method=f"each command a fresh process, {raw['rounds']} interleaved rounds, medians of "
        "wall time; first request = spawn of a run of a one-agent claude plan to the first "
        "POST /v1/messages at a fake API served by the bench",
        figures=figures,
        checks=checks,
        data=raw,
    )


def run(rounds: int = 5) -> WorkloadResult:
    from ._realcli import available

    reason = available()
    if reason is not None:
        return WorkloadResult.skipped("startup", TITLE, reason)
    return summarize(measure(rounds))
