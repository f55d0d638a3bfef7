"""Nothing a user types destroys a store: an export never lands on the store or any
SQLite file, never replaces a file unless --force says so, and never leaves half a file.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from swarm.cli import main

PLAN = """\
name: safety
base: {prompt: shared}
backend: {name: simulated, simulated: {latency_s: 0, jitter: 0}}
agents:
  - {id: a, prompt: do a}
  - {id: b, prompt: do b}
"""

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def ran(in_tmp_cwd: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A finished run in the default store, sessions/swarm.db; the store's path."""
    monkeypatch.delenv("SWARM_STORE", raising=False)
    (in_tmp_cwd / "plan.yaml").write_text(PLAN)
    assert main(["run", "plan.yaml", "-q"]) == 0
    capsys.readouterr()
    return in_tmp_cwd / "sessions" / "swarm.db"


def runs_listed(capsys: Capsys) -> list[str]:
    assert main(["runs", "list", "--json"]) == 0
    return [r["run_id"] for r in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize("force", [False, True])
def test_an_export_never_replaces_the_store_in_use(ran: Path, capsys: Capsys, force: bool) -> None:
    """`export -o sessions/swarm.db` (the issue's data loss) is refused, --force or not:
    exit 2, one line naming the file and why, and the store is byte for byte as it was."""
    before = ran.read_bytes()
    runs = runs_listed(capsys)
    code = main(["export", "latest", "-o", "sessions/swarm.db", *(["--force"] if force else [])])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("swarm: error: --output sessions/swarm.db: ") and err.count("\n") == 1
    assert "store" in err and "Traceback" not in out + err
    assert ran.read_bytes() == before
    assert runs_listed(capsys) == runs


def test_an_export_never_lands_on_a_database_or_a_file_of_the_store(
    ran: Path, capsys: Capsys
) -> None:
    """Any SQLite file, the -wal/-shm/-journal of one, a file with a -wal beside it, and
    every file of the store's own in its folder are refused, --force or not, unchanged."""
    folder = ran.parent
    other = folder.parent / "other.db"
    other.write_bytes(ran.read_bytes())  # a SQLite database that is not the store
    (folder.parent / "other.db-wal").write_bytes(b"w" * 10)
    (folder.parent / "emptied.db").write_bytes(b"")  # a damaged database: 0 bytes, its WAL
    (folder.parent / "emptied.db-wal").write_bytes(b"w" * 10)
    (folder / "swarm.db.bak-v1-20260101T000000Z").write_text("a backup, say")
    (folder / "swarm.db-journal").write_text("journal")
    (folder.parent / "link.json").symlink_to(ran)
    targets = {
        "other.db": "is a SQLite database",
        "other.db-wal": "is the -wal file of the SQLite database other.db",
        "other.db-shm": "is the -shm file of the SQLite database other.db",
        "emptied.db": "has a SQLite -wal file beside it",
        "sessions/swarm.db-wal": "is one of the store's files",
        "sessions/swarm.db-shm": "is one of the store's files",
        "sessions/swarm.db-journal": "is one of the store's files",
        "sessions/swarm.db.bak-v1-20260101T000000Z": "is one of the store's files",
        "sessions/../sessions/swarm.db": "is the store in use",
        "link.json": "is the store in use",  # a symlink to it
    }
    tree = {p: p.read_bytes() for p in folder.parent.rglob("*") if p.is_file()}
    for target, why in targets.items():
        for force in ([], ["--force"]):
            code = main(["export", "latest", "-o", target, *force])
            err = capsys.readouterr().err
            assert code == 2, (target, err)
            assert err.startswith(f"swarm: error: --output {target}: {why}"), err
            assert "even with --force" in err and err.count("\n") == 1
    assert {p: p.read_bytes() for p in folder.parent.rglob("*") if p.is_file()} == tree


def test_an_existing_file_is_replaced_only_with_force(ran: Path, capsys: Capsys) -> None:
    """`export -o existing.txt` (which used to overwrite silently) is refused, the file
    unchanged; with --force it is replaced whole, keeping its mode; a new file is written."""
    existing = ran.parent.parent / "existing.txt"
    existing.write_text("keep me")
    existing.chmod(0o640)
    assert main(["export", "latest", "-o", "existing.txt"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "swarm: error: --output existing.txt: already exists; pass --force to replace it\n"
    )
    assert existing.read_text() == "keep me"
    assert main(["export", "latest", "-o", "existing.txt", "--force"]) == 0
    capsys.readouterr()
    assert json.loads(existing.read_text())["run"]["name"] == "safety"
    assert existing.stat().st_mode & 0o777 == 0o640
    assert main(["export", "latest", "-o", "new.json"]) == 0
    assert "wrote" in capsys.readouterr().err
    assert json.loads((ran.parent.parent / "new.json").read_text())["run"]["name"] == "safety"
    assert not [p for p in ran.parent.parent.iterdir() if p.name.endswith(".part")]


def _small_file_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))


def test_a_failed_export_leaves_no_half_file(ran: Path) -> None:
    """An export cut off by the file-size limit (EFBIG, as a full disk would) fails in one
    line; the file it was to replace is as it was, and no partial file is left anywhere."""
    cwd = ran.parent.parent
    existing = cwd / "out.json"
    existing.write_text('{"old": true}\n')
    before = sorted(p.name for p in cwd.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "swarm", "export", "latest", "-o", "out.json", "--force"],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=_small_file_limit,
        timeout=120,
        check=False,
        env={**os.environ, "SWARM_STORE": ""},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("swarm: error: --output out.json: cannot write there (")
    assert done.stderr.count("\n") == 1
    assert existing.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in cwd.iterdir()) == before


# --- commands that only read write nothing, anywhere -----------------------------------


def tree_state(root: Path) -> dict[str, tuple[bool, int, int, int]]:
    """Every file and folder under ``root`` (itself included): kind, size, mtime, mode."""
    state = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        state[str(path.relative_to(root))] = (path.is_dir(), st.st_size, st.st_mtime_ns, st.st_mode)
    return state


READ_ONLY_COMMANDS = [
    (["runs", "list"], 0),
    (["runs", "list", "--json"], 0),
    (["runs", "show", "latest"], 0),
    (["runs", "show", "{run}", "--json"], 0),
    (["runs", "show", "nope"], 2),
    (["history", "latest", "a", "--full"], 0),
    (["sessions", "list"], 0),
    (["sessions", "tree", "latest"], 0),
    (["sessions", "show", "{session}"], 0),
    (["checkpoints", "list"], 0),
    (["checkpoints", "show", "{checkpoint}"], 0),
    (["checkpoints", "diff", "{checkpoint}", "{other_checkpoint}"], 0),
    (["export", "latest"], 0),
    (["export", "latest", "-f", "md"], 0),
    (["gc", "--dry-run", "--ttl", "0s", "--max-runs", "0"], 0),
    (["store", "verify"], 0),
    (["store", "verify", "--json"], 0),
    (["store", "repair"], 0),  # of a clean store: verifies, and changes nothing
]


@pytest.mark.parametrize(("args", "code"), READ_ONLY_COMMANDS, ids=lambda v: str(v))
def test_read_only_commands_write_nothing(
    ran: Path, capsys: Capsys, args: list[str], code: int
) -> None:
    """A store at rest (no -wal): each reading command leaves every file and folder as it
    was (names, sizes, mtimes, modes), SQLite's -wal and -shm included."""
    assert main(["runs", "show", "latest", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert main(["checkpoints", "list", "--json"]) == 0
    checkpoints = [c["checkpoint_id"] for c in json.loads(capsys.readouterr().out)]
    ids = {
        "run": run["run_id"],
        "session": run["agents"][0]["session_id"],
        "checkpoint": checkpoints[0],
        "other_checkpoint": checkpoints[1],
    }
    root = ran.parent.parent
    before = tree_state(root)
    assert not ran.with_name("swarm.db-wal").exists()  # at rest, as a finished run leaves it
    assert main([arg.format(**ids) for arg in args]) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert tree_state(root) == before


@pytest.mark.parametrize(
    "args",
    [c[0] for c in READ_ONLY_COMMANDS if "{" not in "".join(c[0])]
    + [["resume", "latest"], ["gc"], ["checkpoints", "create", "s", "--name", "n"]],
    ids=lambda v: str(v),
)
def test_an_empty_store_file_is_reported_and_left_empty(
    in_tmp_cwd: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """A 0-byte store (a truncated file, a `touch`): reading commands, and those that change
    an existing store, say what it is and what was expected (exit 1) and write nothing;
    no schema lands in it. Only `swarm run` makes a store."""
    monkeypatch.setenv("SWARM_STORE", "sqlite:///empty.db")
    (in_tmp_cwd / "empty.db").touch()
    before = tree_state(in_tmp_cwd)
    assert main(args) == 1
    out, err = capsys.readouterr()
    said = (out + err).replace("\n", " ")
    assert "Traceback" not in said
    assert "empty.db" in said and "the file is empty (0 bytes)" in said, said
    assert "expected a SQLite database" in said
    assert tree_state(in_tmp_cwd) == before


async def test_a_store_with_a_wal_is_read_with_it_and_left_as_it_was(tmp_path: Path) -> None:
    """A crash image (the file, its -wal and -shm, as a kill -9 leaves them): a read-only
    open sees the commits that are only in the -wal, and the file and -wal are unchanged."""
    from swarm.records import RunRecord
    from swarm.stores import open_store

    from .store_helpers import fill_store

    live = await fill_store(tmp_path / "store.db", runs=1, messages=2)
    for i in range(3):
        await live.save_run(RunRecord(run_id=f"late-{i}", plan={}))
    crash = tmp_path / "crash"
    crash.mkdir()
    for suffix in ("", "-wal", "-shm"):
        shutil.copyfile(f"{tmp_path / 'store.db'}{suffix}", crash / f"store.db{suffix}")
    await live.aclose()
    assert (crash / "store.db-wal").stat().st_size > 0
    before = {k: v for k, v in tree_state(crash).items() if not k.endswith("-shm")}
    async with open_store(str(crash / "store.db"), read_only=True) as store:
        ids = {r.run_id for r in await store.list_runs()}
    assert ids == {"run-0", "late-0", "late-1", "late-2"}
    after = tree_state(crash)
    assert {k: v for k, v in after.items() if not k.endswith("-shm")} == before
    assert set(after) == {*before, "store.db-shm"}


async def test_a_reader_at_rest_sees_what_a_writer_commits_later(tmp_path: Path) -> None:
    """A read-only store opened at rest reads the file as immutable; once another
    connection commits and closes (its checkpoint changes the file), the next read
    notices the change and reads afresh instead of serving stale or torn pages."""
    from swarm.records import RunRecord
    from swarm.stores import open_store

    from .store_helpers import fill_store

    path = tmp_path / "store.db"
    await (await fill_store(path, runs=1, messages=2)).aclose()
    async with open_store(str(path), read_only=True) as reader:
        assert [r.run_id for r in await reader.list_runs()] == ["run-0"]
        async with open_store(str(path)) as writer:
            for i in range(40):  # enough pages that a stale cache would show
                await writer.save_run(RunRecord(run_id=f"new-{i:02d}", plan={"x": "y" * 500}))
        assert not path.with_name("store.db-wal").exists()  # checkpointed into the file
        ids = sorted(r.run_id for r in await reader.list_runs())
    assert ids == sorted(["run-0", *(f"new-{i:02d}" for i in range(40))])
    assert not path.with_name("store.db-wal").exists()
