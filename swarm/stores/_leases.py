"""Run leases: at most one process drives a run (and so resumes its sessions) at a time.

A lease is a named row in the store: an owner id (``host:pid:random``) and an
expiry in wall-clock seconds. Taking it is one atomic compare-and-set in the
store; the holder renews it from a task while the run is alive. Another
process may take it over only once it has expired, or at once when its holder
is provably dead: a process of this same host whose pid no longer exists.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable

import psutil
import trio

from .._log import get_logger
from ..errors import LeaseHeld, StoreError
from ..records import Lease
from ._protocol import Store

log = get_logger("swarm.leases")

Clock = Callable[[], float]


def run_lease_name(run_id: str) -> str:
    return f"run:{run_id}"


def new_owner_id() -> str:
    """``host:pid:random``: unique per process and per executor within it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` is a process of this host that no longer runs.

    A reused pid makes a dead owner look alive, which only delays a takeover
    until the lease expires; it never lets two live processes hold one lease.
    """
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


class RunLease:
    """Holds one lease for the life of a run: acquire, renew in a task, release."""

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        owner: str | None = None,
        ttl_s: float = 30.0,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.name = name
        self.owner = owner or new_owner_id()
        self.ttl_s = ttl_s
        self.clock = clock
        self.lost: Lease | None = None

    async def acquire(self) -> Lease:
        """Take the lease, or raise :class:`LeaseHeld` naming its live holder and expiry."""
        lease = await self.store.acquire_lease(self.name, self.owner, self.ttl_s, now=self.clock())
        if lease.owner != self.owner and owner_is_dead(lease.owner):
            log.warning("lease.taken_over", lease=self.name, dead_owner=lease.owner)
            lease = await self.store.acquire_lease(
                self.name, self.owner, self.ttl_s, now=self.clock(), steal_from=lease.owner
            )
        if lease.owner != self.owner:
            raise LeaseHeld(
                f"{self.name.replace(':', ' ', 1)} is held by {lease.describe()} "
                "(a live process is running it); wait for it to end, or for the lease to "
                "expire if that process is hung"
            )
        return lease

    async def keep_renewed(self, on_lost: Callable[[Lease], None]) -> None:
        """Renew every third of the ttl until cancelled; call ``on_lost`` if another owner
        took the lease (this process was paused past the expiry) and stop."""
        while True:
            await trio.sleep(self.ttl_s / 3)
            try:
                lease = await self.store.acquire_lease(
                    self.name, self.owner, self.ttl_s, now=self.clock()
                )
            except StoreError as exc:  # a busy store: try again at the next tick
                log.warning("lease.renew_failed", lease=self.name, error=str(exc))
                continue
            if lease.owner != self.owner:
                self.lost = lease
                log.error("lease.lost", lease=self.name, holder=lease.owner)
                on_lost(lease)
                return

    async def release(self) -> None:
        if self.lost is None:
            await self.store.release_lease(self.name, self.owner)
