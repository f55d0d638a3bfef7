"""A throwaway PostgreSQL server on this machine, to try the PostgreSQL store and the Dask engine.

    eval "$(python examples/throwaway_postgres.py start)"   # sets SWARM_STORE=postgresql://...
    swarm run examples/plan.yaml --engine dask --store "$SWARM_STORE"
    python examples/throwaway_postgres.py stop              # stops it and deletes its data

It needs PostgreSQL's server binaries (Debian: ``apt-get install postgresql``; swarm finds
``initdb`` and ``pg_ctl`` on PATH or in /usr/lib/postgresql/<N>/bin) and the postgres extra
(``pip install -e ".[postgres]"``). As root it runs the server as the ``postgres`` user.
The server listens on 127.0.0.1 only, trusts local connections, and keeps its data in a
temporary folder: it is for trying things, not for keeping them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from swarm.testing import ServerUnavailable, ThrowawayPostgres

STATE = Path("sessions") / "throwaway-postgres.json"


def start() -> int:
    if STATE.exists():
        state = json.loads(STATE.read_text())
        print(f"export SWARM_STORE={state['url']}")
        print(f"# already running (stop it with: python {sys.argv[0]} stop)", file=sys.stderr)
        return 0
    try:
        server = ThrowawayPostgres.start()
        url = server.create_database("swarm")
    except ServerUnavailable as exc:
        print(f"throwaway_postgres: {exc}", file=sys.stderr)
        return 1
    STATE.parent.mkdir(exist_ok=True)
    state = {"folder": str(server.folder), "port": server.port, "bin": str(server.bin), "url": url}
    STATE.write_text(json.dumps(state))
    print(f"export SWARM_STORE={url}")
    print(f"# PostgreSQL on 127.0.0.1:{server.port}, data in {server.folder}", file=sys.stderr)
    return 0


def stop() -> int:
    if not STATE.exists():
        print("throwaway_postgres: none is running (no sessions/throwaway-postgres.json)")
        return 0
    state = json.loads(STATE.read_text())
    ThrowawayPostgres(Path(state["folder"]), state["port"], Path(state["bin"])).stop()
    STATE.unlink()
    print(f"stopped PostgreSQL on 127.0.0.1:{state['port']} and deleted its data")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in ("start", "stop"):
        print(f"usage: python {sys.argv[0]} start|stop", file=sys.stderr)
        sys.exit(2)
    sys.exit(start() if command == "start" else stop())
