"""Group commit, the one queue both database engines (SQLite, PostgreSQL) write through.

Concurrent writers queue their writes; whichever finds no batch on its way becomes the
leader and applies the whole queue as one batch (one transaction), then every batch
queued meanwhile, until the queue is empty. So many agents pay for one commit, and
writes are applied in the order they were queued. How a batch is applied (which
thread, which connection, what a failure means for each write) is the engine's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import trio

W = TypeVar("W")


class Pending(Generic[W]):
    """One queued write; ``done`` is shared by every write of its batch (one wake-up), and
    the engine sets ``error`` on each write that failed."""

    __slots__ = ("done", "error", "write")

    def __init__(self, write: W, done: trio.Event) -> None:
        self.write = write
        self.done = done
        self.error: BaseException | None = None


class GroupCommit(Generic[W]):
    """The queue of one engine; ``apply`` makes one batch durable (or marks its errors)."""

    def __init__(self, apply: Callable[[list[Pending[W]]], Awaitable[None]]) -> None:
        self._apply = apply
        self._queue: list[Pending[W]] = []
        self._queue_done = trio.Event()  # set when the batch now queueing is applied
        self._flushing = False
        self._idle = trio.Event()
        self._idle.set()

    async def write_many(self, writes: Sequence[W]) -> None:
        """Apply ``writes`` in order in the next group commit (queued before the first
        await, so after every write queued before this call); raise the first error
        among them."""
        done = self._queue_done
        queued = [Pending(write, done) for write in writes]
        if not queued:
            return
        self._queue += queued
        if self._flushing:
            await done.wait()
        else:
            self._flushing = True
            self._idle = trio.Event()
            try:
                # The leader must finish the batch it took even if its caller is
                # cancelled: other tasks are waiting on those writes.
                with trio.CancelScope(shield=True):
                    # Let every task that is ready to run queue its write first, so
                    # they share this commit instead of each paying for its own.
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    while self._queue:
                        batch, done = self._queue, self._queue_done
                        self._queue, self._queue_done = [], trio.Event()
                        await self._apply(batch)
                        done.set()
            finally:
                self._flushing = False
                self._idle.set()
        for pending in queued:
            if pending.error is not None:
                raise pending.error

    async def wait_idle(self) -> None:
        """Return once no batch is being applied (before the connections close)."""
        await self._idle.wait()
