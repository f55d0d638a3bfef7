"""The overhead workload run in two (or more) source trees in turn, rounds interleaved,
so a change is judged against its parent in the same hour of this VM.

    N=10000 R=3 K=sqlite python benchmarks/side_by_side.py /path/to/old /path/to/new

Each measurement is a child process with ``PYTHONPATH`` set to the tree, running
``swarm.bench._overhead.measure_here(N, 64, K)`` (K: sqlite, memory); it prints the
rate, the CPU per agent (both processes) and the writer process's share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = (
    "import json; from swarm.bench._overhead import measure_here; "
    "print(json.dumps(measure_here({n}, 64, {kind!r})))"
)


def main(trees: list[str]) -> int:
    n = int(os.environ.get("N", "10000"))
    rounds = int(os.environ.get("R", "3"))
    kind = os.environ.get("K", "sqlite")
    for r in range(rounds):
        for tree in trees:
            done = subprocess.run(
                [sys.executable, "-c", CODE.format(n=n, kind=kind)],
                env={**os.environ, "PYTHONPATH": tree},
                cwd=tree,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"round {r} {tree}: failed\n{done.stderr[-2000:]}")
                return 1
            d = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"round {r} {tree} {kind}: {n / d['wall_s']:,.0f} agents/s, "
                f"CPU {d['cpu_s'] / n * 1e6:,.0f} µs per agent "
                f"(writer process {d.get('writer_cpu_s', 0.0) / n * 1e6:,.0f}), "
                f"peak RSS {d['peak_rss_mb']:.0f} MB, {d['succeeded']}/{n} succeeded",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
