"""Schema versions, migrations with a backup first, and private file modes of the SQLite store."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
import trio

from swarm.cli import main
from swarm.errors import IntegrityError, StoreError
from swarm.stores._migrations import MIGRATIONS, Migration, add_column, latest_version, upgrade
from swarm.stores._sqlite import SCHEMA, SQLiteStore

from .store_helpers import fill_store, raw


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_v1(path: Path) -> None:
    """Turn a current store file into a genuine schema-v1 file (before the runs index)."""
    conn = raw(path)
    conn.execute("DROP INDEX runs_by_created")
    conn.execute("PRAGMA user_version = 1")
    conn.close()


async def test_store_files_and_new_folder_are_private(tmp_path: Path) -> None:
    """The database, its -wal and -shm are 0600 and a folder the store creates is 0700."""
    path = tmp_path / "new" / "store.db"
    store = await fill_store(path, runs=1, messages=2)
    try:
        wal, shm = path.with_name("store.db-wal"), path.with_name("store.db-shm")
        assert wal.exists() and shm.exists()
        assert {p.name: mode(p) for p in (path, wal, shm)} == {
            "store.db": 0o600,
            "store.db-wal": 0o600,
            "store.db-shm": 0o600,
        }
        assert mode(path.parent) == 0o700
    finally:
        await store.aclose()


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask022", "umask000"])
def test_every_missing_folder_is_private_whatever_the_umask(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], umask: int
) -> None:
    """`swarm run` on a store three new folders deep makes each of them 0700 and the
    file 0600 under umask 022 and 000, and leaves the existing folder above as it was."""
    os.chmod(in_tmp_cwd, 0o755)
    (in_tmp_cwd / "plan.yaml").write_text(
        "base: {prompt: shared}\nagents: [{id: a, prompt: task}]\n"
        "backend: {name: simulated, simulated: {latency_s: 0, jitter: 0}}\n"
    )
    old = os.umask(umask)
    try:
        code = main(["run", "plan.yaml", "-q", "--store", "sqlite:///a/b/c/m.db"])
    finally:
        os.umask(old)
    capsys.readouterr()
    assert code == 0
    made = {name: mode(in_tmp_cwd / name) for name in ("a", "a/b", "a/b/c", "a/b/c/m.db")}
    assert made == {"a": 0o700, "a/b": 0o700, "a/b/c": 0o700, "a/b/c/m.db": 0o600}
    assert mode(in_tmp_cwd) == 0o755


async def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    """Opening a store in an existing folder (like sessions/) never changes that folder's mode."""
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    store = await SQLiteStore.open(folder / "swarm.db")
    await store.aclose()
    assert mode(folder) == 0o755
    assert mode(folder / "swarm.db") == 0o600


async def test_a_v1_file_migrates_forward_after_a_private_backup(tmp_path: Path) -> None:
    """A v1 file opens as the latest version, gains the runs index, keeps its records,
    and leaves a 0600 backup of the v1 file beside it."""
    path = tmp_path / "store.db"
    store = await fill_store(path, runs=2, messages=3)
    await store.aclose()
    make_v1(path)

    store = await SQLiteStore.open(path)
    try:
        assert [r.run_id for r in await store.list_runs()] == ["run-1", "run-0"]
        assert len(await store.get_messages("session-0")) == 3
        assert store.backup_taken is not None
        backup = store.backup_taken
    finally:
        await store.aclose()
    conn = raw(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version() == 2
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "runs_by_created" in names
    conn.close()

    assert backup.name.startswith("store.db.bak-v1-")
    assert mode(backup) == 0o600
    old = raw(backup)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert old.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    old.close()

    # Opening the migrated file again takes no second backup.
    store = await SQLiteStore.open(path)
    await store.aclose()
    assert store.backup_taken is None
    backups = await trio.to_thread.run_sync(lambda: list(tmp_path.glob("store.db.bak-*")))
    assert [p.name for p in backups] == [backup.name]


def test_an_injected_migration_adds_a_column_once(tmp_path: Path) -> None:
    """A v3 migration in a list given to `upgrade` runs once; a second upgrade is a no-op."""
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path, isolation_level=None)
    upgrade(conn, path, SCHEMA)
    calls: list[int] = []

    def add_note(c: sqlite3.Connection) -> None:
        calls.append(1)
        add_column(c, "runs", "note", "TEXT")

    steps = (*MIGRATIONS, Migration(3, "a note on runs", apply=add_note))
    backup = upgrade(conn, path, SCHEMA, steps)
    assert backup is not None and backup.name.startswith("store.db.bak-v2-")
    assert upgrade(conn, path, SCHEMA, steps) is None
    assert calls == [1]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    assert "note" in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    conn.close()


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """A migration that fails rolls back completely: same version, same tables, backup kept."""
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path, isolation_level=None)
    upgrade(conn, path, SCHEMA)
    conn.execute("INSERT INTO runs VALUES ('r', 't', '{}', 'x')")
    steps = (
        *MIGRATIONS,
        Migration(3, "a table", "CREATE TABLE extra (x);"),
        Migration(4, "broken", "ALTER TABLE no_such_table ADD COLUMN y;"),
    )
    with pytest.raises(StoreError, match=r"migration to schema v4 \(broken\) failed.*unchanged"):
        upgrade(conn, path, SCHEMA, steps)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "extra" not in names
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    conn.close()
    assert len(list(tmp_path.glob("store.db.bak-v2-*"))) == 1


def newer_file(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    upgrade(conn, path, SCHEMA)
    conn.execute("INSERT INTO runs VALUES ('r', 't', '{}', 'x')")
    conn.execute("PRAGMA user_version = 99")
    conn.close()


async def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A file from a newer swarm is not opened, not changed, and not backed up."""
    path = tmp_path / "store.db"
    newer_file(path)
    before = path.read_bytes()
    with pytest.raises(IntegrityError, match="schema version 99 is newer"):
        await SQLiteStore.open(path)
    assert await trio.to_thread.run_sync(path.read_bytes) == before
    assert not await trio.to_thread.run_sync(lambda: list(tmp_path.glob("store.db.bak-*")))


def test_the_cli_explains_a_newer_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm runs list` on a newer file prints one clear error line and exits 1."""
    path = tmp_path / "store.db"
    newer_file(path)
    code = main(["runs", "list", "--store", str(path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "swarm: error:" in err and "newer than this swarm understands" in err
    assert "Traceback" not in err


def test_a_read_only_command_reads_an_older_file_without_migrating_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`runs list` of a v1 file lists its runs and leaves it v1, byte for byte, with no
    backup: the next command that writes migrates it."""
    path = tmp_path / "store.db"
    trio.run(lambda: _filled_and_closed(path))
    make_v1(path)
    before = path.read_bytes()
    assert main(["runs", "list", "--json", "--store", str(path)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]


async def _filled_and_closed(path: Path) -> None:
    await (await fill_store(path, runs=2, messages=3)).aclose()
