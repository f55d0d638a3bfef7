"""Store URLs: the one parser that validation, ``open_store`` and every command use.

- ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, or a bare path; options
  ``?synchronous=off|normal|full|extra``, ``?max_size_mb=N`` (a cap on the file),
  ``?mode=rw|ro`` and ``?writer=auto|thread|process`` (where commits are applied);
- ``memory://`` (also ``memory:`` and ``memory``), with no path and no options;
- ``postgresql://user:password@host:port/database`` (also ``postgres://``): a database
  every machine of a cluster can share; options ``?pool_size=N`` (connections per
  process), ``?retry_s=S`` (how long a lost server is waited for before the store
  fails) and libpq's own (:data:`POSTGRES_LIBPQ_OPTIONS`), passed on to the server.

:func:`parse_store_url` checks what the text alone can tell (scheme, path, options);
:func:`store_location_problem` what the file system can (a directory where the file
goes), without creating anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from .._redaction import mask_url
from ..errors import UsageError

#: The store every command and plan uses when none is named.
DEFAULT_STORE_URL = "sqlite:///sessions/swarm.db"

SQLITE_OPTIONS = ("synchronous", "max_size_mb", "mode", "writer")
#: Where a SQLite store applies its group commits (see swarm.stores._sqlite_db).
SQLITE_WRITERS = ("auto", "thread", "process")
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_MEMORY = ("memory", "memory:", "memory://")
_EXPECTED = (
    "expected sqlite:///path/to/file.db, a path to a file, memory://, "
    "or postgresql://user@host:port/database"
)
POSTGRES_SCHEMES = ("postgresql", "postgres")
POSTGRES_OPTIONS = ("pool_size", "retry_s")
POSTGRES_LIBPQ_OPTIONS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
)


class StoreURLError(UsageError):
    """A store URL that cannot name a store; ``problem`` says why, without the URL (the
    message shows the URL with its password masked)."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"store URL {mask_url(url)!r}: {problem}")


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL: ``path`` is the SQLite file, None for a memory or PostgreSQL
    store; ``conninfo`` is what psycopg is given for a PostgreSQL one."""

    url: str
    path: Path | None
    synchronous: str = "FULL"
    max_size_mb: float | None = None
    read_only: bool = False
    writer: str = "auto"
    conninfo: str | None = None
    pool_size: int = 4
    retry_s: float = 60.0

    @property
    def is_postgres(self) -> bool:
        return self.conninfo is not None

    @property
    def is_memory(self) -> bool:
        return self.path is None and self.conninfo is None

    @property
    def shared(self) -> bool:
        """Whether other processes (other machines, for PostgreSQL) can open it too."""
        return not self.is_memory


def parse_store_url(url: str) -> StoreURL:
    """Parse a store URL; raise :class:`StoreURLError` naming what is wrong with it."""

    def fail(problem: str) -> StoreURLError:
        return StoreURLError(url, problem)

    if not url.strip():
        raise fail(f"is empty; {_EXPECTED}")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in url):
        raise fail("has a control character")
    if url != url.strip():
        raise fail("starts or ends with a space")
    if url.lower() in _MEMORY:
        return StoreURL(url, None)
    if "://" not in url:
        return StoreURL(url, Path(url))
    scheme, _, rest = url.partition("://")
    try:
        urlsplit(url)  # refuses what no URL may hold, e.g. an unclosed `[` in the host
    except ValueError as exc:
        raise fail(str(exc)) from None
    scheme = scheme.lower()
    if scheme == "memory":
        raise fail("memory:// takes no path or options")
    if scheme in POSTGRES_SCHEMES:
        return _postgres_url(url, fail)
    if scheme != "sqlite":
        raise fail(f"unknown scheme {scheme!r}; {_EXPECTED}")
    # sqlite:///rel/path -> "rel/path"; sqlite:////abs/path -> "/abs/path"
    raw, _, query = rest.partition("?")
    path = raw[1:] if raw.startswith("/") else raw
    if not path:
        raise fail("has no file path (sqlite:///path/to/file.db)")
    if "@" in raw.split("/", 1)[0]:
        # A user or password has no meaning for a file; kept, it would become a folder name.
        raise fail("a sqlite URL takes no user or password (sqlite:///path/to/file.db)")
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise fail("options must be name=value pairs joined by '&'") from None
    for name, value in pairs:
        if name not in SQLITE_OPTIONS:
            raise fail(f"unknown option {name!r} ({', '.join(SQLITE_OPTIONS)})")
        if name in options:
            raise fail(f"option {name!r} is given twice")
        options[name] = value
    mode = options.get("mode", "rw")
    if mode not in ("rw", "ro"):
        raise fail("mode must be rw or ro")
    synchronous = options.get("synchronous", "FULL")
    if synchronous.upper() not in _SYNCHRONOUS:
        raise fail("synchronous must be off|normal|full|extra")
    max_size_mb = None
    if "max_size_mb" in options:
        try:
            max_size_mb = float(options["max_size_mb"])
        except ValueError:
            max_size_mb = math.nan
        if not (max_size_mb > 0 and math.isfinite(max_size_mb)):
            raise fail("max_size_mb must be a positive number (megabytes)")
    writer = options.get("writer", "auto")
    if writer not in SQLITE_WRITERS:
        raise fail(f"writer must be {'|'.join(SQLITE_WRITERS)}")
    return StoreURL(url, Path(path), synchronous, max_size_mb, mode == "ro", writer)


def _postgres_url(url: str, fail: Callable[[str], StoreURLError]) -> StoreURL:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise fail("the port must be a number from 1 to 65535") from None
    del port
    if not parts.hostname:
        raise fail("has no host (postgresql://user@host:5432/database)")
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        raise fail("has no database name (postgresql://user@host:5432/database)")
    if parts.fragment:
        raise fail("takes no #fragment")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise fail("options must be name=value pairs joined by '&'") from None
    known = POSTGRES_OPTIONS + POSTGRES_LIBPQ_OPTIONS
    options: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            raise fail(f"unknown option {name!r} ({', '.join(known)})")
        if name in options:
            raise fail(f"option {name!r} is given twice")
        options[name] = value
    pool_size = 4
    if "pool_size" in options:
        if not (options["pool_size"].isdigit() and 1 <= int(options["pool_size"]) <= 100):
            raise fail("pool_size must be a whole number from 1 to 100")
        pool_size = int(options["pool_size"])
    retry_s = 60.0
    if "retry_s" in options:
        try:
            retry_s = float(options["retry_s"])
        except ValueError:
            retry_s = math.nan
        if not (retry_s >= 0 and math.isfinite(retry_s)):
            raise fail("retry_s must be a number of seconds, 0 or more")
    libpq = "&".join(
        f"{name}={quote(value)}" for name, value in pairs if name in POSTGRES_LIBPQ_OPTIONS
    )
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, libpq, ""))
    return StoreURL(url, None, conninfo=conninfo, pool_size=pool_size, retry_s=retry_s)


def store_location_problem(parsed: StoreURL) -> str | None:
    """What on disk stops a store opening where ``parsed`` says, or None; creates nothing."""
    path = parsed.path
    if path is None:
        return None
    if path.is_dir():
        return f"{path} is a directory; expected the path of a store file, e.g. sessions/swarm.db"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, so {path} cannot be created in it"
            break
    return None
