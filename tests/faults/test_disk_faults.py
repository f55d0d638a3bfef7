"""A full disk and a store that may not be written: the run stops with one clear error
(exit 1, no traceback) and everything persisted before stays readable."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from swarm.cli import main
from swarm.stores import SQLiteStore, verify

AGENTS = "\n".join(f'  - {{id: a{i}, prompt: "task {i} {"x" * 300}"}}' for i in range(40))
PLAN = f"""\
base: {{prompt: shared}}
backend: {{name: simulated, simulated: {{latency_s: 0, jitter: 0, turns: 5}}}}
execution: {{max_parallel: 4}}
agents:
{AGENTS}
"""


def readable(path: Path) -> tuple[int, int, int]:
    """(runs, agents, messages) read back through the store's API, checksums verified."""

    async def read() -> tuple[int, int, int]:
        store = await SQLiteStore.open(path)
        try:
            runs = await store.list_runs()
            agents = [a for r in runs for a in await store.list_agents(r.run_id)]
            messages = [
                m
                for s in await store.list_sessions()
                for m in await store.get_messages(s.session_id)
            ]
            return len(runs), len(agents), len(messages)
        finally:
            await store.aclose()

    return trio.run(read)


def swarm(*args: str, cwd: Path, preexec: object = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarm", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=preexec,  # type: ignore[arg-type]
        timeout=120,
        check=False,
    )


WRITERS = ["auto", "process"]  # a 40-agent run stays on the thread path under auto


@pytest.mark.parametrize("writer", WRITERS)
def test_a_full_store_stops_the_run_with_one_clear_error(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], writer: str
) -> None:
    """SQLITE_FULL (the store's size cap: SQLite's disk-full path) ends the run with exit 1,
    `swarm: error: ... full`, and the records written before stay intact, whichever
    writer applied the commits (a thread, or the store's writer process)."""
    (in_tmp_cwd / "plan.yaml").write_text(PLAN)
    url = f"sqlite:///store.db?max_size_mb=0.2&writer={writer}"
    code = main(["run", "plan.yaml", "-q", "--store", url])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    assert "swarm: error:" in err and "SQLITE_FULL" in err and "is full" in err
    runs, agents, messages = readable(in_tmp_cwd / "store.db")
    assert runs == 1 and agents == 40 and messages > 0
    assert verify(in_tmp_cwd / "store.db").clean


@pytest.mark.parametrize("writer", WRITERS)
def test_an_os_write_failure_stops_the_run_with_one_clear_error(
    tmp_path: Path, writer: str
) -> None:
    """A real write failure from the kernel (the file-size limit, EFBIG) mid-run: exit 1,
    one error line, no traceback, and the store verifies clean afterwards."""
    (tmp_path / "plan.yaml").write_text(PLAN)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    url = f"sqlite:///store.db?writer={writer}"
    done = swarm("run", "plan.yaml", "-q", "--store", url, cwd=tmp_path, preexec=limit)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "swarm: error:" in done.stderr and "I/O error" in done.stderr
    runs, agents, messages = readable(tmp_path / "store.db")
    assert runs == 1 and agents == 40 and messages > 0
    assert verify(tmp_path / "store.db").clean


@pytest.mark.parametrize("how", ["read-only open", "file modes"])
def test_permission_denied_stops_the_run_and_leaves_the_store_as_it_was(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """A store that may be read but not written: `swarm run` exits 1 with one clear error
    and the earlier run stays readable, byte for byte.

    "file modes" is the real EACCES (chmod); root ignores modes, so as root the same
    SQLite state (SQLITE_READONLY) comes from a read-only open (`?mode=ro`)."""
    if how == "file modes" and os.geteuid() == 0:
        pytest.skip("root ignores file modes; the read-only open covers SQLITE_READONLY")
    (in_tmp_cwd / "plan.yaml").write_text(PLAN.replace("turns: 5", "turns: 1"))
    assert main(["run", "plan.yaml", "-q", "--store", "sqlite:///store.db"]) == 0
    capsys.readouterr()
    store = in_tmp_cwd / "store.db"
    before = store.read_bytes()
    url = "sqlite:///store.db?mode=ro" if how == "read-only open" else "sqlite:///store.db"
    if how == "file modes":
        os.chmod(store, 0o444)
        os.chmod(in_tmp_cwd, 0o555)
    try:
        code = main(["run", "plan.yaml", "-q", "--store", url])
    finally:
        os.chmod(in_tmp_cwd, 0o755)
        os.chmod(store, 0o600)
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "Traceback" not in out + err
    assert "swarm: error:" in err and "store.db" in err and "SQLITE_READONLY" in err
    assert store.read_bytes() == before
    assert readable(store) == (1, 40, 82)


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("fault", ["max_size_mb", "EFBIG"])
def test_a_full_disk_prints_exactly_one_line(tmp_path: Path, fault: str, writer: str) -> None:
    """A full store (SQLite's size cap, or the kernel's file-size limit) leaves exactly one
    line on stderr, the `swarm: error:` one, as the README promises; no log line beside it."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    cap = "max_size_mb=0.2&" if fault == "max_size_mb" else ""
    url = f"sqlite:///store.db?{cap}writer={writer}"
    preexec = _limit_file_size if fault == "EFBIG" else None
    done = swarm("run", "plan.yaml", "-q", "--store", url, cwd=tmp_path, preexec=preexec)
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("swarm: error: store.db: ")
