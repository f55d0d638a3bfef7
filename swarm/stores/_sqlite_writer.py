"""The SQLite store's writer process: group commits applied off this interpreter's lock.

On the thread path a batch's SQL runs on a worker thread, which shares the interpreter
lock with the trio thread: under thousands of agents a second the two take turns, and
the agents wait for their commits longer than the SQL takes. The writer process is a
second interpreter (:mod:`swarm.stores._sqlite_apply`, standard library only) with a
connection of its own to the same file: the trio thread pickles a batch of SQL into a
pipe and awaits the result, and the batch is applied by the same code as on the thread.
It commits with the store's ``synchronous`` setting before it answers, so a write is as
durable when its await returns as on the thread path.

The process ends when its stdin closes (the store closed, or this process died).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from . import _sqlite_apply
from ._sqlite_apply import Failure, Statements

_PROGRAM = str(Path(_sqlite_apply.__file__).resolve())
_CLOSE_GRACE_S = 10.0


class WriterGone(Exception):
    """The writer process exited or its pipe broke; a batch in flight may or may not be
    committed (every Statements write is idempotent: apply it again)."""


class WriterProcess:
    """One writer process for one store file (see the module doc)."""

    def __init__(self, process: trio.Process) -> None:
        self._process = process
        assert process.stdin is not None and process.stdout is not None
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._buffer = bytearray()

    @classmethod
    async def start(cls, path: Path, synchronous: str, max_size_mb: float | None) -> WriterProcess:
        """Start the process; it opens the (already created and migrated) file while the
        caller goes on: the first batch waits for that, not this call."""
        # -I: no user site, no PYTHON* variables, no script folder on sys.path (this
        # module's folder holds modules whose names could shadow the standard library's);
        # -S: no site-packages, which the program does not import.
        process = await trio.lowlevel.open_process(
            [sys.executable, "-I", "-S", _PROGRAM],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        writer = cls(process)
        settings = {"path": str(path), "synchronous": synchronous, "max_size_mb": max_size_mb}
        await writer._send(settings)
        return writer

    @property
    def pid(self) -> int:
        return self._process.pid

    async def apply(
        self, writes: Sequence[Statements]
    ) -> tuple[list[Failure | None], float, float]:
        """Apply one batch in the process: see :func:`~swarm.stores._sqlite_apply.apply_batch`."""
        await self._send(list(writes))
        header = await self._read(8)
        result: tuple[list[Failure | None], float, float] = pickle.loads(
            await self._read(int.from_bytes(header, "big"))
        )
        return result

    async def _send(self, value: object) -> None:
        try:
            await self._stdin.send_all(_sqlite_apply.frame(value))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise WriterGone(await self._why()) from exc

    async def _read(self, size: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < size:
            try:
                chunk = await self._stdout.receive_some(max(65536, size - len(buffer)))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise WriterGone(await self._why()) from exc
            if not chunk:
                raise WriterGone(await self._why())
            buffer += chunk
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    async def _why(self) -> str:
        """What the process said as it ended (its exit code and the end of its stderr)."""
        with trio.move_on_after(_CLOSE_GRACE_S):
            await self._process.wait()
        said: bytes | bytearray = b""
        assert self._process.stderr is not None
        with trio.move_on_after(1.0):
            said = await self._process.stderr.receive_some(65536)
        code = self._process.returncode
        last = said.decode(errors="replace").strip().splitlines()[-1:] if said else []
        return f"the writer process (pid {self.pid}) exited with code {code}" + (
            f": {last[0]}" if last else ""
        )

    async def aclose(self) -> None:
        """Close its stdin and wait for it to end (killed if it does not, in time)."""
        with trio.CancelScope(shield=True):
            await self._stdin.aclose()
            with trio.move_on_after(_CLOSE_GRACE_S):
                await self._process.wait()
            if self._process.returncode is None:
                self._process.kill()
                await self._process.wait()
            await self._stdout.aclose()
            if self._process.stderr is not None:
                await self._process.stderr.aclose()
