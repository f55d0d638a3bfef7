"""Checkpoint benchmark: take a checkpoint, and fork at one, on a long session in SQLite.

Targets (issue 4): <= 1 ms to take a checkpoint and <= 10 ms to materialise a
fork at a checkpoint of a 1,000-message session; claude-flow documents
50-200 ms and 100-500 ms. Every figure is a median in milliseconds.

- ``create_ms``: the executor's path, a running session taking a checkpoint
  (its figures are kept as messages arrive, so this is one write);
- ``create_named_ms``: :func:`swarm.timeline._checkpoints.create_checkpoint` from the
  API/CLI on a session that has automatic checkpoints every 10 messages;
- ``fork_at_ms``: :func:`swarm.timeline._timetravel.fork_at` at the checkpoint on the
  last message: the new session's pointer plus the 1,000-message history it
  starts from, read back from the store;
- ``fork_pointer_ms``: the pointer alone (what a fork costs before any read).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from ..records import Message, SessionRecord, Usage, new_uuid
from ..stores import SQLiteStore
from ..timeline import (
    CheckpointPolicy,
    HistoryState,
    SessionCheckpoints,
    create_checkpoint,
    fork_at,
)

TARGET_CREATE_MS = 1.0
TARGET_FORK_AT_MS = 10.0


def _messages(session_id: str, count: int) -> list[Message]:
    messages = []
    parent = None
    for i in range(count):
        role = "user" if i % 2 == 0 else "assistant"
        raw = None
        if role == "assistant" and i % 10 == 1:
            raw = {
                "content": [
                    {"type": "text", "text": "editing"},
                    {
                        "type": "tool_use",
                        "id": f"t{i}",
                        "name": "Edit",
                        "input": {"file_path": f"src/f{i % 7}.py"},
                    },
                ]
            }
        message = Message(
            new_uuid(),
            session_id,
            role,
            f"message {i}: " + "lorem ipsum dolor sit amet " * 8,
            parent_uuid=parent,
            usage=Usage(input_tokens=1200, output_tokens=300) if role == "assistant" else Usage(),
            raw=raw,
        )
        messages.append(message)
        parent = message.uuid
    return messages


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


async def measure_checkpoints_async(
    path: str | Path, messages: int = 1000, repeats: int = 21
) -> dict[str, Any]:
    """The figures above for a fresh SQLite store at ``path`` (a file that must not exist)."""
    store = await SQLiteStore.open(path)
    try:
        session_id = new_uuid()
        await store.save_session(SessionRecord(session_id, "bench"))
        history = _messages(session_id, messages)
        # Fill the session as the executor would: append, observe, auto-checkpoint every 10.
        live = SessionCheckpoints(store, CheckpointPolicy(every=10), session_id, HistoryState(), [])
        for chunk in range(0, messages, 100):
            batch = history[chunk : chunk + 100]
            await store.append_messages(session_id, batch)
            for message in batch:
                await live.observe(message)

        create, named, fork, pointer = [], [], [], []
        for i in range(repeats):
            start = time.perf_counter()
            await live.take("auto", "bench")
            create.append(time.perf_counter() - start)

            start = time.perf_counter()
            checkpoint = await create_checkpoint(store, session_id, f"bench {i}")
            named.append(time.perf_counter() - start)

            start = time.perf_counter()
            record, inherited = await fork_at(store, checkpoint, backend="bench")
            fork.append(time.perf_counter() - start)
            assert len(inherited) == messages and record.fork_point == checkpoint.message_uuid

            start = time.perf_counter()
            await store.save_session(
                SessionRecord(
                    new_uuid(),
                    "bench",
                    parent_session_id=session_id,
                    fork_point=checkpoint.message_uuid,
                )
            )
            pointer.append(time.perf_counter() - start)
        create_ms, fork_ms = _median_ms(create), _median_ms(fork)
        return {
            "messages": messages,
            "repeats": repeats,
            "create_ms": create_ms,
            "create_named_ms": _median_ms(named),
            "fork_at_ms": fork_ms,
            "fork_pointer_ms": _median_ms(pointer),
            "target_create_ms": TARGET_CREATE_MS,
            "target_fork_at_ms": TARGET_FORK_AT_MS,
            "create_met": create_ms <= TARGET_CREATE_MS,
            "fork_at_met": fork_ms <= TARGET_FORK_AT_MS,
            "claude_flow_create_ms": [50, 200],
            "claude_flow_rollback_ms": [100, 500],
        }
    finally:
        await store.aclose()


def measure_checkpoints(
    path: str | Path | None = None, messages: int = 1000, repeats: int = 21
) -> dict[str, Any]:
    """Run :func:`measure_checkpoints_async` in its own trio loop (``path``: a new .db file)."""
    if path is not None:
        return trio.run(measure_checkpoints_async, Path(path), messages, repeats)
    with tempfile.TemporaryDirectory() as folder:
        return trio.run(measure_checkpoints_async, Path(folder) / "bench.db", messages, repeats)


if __name__ == "__main__":  # python -m swarm.bench._checkpoint_cost
    import json

    print(json.dumps(measure_checkpoints(), indent=2))
