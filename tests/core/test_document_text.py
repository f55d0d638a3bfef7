"""The store's encoding of a record reuses the text redaction just made of it, never a
stale or foreign one."""

from __future__ import annotations

from swarm import _jsoncodec as jsoncodec
from swarm._redaction import redact_document
from swarm.records import Message


def _message(text: str) -> Message:
    return Message(uuid="u1", session_id="s1", role="user", content=text)


def test_a_clean_record_is_encoded_once_and_an_unknown_one_fresh() -> None:
    clean = _message("nothing secret here")
    assert redact_document(clean) is clean
    expected = jsoncodec.dumps(clean.to_dict())
    assert jsoncodec._RECENT[id(clean)] == (clean, expected)
    assert jsoncodec.document_text(clean) == expected
    assert id(clean) not in jsoncodec._RECENT  # taken on use
    other = _message("another")
    assert jsoncodec.document_text(other) == jsoncodec.dumps(other.to_dict())


def test_a_redacted_record_is_never_stored_with_the_original_text() -> None:
    key = "sk-ant-api03-" + "A" * 90
    dirty = _message(f"my key is {key}")
    cleaned = redact_document(dirty)
    assert cleaned is not dirty
    assert key not in jsoncodec.document_text(cleaned)
    assert id(dirty) not in jsoncodec._RECENT


def test_the_memo_is_bounded() -> None:
    for i in range(jsoncodec._RECENT_MAX + 50):
        redact_document(_message(f"text {i}"))
    assert len(jsoncodec._RECENT) <= jsoncodec._RECENT_MAX
