"""Where the trio thread waits in the overhead workload: the time it spends in trio's
I/O wait (no task runnable) over one run, by twentieths of the run, and the longest
waits. Idle time there is time the run waits for its store rather than for Python.

    N=10000 K=sqlite python benchmarks/trio_idle.py

It runs ``swarm.bench._overhead.measure_here(N, 64, K)`` in this process with a trio
instrument around each I/O wait.
"""

from __future__ import annotations

import os
import sys
import time

import trio

from swarm.bench._overhead import measure_here


class IdleClock(trio.abc.Instrument):
    """The start and length of each of the run's I/O waits."""

    def __init__(self) -> None:
        self.waits: list[tuple[float, float]] = []
        self._since = 0.0

    def before_io_wait(self, timeout: float) -> None:
        self._since = time.perf_counter()

    def after_io_wait(self, timeout: float) -> None:
        self.waits.append((self._since, time.perf_counter() - self._since))


def main() -> int:
    n = int(os.environ.get("N", "10000"))
    kind = os.environ.get("K", "sqlite")
    clock = IdleClock()
    raw = measure_here(n, 64, kind, instruments=[clock])
    if not clock.waits:
        print("no I/O waits recorded")
        return 1
    first, last = clock.waits[0][0], clock.waits[-1][0]
    span = max(last - first, 1e-9) / 20
    shares = [0.0] * 21
    for since, length in clock.waits:
        shares[int((since - first) / span)] += length
    idle = sum(length for _, length in clock.waits)
    print(
        f"{kind}: {n / raw['wall_s']:,.0f} agents/s over {raw['wall_s']:.2f} s; the trio "
        f"thread waited {idle:.2f} s in {len(clock.waits):,} I/O waits"
    )
    print("waited, ms, by twentieth of the run: " + " ".join(f"{s * 1e3:.0f}" for s in shares))
    longest = sorted(clock.waits, key=lambda wait: -wait[1])[:5]
    print(
        "longest waits (s into the run, ms): "
        + ", ".join(f"{since - first:.2f}: {length * 1e3:.1f}" for since, length in longest)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
