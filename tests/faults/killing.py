"""Helpers for the kill -9 suite: real `swarm` processes, killed mid-run, and store reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import yaml

from swarm import AgentResult, RunRecord, SQLiteStore

SWARM = [sys.executable, "-m", "swarm"]


def fault_plan(store_url: str, *, agents: int = 12, latency_s: float = 0.08) -> dict[str, Any]:
    """12 simulated agents, 4 at a time: two forks of others, one that always fails."""
    specs: list[dict[str, Any]] = [
        {"id": f"a{i:02d}", "prompt": f"task {i}"} for i in range(agents - 2)
    ]
    specs[5]["simulated"] = {"failure_rate": 1.0}
    specs.append({"id": "f00", "prompt": "follow up on a00", "fork_from": {"agent": "a00"}})
    specs.append({"id": "f01", "prompt": "follow up on a01", "fork_from": {"agent": "a01"}})
    return {
        "name": "fault-injection",
        "base": {"prompt": "shared context"},
        "agents": specs,
        "execution": {"max_parallel": 4},
        "backend": {
            "name": "simulated",
            "simulated": {"latency_s": latency_s, "jitter": 0.5, "turns": 3},
        },
        "store": {"url": store_url},
    }


def write_plan(folder: Path, plan: dict[str, Any]) -> Path:
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def swarm_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SWARM_STORE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Killed:
    """What one killed process left: where it was killed and what it printed before."""

    store_url: str
    kill_after_line: int
    lines: list[str] = field(default_factory=list)
    exited_first: bool = False


def swarm_process(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """A `swarm` process whose progress lines (on stderr) the caller reads as its clock."""
    return subprocess.Popen(
        [*SWARM, *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=swarm_env(),
    )


def run_and_kill(plan_path: Path, store_url: str, kill_after_line: int, cwd: Path) -> Killed:
    """Start `swarm run`, read its progress lines, and kill -9 it right after line N.

    The progress lines (base ready, started, finished...) are the clock: the
    kill lands at a point of the run's own progress, with no sleeps.
    """
    killed = Killed(store_url, kill_after_line)
    with swarm_process("run", str(plan_path), cwd=cwd) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(" ") and "s  " in line:  # a progress line
                killed.lines.append(line.strip())
                if len(killed.lines) >= kill_after_line:
                    proc.send_signal(signal.SIGKILL)
                    break
        else:
            killed.exited_first = True
        proc.stderr.close()
        code = proc.wait()
        killed.exited_first = killed.exited_first or code != -signal.SIGKILL
    return killed


@contextmanager
def swarm_run_until_started(
    plan_path: Path, cwd: Path, agents: int
) -> Iterator[subprocess.Popen[str]]:
    """A `swarm run` process, yielded once ``agents`` agents have started (read from its
    progress lines, no sleeps); whatever the block leaves running is waited for after."""
    with swarm_process("run", str(plan_path), cwd=cwd) as proc:
        assert proc.stderr is not None
        started = 0
        for line in proc.stderr:
            started += "started" in line
            if started == agents:
                break
        yield proc


def swarm_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SWARM, *args], cwd=cwd, capture_output=True, text=True, env=swarm_env(), check=False
    )


@dataclass
class StoreView:
    """A run as a store holds it, with executions counted from the sessions' messages."""

    run: RunRecord | None
    agents: dict[str, AgentResult]
    executions: dict[str, int]  # agent id -> user prompts sent (one per backend call)
    messages: dict[str, int]  # session id -> stored messages
    # Agents one of whose sessions got the same user text twice (a continued session
    # is sent a continuation message, never its task again).
    repeated: set[str] = field(default_factory=set)


def read_store(path: Path, run_id: str | None = None) -> StoreView:
    """Read one run (the only or newest one if no id) back through the SQLite store."""

    async def read() -> StoreView:
        store = await SQLiteStore.open(path)
        try:
            runs = [await store.get_run(run_id)] if run_id else await store.list_runs(limit=1)
            run = runs[0] if runs else None
            if run is None:
                return StoreView(None, {}, {}, {})
            agents = {a.agent_id: a for a in await store.list_agents(run.run_id)}
            executions: dict[str, int] = {}
            messages: dict[str, int] = {}
            repeated: set[str] = set()
            for session in await store.list_sessions(run.run_id):
                own = await store.get_messages(session.session_id)
                messages[session.session_id] = len(own)
                if session.agent_id is not None:
                    users = [m.content for m in own if m.role == "user"]
                    executions[session.agent_id] = executions.get(session.agent_id, 0) + len(users)
                    if len(set(users)) != len(users):
                        repeated.add(session.agent_id)
            return StoreView(run, agents, executions, messages, repeated)
        finally:
            await store.aclose()

    return trio.run(read)


def outcome(agent: AgentResult) -> tuple[Any, ...]:
    """What must equal between a resumed run and an uninterrupted one."""
    return (agent.status.value, agent.output, agent.turns, agent.usage, agent.cost_usd)


def json_result(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    return document
