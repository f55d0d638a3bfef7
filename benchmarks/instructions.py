"""Instructions per agent of the overhead workload, counted by valgrind: a figure that,
unlike the rate or the CPU time, hardly moves with the load of this VM (runs of the same
tree differ by up to 3 %, as its group commits do), so a change of a few per cent shows
in a pair or two of runs.

    K=sqlite python benchmarks/instructions.py /path/to/old /path/to/new

For each tree it runs ``swarm.bench._overhead.measure_here(N, 64, K)`` under
``valgrind --tool=callgrind`` at N=500 and N=2500 (the two trees at once, one per core;
``PYTHONHASHSEED=0``) and prints the difference over 2,000 agents: the run's process
only (the SQLite store's writer process is not followed). It needs valgrind (Debian's
``valgrind`` package) and takes about two minutes. Under valgrind the run is some fifty
times slower, so its group commits hold fewer agents than at full speed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

CODE = "from swarm.bench._overhead import measure_here; measure_here({n}, 64, {kind!r})"
SMALL, LARGE = 500, 2500


def instructions(tree: str, n: int, kind: str) -> int:
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            CODE.format(n=n, kind=kind),
        ],
        env={**os.environ, "PYTHONPATH": tree, "PYTHONHASHSEED": "0"},
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{tree}: the run under valgrind failed\n{done.stderr[-2000:]}")
    return int(found[1].replace(",", ""))


def per_agent(tree: str, kind: str) -> tuple[float, int]:
    small, large = instructions(tree, SMALL, kind), instructions(tree, LARGE, kind)
    return (large - small) / (LARGE - SMALL), small


def main(trees: list[str]) -> int:
    kind = os.environ.get("K", "sqlite")
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda tree: per_agent(tree, kind), trees))
    first = counts[0][0]
    for tree, (each, small) in zip(trees, counts, strict=True):
        print(
            f"{tree} {kind}: {each:,.0f} instructions per agent "
            f"({100 * (each / first - 1):+.1f} % against the first tree; "
            f"{small:,} in all at {SMALL} agents)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
