"""A read-only store opened while the file is at rest (no ``-wal``) reads it as an
immutable file; a writer that starts afterwards commits to a new ``-wal`` and leaves
the main file untouched until it checkpoints. The reader must notice the ``-wal`` and
see those commits (``swarm ui`` and ``swarm runs show`` follow live runs this way)."""

from __future__ import annotations

from pathlib import Path

from swarm import RunRecord, SQLiteStore


async def test_a_reader_opened_at_rest_sees_a_writer_that_starts_later(tmp_path: Path) -> None:
    path = tmp_path / "swarm.db"
    first = await SQLiteStore.open(path)
    await first.save_run(RunRecord(run_id="old", plan={}))
    await first.aclose()
    assert not path.with_name("swarm.db-wal").exists()  # at rest

    reader = await SQLiteStore.open(path, read_only=True)
    writer = await SQLiteStore.open(path)
    try:
        assert [r.run_id for r in await reader.list_runs()] == ["old"]
        await writer.save_run(RunRecord(run_id="new", plan={}))
        assert {r.run_id for r in await reader.list_runs()} == {"old", "new"}
        await writer.save_run(RunRecord(run_id="newer", plan={}))
        assert await reader.get_run("newer") is not None
    finally:
        await writer.aclose()
        await reader.aclose()
