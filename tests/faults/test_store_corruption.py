"""Damaged stores: flipped bytes, records changed behind the checksum, torn writes.

Each test damages a real SQLite file, then checks that reading the damaged
record fails with a clear error, `swarm store verify` names it, and `swarm
store repair` quarantines it while every intact record stays readable.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import trio

from swarm.cli import main
from swarm.errors import IntegrityError, StoreError
from swarm.records import Checkpoint
from swarm.stores import verify
from swarm.stores._rows import checksum
from swarm.stores._sqlite import SQLiteStore

from .store_helpers import MARKER, fill_store, raw


def make_store(path: Path, **kwargs: Any) -> None:
    async def fill() -> None:
        store = await fill_store(path, **kwargs)
        await store.aclose()

    trio.run(fill)


def read_everything(path: Path) -> dict[str, int]:
    """Read every record through the store's API (checksums verified); counts per kind."""

    async def read() -> dict[str, int]:
        store = await SQLiteStore.open(path)
        try:
            runs = await store.list_runs()
            agents = [a for r in runs for a in await store.list_agents(r.run_id)]
            sessions = await store.list_sessions()
            messages = [m for s in sessions for m in await store.get_messages(s.session_id)]
            return {
                "runs": len(runs),
                "agents": len(agents),
                "sessions": len(sessions),
                "messages": len(messages),
            }
        finally:
            await store.aclose()

    return trio.run(read)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def flip(path: Path, needle: bytes, replacement: bytes) -> None:
    """Overwrite bytes inside the file where ``needle`` is, as a bad disk sector would."""
    data = bytearray(path.read_bytes())
    at = data.find(needle)
    assert at >= 0 and data.find(needle, at + 1) < 0, "the needle must occur exactly once"
    data[at : at + len(replacement)] = replacement
    with open(path, "r+b") as f:  # same size, in place: the damage, not a rewrite
        f.write(data)


def test_a_record_changed_behind_its_checksum_is_found_and_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A raw UPDATE that bypasses the checksum: read fails, verify names it, repair moves it."""
    path = tmp_path / "store.db"
    make_store(path)
    conn = raw(path)
    conn.execute(
        "UPDATE agents SET data = replace(data, ?, 'tampered') WHERE run_id = 'run-1'"
        " AND agent_id = 'a'",
        (f"{MARKER}-1",),
    )
    (damaged,) = conn.execute("SELECT data FROM agents WHERE run_id = 'run-1' AND agent_id = 'a'")
    conn.close()

    with pytest.raises(IntegrityError, match="agents record a does not match its checksum"):
        read_everything(path)
    code, out = cli(capsys, "store", "verify", "--store", str(path))
    assert code == 1
    assert "record: agents run-1/a: checksum mismatch" in out
    code, out = cli(capsys, "store", "verify", "--store", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and report["file_ok"] is True
    assert [(p["table"], p["key"], p["kind"]) for p in report["problems"]] == [
        ("agents", "run-1/a", "record")
    ]

    code, out = cli(capsys, "store", "repair", "--store", str(path))
    assert code == 0, out
    assert "backed up the store to" in out
    assert "moved agents run-1/a to quarantine_agents: checksum mismatch" in out
    assert read_everything(path) == {"runs": 3, "agents": 5, "sessions": 3, "messages": 60}
    conn = raw(path)
    rows = conn.execute("SELECT run_id, agent_id, data, problem FROM quarantine_agents").fetchall()
    conn.close()
    assert rows == [("run-1", "a", damaged[0], rows[0][3])] and "checksum" in rows[0][3]
    (backup,) = tmp_path.glob("store.db.bak-repair-*")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert cli(capsys, "store", "verify", "--store", str(path))[0] == 0


async def test_data_that_is_not_json_is_reported_as_such(tmp_path: Path) -> None:
    """A record whose checksum matches but whose data is not JSON fails with IntegrityError."""
    path = tmp_path / "store.db"
    store = await fill_store(path, runs=1, messages=3)
    await store.aclose()
    broken = '{"uuid": "m-0-1", "content": '
    conn = raw(path)
    conn.execute(
        "UPDATE messages SET data = ?, checksum = ? WHERE uuid = 'm-0-1'",
        (broken, checksum(broken)),
    )
    conn.close()
    report = await trio.to_thread.run_sync(verify, path)
    assert [(p.table, p.key) for p in report.problems] == [("messages", "session-0/2")]
    assert "not valid JSON" in report.problems[0].problem
    store = await SQLiteStore.open(path)
    try:
        with pytest.raises(IntegrityError, match="messages record m-0-1 is not valid JSON"):
            await store.get_messages("session-0")
    finally:
        await store.aclose()


def test_flipped_bytes_in_the_file_are_found_and_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes flipped on disk inside two records (one no longer UTF-8): both are quarantined,
    everything else stays readable."""
    path = tmp_path / "store.db"
    make_store(path)
    flip(path, f"{MARKER}-2".encode(), b"MARKER-zz")
    flip(path, b"message 7 of run-0", b"\xff\xfe")

    with pytest.raises(IntegrityError, match="agents record a does not match its checksum"):
        read_everything(path)
    report = verify(path)
    assert report.file_ok
    found = {(p.table, p.key): p.problem for p in report.problems}
    assert set(found) == {("agents", "run-2/a"), ("messages", "session-0/8")}
    assert "checksum mismatch" in found["agents", "run-2/a"]
    assert "not UTF-8" in found["messages", "session-0/8"]

    code, out = cli(capsys, "store", "repair", "--store", str(path))
    assert code == 0, out
    assert read_everything(path) == {"runs": 3, "agents": 5, "sessions": 3, "messages": 59}
    after = verify(path)
    assert after.clean and after.quarantined == {"agents": 1, "messages": 1}


async def test_a_torn_last_write_in_the_wal_loses_only_that_transaction(tmp_path: Path) -> None:
    """A crash image whose WAL ends mid-frame opens cleanly with every earlier commit."""
    path = tmp_path / "store.db"
    store = await fill_store(path, runs=1, messages=2)
    from swarm.records import RunRecord

    for i in range(10):
        await store.save_run(RunRecord(run_id=f"late-{i}", plan={}))
    crash = tmp_path / "crash"
    crash.mkdir()
    # The image a power cut leaves: the files as they are while the store is open.
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{path}{suffix}", crash / f"store.db{suffix}")
    await store.aclose()
    wal = crash / "store.db-wal"
    size = wal.stat().st_size
    assert size > 4096
    os.truncate(wal, size - 2048)  # half of the last 4 KiB page: a torn frame

    report = await trio.to_thread.run_sync(verify, crash / "store.db")
    assert report.clean, report.problems
    store = await SQLiteStore.open(crash / "store.db")
    try:
        ids = {r.run_id for r in await store.list_runs()}
        assert ids >= {"run-0", *(f"late-{i}" for i in range(9))}
        assert len(await store.get_messages("session-0")) == 2
    finally:
        await store.aclose()


def test_a_truncated_database_file_is_salvaged_into_a_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file cut mid-page fails integrity_check; repair copies every readable row into a
    new file, keeps the damaged original, and the new store reads without errors."""
    path = tmp_path / "store.db"
    make_store(path, runs=4, messages=60)
    size = path.stat().st_size
    os.truncate(path, (size * 2 // 3) // 4096 * 4096 - 2048)
    damaged = path.read_bytes()

    code, out = cli(capsys, "store", "verify", "--store", str(path))
    assert code == 1 and ("file:" in out or "unreadable:" in out), out
    assert not verify(path).file_ok

    code, out = cli(capsys, "store", "repair", "--store", str(path), "--json")
    report = json.loads(out)
    kept = Path(report["original_kept_as"])
    assert kept.read_bytes() == damaged
    assert "the file itself is damaged" in report["actions"][0]
    after = verify(path)
    assert after.file_ok
    assert all(p.kind == "orphan" for p in after.problems)
    assert code == (0 if after.clean else 1)
    counts = read_everything(path)
    assert counts["runs"] == 4 and counts["messages"] > 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_orphans_are_moved_to_quarantine_bytes_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Agents of a missing run and messages and checkpoints of a missing session are orphan
    problems; repair moves them, bytes unchanged, to quarantine, and verify is clean after."""
    path = tmp_path / "store.db"
    make_store(path, runs=3, messages=5)

    async def checkpoint() -> None:
        store = await SQLiteStore.open(path)
        await store.save_checkpoint(Checkpoint("c-1", "session-1", "m-1-4", 5))
        await store.aclose()

    trio.run(checkpoint)
    conn = raw(path)
    moved = {
        table: conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY rowid").fetchall()
        for table, where in (
            ("agents", "run_id = 'run-2'"),
            ("messages", "session_id = 'session-1'"),
            ("checkpoints", "session_id = 'session-1'"),
        )
    }
    conn.execute("DELETE FROM sessions WHERE session_id = 'session-1'")
    conn.execute("DELETE FROM runs WHERE run_id = 'run-2'")
    conn.close()
    code, out = cli(capsys, "store", "verify", "--store", str(path))
    assert code == 1
    assert "orphan: messages session-1: 5 messages of session session-1, which is missing" in out
    assert "orphan: agents run-2: 2 agents of run run-2, which is missing" in out
    assert "orphan: checkpoints session-1: 1 checkpoints of session session-1" in out

    code, out = cli(capsys, "store", "repair", "--store", str(path))
    assert code == 0 and "ok: the store verifies clean" in out, out
    assert (
        "moved 2 agents of run run-2 to quarantine_agents: intact, but that run is missing" in out
    )
    assert verify(path).clean
    conn = raw(path)
    for table, rows in moved.items():
        width = len(rows[0])
        held = conn.execute(f"SELECT * FROM quarantine_{table} ORDER BY rowid").fetchall()
        assert [row[:width] for row in held] == rows  # every column as it was
        assert {row[width] for row in held} == {
            "an orphan: its run run-2 is missing"
            if table == "agents"
            else "an orphan: its session session-1 is missing"
        }
    assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 10
    assert conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 4
    conn.close()
    assert list(tmp_path.glob("store.db.bak-repair-*"))  # backed up first, as for any repair
    assert cli(capsys, "store", "repair", "--store", str(path))[1].startswith("nothing to repair")


def test_a_quarantined_session_explains_its_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once a damaged session is quarantined, its intact messages stay and verify is clean."""
    path = tmp_path / "store.db"
    make_store(path, runs=2, messages=5)
    conn = raw(path)
    conn.execute("UPDATE sessions SET data = data || ' ' WHERE session_id = 'session-0'")
    conn.close()
    assert cli(capsys, "store", "repair", "--store", str(path))[0] == 0
    report = verify(path)
    assert report.clean
    assert report.notes == ["5 messages of session session-0 kept; that session is in quarantine"]
    assert report.counts["messages"] == 10


def test_verify_refuses_a_memory_store_and_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """There is nothing to verify in memory:// or at a path with no file: exit 2, clear words."""
    code, out = cli(capsys, "store", "verify", "--store", "memory://")
    assert code == 2 and "lives in memory" in out
    code, out = cli(capsys, "store", "verify", "--store", str(tmp_path / "none.db"))
    assert code == 2 and "no store there" in out
    assert not (tmp_path / "none.db").exists()


def test_repair_of_a_clean_store_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Repairing an intact store takes no backup and leaves the file byte for byte."""
    path = tmp_path / "store.db"
    make_store(path, runs=1, messages=2)
    before = path.read_bytes()
    code, out = cli(capsys, "store", "repair", "--store", str(path))
    assert code == 0 and "nothing to repair" in out
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("store.db.bak-*"))


async def test_a_store_error_is_not_an_integrity_error_for_unreadable_text(tmp_path: Path) -> None:
    """A record that is not even UTF-8 fails to read with a StoreError naming the file."""
    path = tmp_path / "store.db"
    store = await fill_store(path, runs=1, messages=2)
    await store.aclose()
    await trio.to_thread.run_sync(flip, path, b"message 1 of run-0", b"\xff")
    store = await SQLiteStore.open(path)
    try:
        with pytest.raises(StoreError, match=str(path)):
            await store.get_messages("session-0")
    finally:
        await store.aclose()


def test_a_record_of_another_shape_behind_a_valid_checksum_is_an_integrity_error(
    tmp_path: Path,
) -> None:
    """A run row whose JSON and checksum are intact but whose fields this version does not
    know fails as IntegrityError naming table and key, not as a TypeError traceback."""
    path = tmp_path / "store.db"
    make_store(path, runs=1)
    conn = raw(path)
    (data,) = conn.execute("SELECT data FROM runs WHERE run_id = 'run-0'").fetchone()
    changed = json.dumps({**json.loads(data), "field_from_the_future": 1})
    conn.execute(
        "UPDATE runs SET data = ?, checksum = ? WHERE run_id = 'run-0'",
        (changed, checksum(changed)),
    )
    conn.close()

    async def read() -> None:
        store = await SQLiteStore.open(path)
        try:
            with pytest.raises(IntegrityError, match=r"runs record run-0 matches its checksum"):
                await store.get_run("run-0")
        finally:
            await store.aclose()

    trio.run(read)


@pytest.mark.parametrize("damage", ["1,2", "[1]", '{"uuid": "x"}'])
def test_a_message_of_another_shape_is_named_when_a_history_is_read(
    tmp_path: Path, damage: str
) -> None:
    """A message row with a matching checksum that is not one message (two JSON values,
    a list, a message missing its fields) fails as IntegrityError naming that row."""
    path = tmp_path / "store.db"
    make_store(path, runs=1)
    conn = raw(path)
    session_id, uuid = conn.execute(
        "SELECT session_id, uuid FROM messages ORDER BY seq LIMIT 1 OFFSET 3"
    ).fetchone()
    conn.execute(
        "UPDATE messages SET data = ?, checksum = ? WHERE session_id = ? AND uuid = ?",
        (damage, checksum(damage), session_id, uuid),
    )
    conn.close()

    async def read() -> None:
        store = await SQLiteStore.open(path)
        try:
            with pytest.raises(IntegrityError, match=f"messages record {uuid} "):
                await store.get_messages(session_id)
        finally:
            await store.aclose()

    trio.run(read)


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> None:
    """XOR one byte of the file in place, as a bad sector or a stray write would."""
    with open(path, "r+b") as f:
        f.seek(offset)
        (value,) = f.read(1)
        f.seek(offset)
        f.write(bytes([value ^ mask]))


@pytest.mark.parametrize("offset", [28, 29, 30, 31])
def test_a_flipped_page_count_in_the_header_is_seen_and_repaired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], offset: int
) -> None:
    """One flipped byte of the header's page count (offsets 28-31) makes every command fail
    "malformed": verify must say so too (exit 1), and repair rebuilds the store from its
    pages into a new file, keeping the damaged original as <db>.corrupt-<time>."""
    path = tmp_path / "store.db"
    make_store(path)
    flip_byte(path, offset)
    damaged = path.read_bytes()
    code, out = cli(capsys, "runs", "list", "--store", str(path))
    assert code == 1 and "malformed" in out, out

    code, out = cli(capsys, "store", "verify", "--store", str(path))
    assert code == 1, out
    assert "file: " in out and "header" in out and "bytes 28-31" in out, out
    assert path.read_bytes() == damaged

    code, out = cli(capsys, "store", "repair", "--store", str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["clean"], out
    kept = Path(report["original_kept_as"])
    assert kept.name.startswith("store.db.corrupt-") and kept.read_bytes() == damaged
    assert read_everything(path) == {"runs": 3, "agents": 6, "sessions": 3, "messages": 60}
    code, out = cli(capsys, "runs", "list", "--store", str(path))
    assert code == 0 and "run-2" in out


def test_verify_sees_every_header_byte_that_stops_the_commands(tmp_path: Path) -> None:
    """Each of the 100 header bytes flipped in turn: whenever the store then cannot be
    opened and read the way every command does, verify reports a problem."""
    original = tmp_path / "store.db"
    make_store(original, runs=2, messages=5)
    missed = []
    for offset in range(100):
        path = tmp_path / f"flip-{offset}.db"
        shutil.copyfile(original, path)
        flip_byte(path, offset)
        report = verify(path)
        try:
            read_everything(path)
        except StoreError as exc:
            if report.clean:
                missed.append((offset, str(exc)))
    assert missed == []


def test_orphan_sessions_are_seen_by_verify_and_moved_by_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sessions of a run that is gone, and forks of a session that is gone, are orphans to
    verify (exit 1) exactly as to repair, which moves them and nothing else: their own
    messages stay, explained by a note, and verify is clean after."""
    path = tmp_path / "store.db"
    make_store(path, runs=3, messages=4)

    async def forks() -> None:
        store = await SQLiteStore.open(path)
        from swarm.records import SessionRecord

        await store.save_session(
            SessionRecord("fork-of-1", "simulated", run_id="run-0", parent_session_id="session-1")
        )
        await store.save_session(
            SessionRecord(
                "fork-of-fork", "simulated", run_id="run-0", parent_session_id="fork-of-1"
            )
        )
        await store.aclose()

    trio.run(forks)
    conn = raw(path)
    conn.execute("DELETE FROM runs WHERE run_id = 'run-2'")
    conn.execute("DELETE FROM agents WHERE run_id = 'run-2'")
    conn.execute("DELETE FROM sessions WHERE session_id = 'session-1'")
    conn.execute("DELETE FROM messages WHERE session_id = 'session-1'")
    conn.close()
    code, out = cli(capsys, "store", "verify", "--store", str(path), "--json")
    found = json.loads(out)
    assert code == 1
    orphans = {(p["table"], p["key"], p["problem"]) for p in found["problems"]}
    assert orphans == {
        ("sessions", "run-2", "1 sessions of run run-2, which is missing"),
        ("sessions", "session-1", "1 forks of session session-1, which is missing"),
    }
    assert {p["kind"] for p in found["problems"]} == {"orphan"}

    code, out = cli(capsys, "store", "repair", "--store", str(path), "--json")
    repaired = json.loads(out)
    assert code == 0 and repaired["clean"], out
    moved = {(q["table"], q["key"], q["problem"]) for q in repaired["quarantined"]}
    assert moved == orphans  # the same definition: what verify named, and only that
    after = verify(path)
    assert after.clean and after.quarantined == {"sessions": 2}
    assert sorted(after.notes) == [
        "1 forks of session fork-of-1 kept; that session is in quarantine",
        "4 messages of session session-2 kept; that session is in quarantine",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty (0 bytes): expected a SQLite database"),
        (b"not a database " * 50, "not a SQLite database: expected a SQLite database"),
        (b"SQLite format 3\x00" + b"\x00" * 20, "the file is cut short (36 bytes"),
        (None, "not a swarm store: no table runs, agents, sessions"),
    ],
    ids=["empty", "foreign", "short", "sqlite-not-swarm"],
)
def test_a_file_that_is_no_store_is_damaged_to_verify_and_left_alone_by_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str
) -> None:
    """An empty file, another kind of file, a header alone and a SQLite file without
    swarm's tables: verify says what it is and what was expected (exit 1), reading
    commands stop on it in one line (exit 1), and repair leaves it byte for byte."""
    path = tmp_path / "store.db"
    if content is None:
        conn = raw(path)
        conn.execute("CREATE TABLE notes (x)")
        conn.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    code, out = cli(capsys, "store", "verify", "--store", str(path))
    assert code == 1 and expected in out.replace("\n", " "), out
    code, out = cli(capsys, "runs", "list", "--store", str(path))
    assert code == 1 and out.startswith(f"swarm: error: {path}: cannot open the store: "), out
    assert out.count("\n") == 1
    code, out = cli(capsys, "store", "repair", "--store", str(path))
    assert code == 1 and out.startswith("swarm: error:") and "untouched" in out, out
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]
