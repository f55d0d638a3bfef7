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
from collections.abc import Sequence
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

# Large values many records hold, kept encoded (a run's plan, 2.7 MB for 10,000 agents:
# its run record is saved when the run starts, when its base is ready and when it ends).
# A record names the fields that may hold one (``shared_fields``); :func:`encode` puts the
# kept text in place of the value. Keyed by identity and holding the value, as _RECENT.
_SHARED: OrderedDict[int, tuple[object, orjson.Fragment]] = OrderedDict()
_SHARED_MAX = 4


def remember_text(record: object, text: str) -> None:
    """Keep ``text`` as the encoding of ``record``'s document for :func:`document_text`."""
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.popitem(last=False)  # the oldest (a plain dict's first key is O(n) to find)
        if len(_RECENT) >= _RECENT_MAX:
            _RECENT.popitem(last=False)  # over the bound after remember_texts: shrink back
    _RECENT[id(record)] = (record, text)


def remember_texts(records: Sequence[object], texts: Sequence[str]) -> None:
    """:func:`remember_text` of each, all kept whatever their number (a large plan's
    queued records, saved together a moment later); the next ones shrink it back."""
    pairs = zip(records, texts, strict=True)
    _RECENT.update((id(record), (record, text)) for record, text in pairs)


def remembered(record: object) -> bool:
    """Whether :func:`remember_text` holds the encoding of this very ``record`` (it was
    just encoded and found clean: nothing to redact in it again)."""
    kept = _RECENT.get(id(record))
    return kept is not None and kept[0] is record


def share_encoding(value: object, text: str) -> None:
    """Keep ``text`` (``dumps(value)``) as the encoding of ``value`` in every record that
    holds this very object in one of its ``shared_fields``."""
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.popitem(last=False)
    _SHARED[id(value)] = (value, orjson.Fragment(text))


class _Document(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def encode(record: _Document) -> str:
    """``dumps(record.to_dict())``: the same text, with the values of its shared fields
    that :func:`share_encoding` holds put in as their kept text, not encoded again."""
    document = record.to_dict()
    shared = False
    for name in getattr(record, "shared_fields", ()):
        kept = _SHARED.get(id(value := document.get(name)))
        if kept is not None and kept[0] is value:
            document[name] = kept[1]
            shared = True
    if not shared:
        return dumps(document)
    try:
        return orjson.dumps(document, option=_OPTIONS).decode()
    except TypeError:  # a value orjson refuses: the plain encoding, as dumps falls back
        return dumps(record.to_dict())


def document_text(record: _Document) -> str:
    """:func:`encode` of ``record``, reusing the text :func:`remember_text` kept for it."""
    kept = _RECENT.pop(id(record), None)
    if kept is not None and kept[0] is record:
        return kept[1]
    return encode(record)
