"""Files swarm writes where a user says (``swarm export -o``, ``swarm bench --output``).

A mistyped path must not destroy a store, so an output file is never written:

- over the store in use, or any file of the store's own in its folder (its ``-wal``,
  ``-shm`` and ``-journal``, its backups and kept originals: every name that starts
  with the store's file name followed by ``.`` or ``-``);
- over any SQLite database (a file starting with ``SQLite format 3\\0``), over the
  ``-wal``, ``-shm`` or ``-journal`` of one, or over a file with a ``-wal`` or
  ``-journal`` beside it (a database whose main file is damaged or empty);
- over anything that is not a regular file (a folder, a FIFO, a device);

whatever ``force`` says. ``force`` only allows replacing an existing ordinary file.
The bytes go to a temporary file in the same folder first, flushed to disk, then
take the target's name in one rename: a failed write (disk full, a kill) never
leaves half a file, and an existing file is either the old one or the new one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from ..errors import UsageError
from ..stores import is_sqlite_file

__all__ = ["check_output", "write_output"]

SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


def check_output(
    path: Path, *, option: str, force: bool = False, store: Path | None = None
) -> Path:
    """The file ``path`` names, resolved, once it may be written (see the module doc);
    else a :class:`UsageError` naming ``option``, the path and why."""

    def refuse(why: str) -> UsageError:
        return UsageError(f"{option} {path}: {why}")

    target = path.resolve()
    if store is not None and _belongs_to_store(target, store.resolve()):
        what = "the store in use" if target == store.resolve() else "one of the store's files"
        raise refuse(
            f"is {what} ({store}); an output never replaces it, even with --force: "
            "name another file"
        )
    if target.is_dir():
        raise refuse("is a folder; expected a file path, e.g. run.json")
    sqlite = _sqlite_reason(target)
    if sqlite is not None:
        raise refuse(
            f"{sqlite}; an output never replaces one, even with --force: name another file"
        )
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise refuse(f"cannot write there: the folder {path.parent} does not exist") from None
        return target
    except OSError as exc:
        raise refuse(f"cannot write there ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise refuse("is not a regular file; expected a file path (or no --output, for stdout)")
    if not force:
        raise refuse("already exists; pass --force to replace it")
    return target


def write_output(
    path: Path, data: bytes | str, *, option: str, force: bool = False, store: Path | None = None
) -> Path:
    """Write ``data`` to ``path`` atomically once :func:`check_output` allows it; the path."""
    target = check_output(path, option=option, force=force, store=store)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        _write_atomically(target, payload, replace=force)
    except FileExistsError:
        raise UsageError(f"{option} {path}: already exists; pass --force to replace it") from None
    except OSError as exc:
        raise UsageError(f"{option} {path}: {cannot_write(exc, path)}") from None
    return target


def cannot_write(exc: OSError, path: Path) -> str:
    """Why a file cannot be written there, in words that say what to give instead."""
    if exc.errno == errno.ENOENT:
        return f"cannot write there: the folder {path.parent} does not exist"
    if exc.errno == errno.EISDIR:
        return "is a folder; expected a file path, e.g. run.json"
    return f"cannot write there ({exc.strerror or exc})"


def _belongs_to_store(target: Path, store: Path) -> bool:
    if target.parent != store.parent:
        return False
    if target.name == store.name:
        return True
    rest = target.name[len(store.name) :]
    return target.name.startswith(store.name) and rest[:1] in (".", "-")


def _sqlite_reason(target: Path) -> str | None:
    """Why ``target`` is (part of) a SQLite database, or None."""
    if is_sqlite_file(target):
        return "is a SQLite database"
    for suffix in SIDE_SUFFIXES:
        if target.name.endswith(suffix):
            main = target.with_name(target.name[: -len(suffix)])
            if is_sqlite_file(main):
                return f"is the {suffix} file of the SQLite database {main.name}"
    for suffix in ("-wal", "-journal"):
        if target.with_name(target.name + suffix).exists():
            return f"has a SQLite {suffix} file beside it (it is, or was, a database)"
    return None


def _write_atomically(target: Path, payload: bytes, *, replace: bool) -> None:
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, _mode_for(target))
        if replace:
            os.replace(temporary, target)
        else:
            _link_new(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(target.parent)


def _link_new(temporary: str, target: Path) -> None:
    """Give ``temporary`` the name ``target`` only if nothing has it (no race with a file
    made meanwhile): a hard link fails if the name exists; a rename would replace it."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError:  # the file system has no hard links (FAT, some network mounts)
        if target.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


def _mode_for(target: Path) -> int:
    """An existing file's mode; for a new one, what ``open()`` would give (0666 less umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
