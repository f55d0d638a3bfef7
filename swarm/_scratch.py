"""One private place for every temporary file swarm causes, swept after a kill -9.

A rehearsal's throwaway Claude Code config dir, the ``claude-resume-*`` folders
claude-agent-sdk makes when it resumes a session from the store (a transcript with
prompts and replies, unredacted), and Claude Code's own temporary files
(``claude-<uid>/``, ``cc-socks/``) all go into one folder per process::

    <cache>/tmp/<host>/<pid>-<random>/

made 0700 (its parents too) when first needed and removed when its last user is done.
A process killed with kill -9 removes nothing, so the first swarm process of the same
host to need the folder again removes those of processes that no longer exist.

``<cache>`` is ``$SWARM_CACHE_DIR``, else ``$XDG_CACHE_HOME/swarm``, else
``~/.cache/swarm``: this user's own, where nothing else sweeps and other users cannot
even list names (as they can in ``/tmp``); it survives the kill, so the sweep finds
what a killed process left. It is not the store's folder: a store may have none
(``memory://``, a database server), or sit in a synced or shared tree, and these files
belong to this machine's processes, not to the runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from .errors import UsageError

#: The environment variable that moves swarm's cache (and with it every temporary folder).
CACHE_ENV = "SWARM_CACHE_DIR"
#: Rehearsal config dirs of swarm versions that made them in the system temp folder.
LEGACY_HOME_PREFIX = "swarm-rehearsal-"

_users = 0
_current: Path | None = None
_redirects = 0
_saved_tempdir: str | None = None


def cache_dir() -> Path:
    """swarm's per-user cache folder (see the module doc); not created here."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "swarm"
    return Path.home() / ".cache" / "swarm"


def private_dir(path: Path) -> Path:
    """``path`` as a folder only this user can enter, made 0700 if missing; refused (one
    clear error) if it cannot be made, is a symlink or is another user's."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            if stat.S_IMODE(info.st_mode) != 0o700:
                path.chmod(0o700)
            return path
        why = "it is not a folder of this user's"
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
    raise UsageError(
        f"{path}: swarm keeps its temporary files there and cannot ({why}); "
        f"set {CACHE_ENV} to a folder of your own"
    )


def cache_folder(*parts: str) -> Path:
    """``cache_dir() / parts``, each level made private (see :func:`private_dir`)."""
    with contextlib.suppress(OSError):  # e.g. ~/.cache: not ours to chmod; failures said next
        cache_dir().parent.mkdir(parents=True, exist_ok=True)
    folder = private_dir(cache_dir())
    for part in parts:
        folder = private_dir(folder / part)
    return folder


def host_dir() -> Path:
    """Where this host's processes keep their scratch folders (a cache may be shared)."""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "localhost"
    return cache_dir() / "tmp" / host


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """This process's scratch folder, for as long as the block runs (blocks may nest and
    overlap: the folder goes when the last one ends). The first one sweeps the folders
    of this host's dead processes."""
    global _users, _current
    if _current is None:
        parent = cache_folder(*host_dir().relative_to(cache_dir()).parts)
        sweep_stale(parent)
        _current = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
    current = _current
    _users += 1
    try:
        yield current
    finally:
        _users -= 1
        if _users == 0:
            _current = None
            shutil.rmtree(current, ignore_errors=True)


@contextmanager
def python_tempfiles_in(folder: Path) -> Iterator[None]:
    """Make ``folder`` the default of Python's :mod:`tempfile` while the block runs.

    claude-agent-sdk makes its ``claude-resume-*`` folders with ``tempfile.mkdtemp()``
    and has no option for where; ``tempfile.tempdir`` is the documented default it
    reads. Overlapping blocks (agents running at once) share the redirect; the old
    default is back when the last one ends.
    """
    global _redirects, _saved_tempdir
    if _redirects == 0:
        _saved_tempdir = tempfile.tempdir
        tempfile.tempdir = str(folder)
    _redirects += 1
    try:
        yield
    finally:
        _redirects -= 1
        if _redirects == 0:
            tempfile.tempdir = _saved_tempdir


def sweep_stale(parent: Path | None = None) -> list[Path]:
    """Remove the scratch folders of this host's processes that are gone; returns them.

    Only this user's folders named ``<pid>-...`` whose process no longer exists (a
    reused pid merely keeps one until that process ends too); plus the rehearsal config
    dirs older versions left in the system temp folder, by the same rule.
    """
    removed = _sweep(parent or host_dir(), "")
    if _redirects == 0:  # the system temp folder, not a redirect of ours
        removed += _sweep(Path(tempfile.gettempdir()), LEGACY_HOME_PREFIX)
    return removed


def _sweep(folder: Path, prefix: str) -> list[Path]:
    removed: list[Path] = []
    try:
        entries = list(folder.glob(f"{prefix}*"))
    except OSError:
        return removed
    for path in entries:
        pid_text, sep, _ = path.name.removeprefix(prefix).partition("-")
        if not (sep and pid_text.isdigit()) or int(pid_text) == os.getpid():
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def alive(pid: int) -> bool:
    """As swarm.stores._leases judges a lease holder: a zombie (killed, not yet reaped) is dead."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
