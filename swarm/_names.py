"""The rules for names a user gives: agent ids, plan names, checkpoint names.

One rule per kind, shared by plan validation, the command line and the library, so
a name passes everywhere or nowhere.
"""

from __future__ import annotations

import re
import unicodedata

from ._redaction import secret_kind

#: Agent ids, run ids and plan names: they become parts of file names and keys.
SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SAFE_ID_RULE = (
    "expected letters, digits, '_', '.' or '-', starting with a letter or digit, "
    "at most 64 characters and no '..'"
)
_SAFE_ID_RE = re.compile(SAFE_ID)

MAX_CHECKPOINT_NAME = 200
CHECKPOINT_NAME_RULE = (
    f"expected 1 to {MAX_CHECKPOINT_NAME} printable characters, without '/' or '\\', "
    "not starting with '.'"
)


def is_safe_id(value: str) -> bool:
    """True when ``value`` may be used as an agent id, run id or file name part."""
    return bool(_SAFE_ID_RE.match(value)) and ".." not in value


def checkpoint_name_problem(name: str) -> str | None:
    """What is wrong with a checkpoint name (or reference), or None.

    A name could otherwise pass for a path, or hide in a terminal.
    """
    if not name.strip():
        return "is empty"
    if len(name) > MAX_CHECKPOINT_NAME:
        return f"is {len(name)} characters long"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        # Control and format characters (a bidi override, a zero-width space) can make
        # a name print as another one.
        return "has a control or invisible character"
    if "/" in name or "\\" in name:
        return "has a path separator"
    if name.startswith("."):
        return "starts with '.'"
    return None


def secret_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an id or a name, if it holds a secret: ids are store keys,
    shown and logged as they are, while every record redacts that secret (an agent id
    shaped like a token would then be one thing in its key and another in its record)."""
    kind = secret_kind(value)
    if kind is None:
        return None
    return f"looks like {kind}, and ids are stored and shown in plain text: choose one that is not"
