"""The PostgreSQL engine under :class:`~swarm.stores._postgres.PostgresStore`: a connection
pool, group commit, reads off the trio thread, and waiting out a lost server.

psycopg 3 is blocking here (its pool and connections), called from trio through
``trio.to_thread.run_sync`` with a limiter no wider than the pool, so the trio thread
never blocks. Writes go through group commit: concurrent writers queue their changes
and whichever arrives first applies the whole queue in one transaction, so many
agents pay for one commit. A connection lost (the server restarted, a network blip)
is retried with tenacity for ``retry_s`` seconds, then fails as one
:class:`~swarm.errors.StoreError` naming the server (its password masked); a write
runs again whole, in a new transaction, which is safe because every write is an
idempotent upsert. psycopg is imported only when a PostgreSQL store is opened: it is
the ``postgres`` extra.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import tenacity
import trio

from .._redaction import mask_url
from ..errors import StoreError
from ._group_commit import GroupCommit, Pending

if TYPE_CHECKING:  # the extra is imported lazily; these names only type the code
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

T = TypeVar("T")
Write = Callable[["Connection[Any]"], object]

#: The extra that brings psycopg, named in the error when it is missing.
POSTGRES_EXTRA = "swarm[postgres]"


def import_psycopg() -> tuple[ModuleType, ModuleType]:
    """psycopg and psycopg_pool, or one :class:`StoreError` naming the extra to install."""
    try:
        psycopg = importlib.import_module("psycopg")
        pool = importlib.import_module("psycopg_pool")
    except ImportError as exc:
        raise StoreError(
            f"a postgresql:// store needs psycopg, which is not installed ({exc.name}); "
            f"install the {POSTGRES_EXTRA} extra: pip install '{POSTGRES_EXTRA}'"
        ) from None
    return psycopg, pool


# SQLSTATE classes of a connection lost or refused for now (08: connection exception;
# 57P01-57P03: shutting down, crashed, cannot connect now), or of a transaction the
# server rolled back that runs again cleanly (40: deadlock, serialization failure).
_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "40")


# What a server that answered says when it refuses the connection for good: retrying
# cannot help (a wrong database, user or password, or pg_hba.conf saying no).
_REFUSED = re.compile(
    r"does not exist|authentication failed|no password supplied|pg_hba\.conf|"
    r"invalid (?:connection option|URI)|failed to resolve host"
)


class ServerUnreachable(StoreError):
    """The server stayed unreachable for the store's whole ``retry_s``."""


class PostgresDatabase:
    """One PostgreSQL database: a pool, a group-committing writer, pooled readers."""

    def __init__(
        self,
        url: str,
        conninfo: str,
        *,
        pool_size: int = 4,
        retry_s: float = 60.0,
        read_only: bool = False,
    ) -> None:
        self.url = url
        # Read-only on the server: every transaction of these connections refuses writes.
        self._connect_kwargs = (
            {"options": "-c default_transaction_read_only=on"} if read_only else {}
        )
        self.where = mask_url(url)
        self._conninfo = conninfo
        self._pool_size = pool_size
        self.retry_s = retry_s
        self._pool: ConnectionPool[Any] | None = None
        self._psycopg: ModuleType | None = None
        self._limiter = trio.CapacityLimiter(pool_size)
        self._commits = GroupCommit[Write](self._commit_batch)
        self.commits = 0  # group commits applied (how many transactions the writes took)

    # --- opening and closing ---------------------------------------------------

    async def open(self, migrate: Callable[[Connection[Any]], None]) -> None:
        """Connect (waiting out a server that is starting) and run ``migrate`` once."""
        await trio.to_thread.run_sync(self._open_sync, migrate)

    def _open_sync(self, migrate: Callable[[Connection[Any]], None]) -> None:
        psycopg, pool_module = import_psycopg()
        self._psycopg = psycopg
        # One connection first, outside the pool: a wrong password or database fails
        # here with the server's own words (the pool would only time out).
        self._transaction(lambda c: None, "cannot connect", direct=True)
        pool: ConnectionPool[Any] = pool_module.ConnectionPool(
            self._conninfo,
            kwargs=self._connect_kwargs,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            # A connection the server dropped (a restart) is found and replaced on checkout.
            check=pool_module.ConnectionPool.check_connection,
            name="swarm",
        )
        try:
            pool.open(wait=False)
            self._pool = pool
            self._transaction(migrate, "cannot open the store")
        except BaseException:
            self._pool = None
            pool.close()
            raise

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self._commits.wait_idle()
            pool, self._pool = self._pool, None
            if pool is not None:
                await trio.to_thread.run_sync(pool.close)

    # --- one transaction, retried on a lost connection ----------------------------

    def _lost(self, exc: BaseException) -> bool:
        """A connection-level failure worth retrying: the server unreachable, restarting or
        gone, or a transaction it rolled back (a deadlock); not a refusal such as a wrong
        password or a missing database."""
        psycopg = self._psycopg
        if psycopg is None:
            return False
        if isinstance(exc, psycopg.InterfaceError):
            return True
        if isinstance(exc, psycopg.OperationalError):
            state: str | None = exc.sqlstate
            if state is None:  # failed to connect: libpq says why only in words
                return _REFUSED.search(str(exc)) is None
            return state.startswith(_TRANSIENT_STATES)
        pool_timeout = importlib.import_module("psycopg_pool").PoolTimeout
        return isinstance(exc, pool_timeout)

    def _transaction(
        self, work: Callable[[Connection[Any]], T], doing: str, *, direct: bool = False
    ) -> T:
        """Run ``work`` in one transaction on a pooled connection, retrying a lost server."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(self._lost),
            stop=tenacity.stop_after_delay(self.retry_s),
            wait=tenacity.wait_exponential(multiplier=0.05, max=2.0),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._direct(work) if direct else self._once(work)
        except StoreError:
            raise
        except Exception as exc:
            if self._lost(exc):
                raise ServerUnreachable(
                    f"{self.where}: {doing}: {_explain(exc)} (the server was unreachable "
                    f"for {self.retry_s:g}s; nothing more was written)"
                ) from None
            if self._psycopg is not None and isinstance(exc, self._psycopg.Error):
                raise StoreError(f"{self.where}: {doing}: {_explain(exc)}") from None
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _direct(self, work: Callable[[Connection[Any]], T]) -> T:
        assert self._psycopg is not None
        timeout = max(1, min(10, round(self.retry_s) or 10))
        with (
            self._psycopg.connect(
                self._conninfo, connect_timeout=timeout, **self._connect_kwargs
            ) as conn,
            conn.transaction(),
        ):
            return work(conn)

    def _once(self, work: Callable[[Connection[Any]], T]) -> T:
        pool = self._pool
        if pool is None:
            raise StoreError(f"{self.where}: the store is closed")
        with pool.connection(timeout=min(10.0, self.retry_s or 10.0)) as conn, conn.transaction():
            return work(conn)

    # --- group commit ------------------------------------------------------------

    async def write(self, write: Write) -> None:
        """Apply ``write`` in the next group commit; raise its :class:`StoreError` if it failed."""
        await self.write_many((write,))

    async def write_many(self, writes: Sequence[Write]) -> None:
        """Apply ``writes`` in order in the next group commit (queued before the first
        await, so after every write queued before this call); raise the first
        :class:`StoreError` among them."""
        await self._commits.write_many(writes)

    async def _commit_batch(self, batch: list[Pending[Write]]) -> None:
        await trio.to_thread.run_sync(self._apply, batch, limiter=self._limiter)

    def _apply(self, batch: list[Pending[Write]]) -> None:
        psycopg = self._psycopg

        def whole(conn: Connection[Any]) -> None:
            for item in batch:
                item.write(conn)

        def isolated(conn: Connection[Any]) -> None:
            # A write failed: each in a savepoint of its own, so only the failing one fails.
            for item in batch:
                item.error = None
                try:
                    with conn.transaction():
                        item.write(conn)
                except StoreError as exc:  # e.g. a damaged lease record, named
                    item.error = exc
                except Exception as exc:
                    if psycopg is None or not isinstance(exc, psycopg.DatabaseError):
                        raise
                    if self._lost(exc):
                        raise
                    item.error = StoreError(f"{self.where}: write failed: {_explain(exc)}")

        try:
            try:
                self._transaction(whole, "commit failed")
                self.commits += 1
            except ServerUnreachable:
                raise
            except StoreError:
                self._transaction(isolated, "commit failed")
        except StoreError as exc:
            for item in batch:
                item.error = item.error or exc

    async def read(self, read: Callable[[Connection[Any]], T]) -> T:
        """Run ``read`` on a pooled connection in a worker thread."""
        return await trio.to_thread.run_sync(
            self._transaction, read, "read failed", limiter=self._limiter
        )

    def run_sync(self, work: Callable[[Connection[Any]], T], doing: str) -> T:
        """``work`` in one transaction, from a thread (verify and repair are blocking)."""
        return self._transaction(work, doing)

    def close_sync(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.close()


def _explain(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first
