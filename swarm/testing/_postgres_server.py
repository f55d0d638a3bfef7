"""A throwaway PostgreSQL server, for tests and for trying the PostgreSQL store on one machine.

:class:`ThrowawayPostgres` runs ``initdb`` into a new folder and ``pg_ctl start`` on a
free port of 127.0.0.1 (its socket in that folder too), and removes it all on
:meth:`~ThrowawayPostgres.stop`. PostgreSQL's server refuses to run as root, so as root
it runs as the ``postgres`` system user (``runuser``), which then owns the folder. The
server binaries are looked up on PATH, then in Debian's ``/usr/lib/postgresql/<N>/bin``
(:func:`find_server_binaries`); without them, :class:`ServerUnavailable` says why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerUnavailable", "ThrowawayPostgres", "find_server_binaries"]


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def find_server_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian one."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent  # a symlink on PATH: its folder has the rest
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    for pg_ctl in reversed(debian):
        if (pg_ctl.parent / "initdb").exists():
            return pg_ctl.parent
    raise ServerUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin "
        "(Debian: apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ThrowawayPostgres:
    """One PostgreSQL server in a temporary folder; :attr:`url` reaches its ``postgres`` db."""

    folder: Path
    port: int
    bin: Path
    user: str = "postgres"
    log: Path | None = None

    @classmethod
    def start(cls, parent: str | Path | None = None) -> ThrowawayPostgres:
        """Create and start a server (about a second); :class:`ServerUnavailable` if none can."""
        binaries = find_server_binaries()
        as_root = os.geteuid() == 0
        if as_root and shutil.which("runuser") is None:
            raise ServerUnavailable("running as root and no runuser to start PostgreSQL with")
        folder = Path(tempfile.mkdtemp(prefix="swarm-pg-", dir=parent))
        if as_root:
            try:
                shutil.chown(folder, user="postgres", group="postgres")
            except (LookupError, OSError) as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise ServerUnavailable(
                    f"cannot hand {folder} to the postgres user: {exc}"
                ) from None
        user = "postgres" if as_root else _current_user()
        server = cls(folder, _free_port(), binaries, user, folder / "server.log")
        try:
            server._run(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(folder / "data"),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                ]
            )
            server._pg_ctl("start")
        except BaseException:
            server.remove()
            raise
        return server

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL (needs psycopg: the ``postgres`` extra)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return self.database_url(name)

    def restart(self) -> None:
        """Stop the server (dropping every connection) and start it again on the same port."""
        self._pg_ctl("restart", "-m", "fast")

    def stop_server(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def start_server(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        with contextlib.suppress(subprocess.CalledProcessError, ServerUnavailable):
            self._pg_ctl("stop", "-m", "immediate")
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                action,
                *extra,
            ]
        )

    def _run(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder, check=False)
        if done.returncode != 0:
            raise ServerUnavailable(
                f"{Path(command[4 if command[0] == 'runuser' else 0]).name} failed "
                f"({done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}"
            )


def _current_user() -> str:
    import getpass

    return getpass.getuser()
