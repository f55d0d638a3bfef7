"""The one JSON encoding of stored records: compact, sorted keys, UTF-8 text.

Every record the SQLite store writes goes through :func:`dumps` (and its secrets
are looked for in the same encoding, see :mod:`swarm._redaction`), so the text a
checksum covers is produced one way only. orjson does it in a tenth of the time
of :mod:`json`; a value orjson refuses (an integer wider than 64 bits) falls back
to :mod:`json` with the same separators and key order.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Protocol

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """``value`` as compact JSON text with sorted keys."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    """Parse JSON text; raises ``ValueError`` (``orjson.JSONDecodeError``) when it is not JSON."""
    return orjson.loads(text)


# The JSON text of records that were just encoded (to look for secrets in them, see
# swarm._redaction.redact_document), kept for the store that encodes the same record
# a moment later: a write then costs one encoding, not two. Keyed by identity and
# holding the record, so an id is never reused while its entry lives; taken on use,
# and bounded for stores that never ask (records are frozen, their text cannot change).
_RECENT: OrderedDict[int, tuple[object, str]] = OrderedDict()
_RECENT_MAX = 4096


def remember_text(record: object, text: str) -> None:
    """Keep ``text`` as the encoding of ``record``'s document for :func:`document_text`."""
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.popitem(last=False)  # the oldest (a plain dict's first key is O(n) to find)
    _RECENT[id(record)] = (record, text)


def remembered(record: object) -> bool:
    """Whether :func:`remember_text` holds the encoding of this very ``record`` (it was
    just encoded and found clean: nothing to redact in it again)."""
    kept = _RECENT.get(id(record))
    return kept is not None and kept[0] is record


class _Document(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def document_text(record: _Document) -> str:
    """``dumps(record.to_dict())``, reusing the text :func:`remember_text` kept for it."""
    kept = _RECENT.pop(id(record), None)
    if kept is not None and kept[0] is record:
        return kept[1]
    return dumps(record.to_dict())
