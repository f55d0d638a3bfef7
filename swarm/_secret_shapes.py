"""Secrets by their shape: the well-known kinds of keys and tokens, wherever they occur.

:data:`SECRET_SHAPES` finds Anthropic, OpenAI, GitHub, Slack, AWS and Google keys,
JWTs and PEM private keys in plain text and in JSON text (where the store looks for
them), and :func:`redact_shapes` replaces each with ``[redacted]``. A key counts where
it starts a word, after a JSON escape or a URL escape (``api_key%3Dsk-ant-...``,
``%20``); glued to a letter or digit before it (``xsk-ant-...``, ``1ghp_...``) when it has
its kind's real form, so that a word ending in ``sk`` or ``gh`` is never taken for one;
and across a line break that cuts it (see :func:`_extent`). The password of a URL
(``postgresql://user:PASSWORD@host/db``) is replaced too. Everything here runs on
every record a store writes, so each check is arranged to cost little where there is
nothing to find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REDACTED = "[redacted]"

_KEY_CHAR = r"[A-Za-z0-9_\-]"
# Where a key starts, checked once its first letter matched (so that every branch starts
# with a literal and the regex engine only tries the places holding one of those letters):
# where no letter or digit precedes it; right after a JSON escape (the store searches its
# records' JSON text, where a line break before a key is ``\n``); or after a URL escape
# (``api_key%3Dsk-ant-...``, ``%20``).
_BOUNDARY = (
    r"(?:(?<![A-Za-z0-9].)|(?<=\\[bfnrt].)"  # no letter or digit before; a JSON escape
    r"|(?<=%[0-9A-Fa-f]{2}.)|(?<=\\u[0-9A-Fa-f]{4}.))"  # a URL escape; a JSON \u escape
)
# A line break as it is in text or in JSON text.
_BREAK = r"(?:\r?\n|\\r\\n|\\n)"


@dataclass(frozen=True, slots=True)
class _Kind:
    """A well-known kind of secret, by its shape: ``first`` + ``prefix`` + a body of at least
    ``least`` characters of ``body``. Glued to a letter or digit before it (``xsk-ant-...``,
    ``1ghp_...``), it counts only when ``glued`` (a lookahead after the first letter) also
    holds: its real form, whose prefix no word ends in; ``""``: always; ``None``: never.
    ``length``: the length every key of the kind has, if they all have one."""

    name: str
    label: str
    first: str
    prefix: str
    body: str
    least: int
    glued: str | None
    length: int | None = None

    def pattern(self) -> str:
        """Its regex after its first letter."""
        if self.glued is None:
            start = _BOUNDARY
        elif self.glued:
            start = f"(?:(?={self.glued})|{_BOUNDARY})"
        else:
            start = ""
        # Its body runs to the end of its characters; a shorter one counts only if a line
        # break cuts it (the rest, on the next line, is judged by _extent).
        body = f"(?:{self.body}{{{self.least},}}|{self.body}{{0,{self.least - 1}}}(?={_BREAK}))"
        return f"{start}{self.prefix}{body}"


_KINDS = (
    # name, what it is, first letter, rest of the prefix, body character, least body,
    # when glued, length
    _Kind("anthropic", "an Anthropic API key", "s", "k-ant-", _KEY_CHAR, 8,
          f"k-ant-{_KEY_CHAR}{{20}}"),
    _Kind("openai", "an OpenAI API key", "s", "k-(?:proj|svcacct|admin)-", _KEY_CHAR, 20, ""),
    _Kind("openai_legacy", "an OpenAI API key", "s", "k-", "[A-Za-z0-9]", 20,
          "k-[A-Za-z0-9]{40}"),
    _Kind("github", "a GitHub token", "g", "h[pousr]_", "[A-Za-z0-9]", 20,
          "h[pousr]_[A-Za-z0-9]{30}", 40),
    _Kind("github_pat", "a GitHub token", "g", "ithub_pat_", "[A-Za-z0-9_]", 20, "", 93),
    _Kind("slack", "a Slack token", "x", "ox[abprs]-", r"[A-Za-z0-9\-]", 10, ""),
    _Kind("aws", "an AWS access key id", "A", "KIA", "[0-9A-Z]", 16,
          "KIA[0-9A-Z]{16}(?![0-9A-Za-z])", 20),
    _Kind("google", "a Google API key", "A", "Iza", _KEY_CHAR, 35,
          rf"Iza{_KEY_CHAR}{{35}}(?!{_KEY_CHAR})", 39),
)  # fmt: skip
_KIND_OF = {kind.name: kind for kind in _KINDS}
_PREFIX_OF = {kind.name: re.compile(kind.first + kind.prefix) for kind in _KINDS}
_BODY_OF = {kind.name: re.compile(f"{kind.body}*") for kind in _KINDS}
# An Anthropic key is sk-ant-api03- (or admin01-...) + 93 characters + AA.
_ANTHROPIC_PREFIX = re.compile(r"sk-ant-[a-z]+\d\d-")
_ANTHROPIC_REST = 95
# A JWT: a header and a payload (base64 of '{"...', so both start with eyJ) and a signature;
# header and payload alone (a token cut short) still count.
_JWT = (
    rf"e(?=yJ)(?:(?=yJ{_KEY_CHAR}{{5,}}\.eyJ)|{_BOUNDARY})yJ{_KEY_CHAR}{{5,}}\."
    rf"(?:eyJ{_KEY_CHAR}*(?:\.{_KEY_CHAR}*)?|{_KEY_CHAR}{{5,}}\.{_KEY_CHAR}*)"
)
# A PEM private key up to its END line, or else to the end of its string: never past an
# unescaped quote, so in JSON text it cannot swallow the fields that follow.
_PEM = (
    r'-----BEGIN[A-Z ]*PRIVATE KEY-----(?:(?:[^"\\]|\\.)*?-----END[A-Z ]*PRIVATE KEY-----'
    r'|(?:[^"\\]|\\.)*)'
)
# What follows a key: the next line's leading key characters, and whether they fill it.
_NEXT_LINE = (
    rf"(?=(?:(?P<br>{_BREAK})(?P<rest>{_KEY_CHAR}+)"
    r'(?P<eol>(?:[ \t]|\\t)*(?:[\r\n"\']|\\[rn]|\Z))?)?)'
)


def _shapes() -> str:
    # One branch per first letter, each starting with that letter and no group: the regex
    # engine then scans for those letters alone, and tries little where one stands.
    firsts: dict[str, list[str]] = {}
    for kind in _KINDS:
        firsts.setdefault(kind.first, []).append(kind.pattern())
    branches = [f"{first}(?:{'|'.join(rests)})" for first, rests in firsts.items()]
    return "(?:" + "|".join([*branches, _JWT, _PEM]) + ")" + _NEXT_LINE


SECRET_SHAPES = re.compile(_shapes())
_LABELS = {
    **{kind.name: kind.label for kind in _KINDS},
    "jwt": "a JSON Web Token",
    "pem": "a private key",
}
# A plain word (a capitalised one, an acronym, a number, lowercase words joined by -): a
# line after a key that is one of these is text, not the rest of the key.
_PLAIN_WORDS = re.compile(r"[A-Z]?[a-z]+(?:-[a-z]+)*|[A-Z]+|[0-9]+")
_HAS_ALNUM = re.compile("[A-Za-z0-9]")
# The password of a URL's ``user:password@`` part (a store URL, a clone URL, a DSN).
URL_PASSWORD = re.compile(r'(://[^\s/?#@:"\\]*:)((?:[^\s/?#@"\\]|\\.)+)@')
# For may_hold_shape: the regex engine finds these literals faster than ``in`` does.
_SK = re.compile("sk-").search
_GITHUB = re.compile(r"g(?:h[pousr]|ithub_pat)_").search
_SLACK = re.compile("xox[abprs]-").search


def may_hold_shape(text: str) -> bool:
    """False when :data:`SECRET_SHAPES` surely finds nothing in ``text``: the shapes' fixed
    parts are looked for (about 1 us on a 600-byte record, against 8 us for the regex),
    most of them behind a one-letter scan (memchr) for a letter rare in records."""
    return (
        _SK(text) is not None
        or _GITHUB(text) is not None
        or ("B" in text and "-----BEGIN" in text)
        or ("J" in text and "eyJ" in text)
        or ("K" in text and "AKIA" in text)
        or ("z" in text and "AIza" in text)
        or ("x" in text and _SLACK(text) is not None)
    )


def redact_shapes(text: str) -> str:
    """``text`` (plain, or JSON text) with key-shaped strings and URL passwords replaced."""
    if may_hold_shape(text):  # the regular expression costs ten times the whole check
        text = _replace_keys(text)
    if "@" in text and "://" in text:
        text = URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    return text


def _replace_keys(text: str) -> str:
    pieces: list[str] = []
    done = 0  # text before this is copied or replaced
    for match in SECRET_SHAPES.finditer(text):
        end = _extent(match)
        if end is None or end <= done:
            continue
        if match.start() >= done:
            pieces += (text[done : match.start()], REDACTED)
        done = end  # a key running on from the one just replaced is part of it
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _kind_name(key: str) -> str:
    """The kind of a key SECRET_SHAPES found (its branches hold no group: a group at the
    start of a branch would cost the regex engine its fast scan for their first letters)."""
    for name, prefix in _PREFIX_OF.items():
        if prefix.match(key):
            return name
    return "pem" if key.startswith("-") else "jwt"


def _extent(match: re.Match[str]) -> int | None:
    """Where the key ``match`` found ends, past a line break that cuts it: the next line's
    leading key characters are its rest when they are no plain word and the key is short
    of its kind's length (up to that length), or, for a kind of no fixed length, when they
    fill that line. None: no key after all (too short, and no rest on the next line)."""
    head = match.group()
    name = _kind_name(head)
    if name not in _KIND_OF:  # a JWT or a private key: never cut by a line break
        return match.end()
    kind = _KIND_OF[name]
    body = len(head) - _PREFIX_OF[name].match(head).end()  # type: ignore[union-attr]
    rest = match.group("rest") or ""
    fits = _BODY_OF[name].match(rest).group()  # type: ignore[union-attr]
    taken = 0
    length = kind.length
    if name == "anthropic" and (prefix := _ANTHROPIC_PREFIX.match(head)) is not None:
        length = prefix.end() + _ANTHROPIC_REST
    missing = 0 if length is None else max(0, length - len(head))
    if fits and _HAS_ALNUM.search(fits):
        if len(fits) == missing:  # exactly the rest of a key of its kind's length
            taken = missing
        elif not _PLAIN_WORDS.fullmatch(fits):
            if length is not None:
                taken = min(len(fits), missing)
            elif fits == rest and match.group("eol") is not None:
                taken = len(fits)
    if body + taken < kind.least:
        return None
    return match.end() + len(match.group("br")) + taken if taken else match.end()


def shape_label(text: str) -> str | None:
    """What kind of secret ``text`` holds by its shape ("a GitHub token"), or None."""
    for match in SECRET_SHAPES.finditer(text) if may_hold_shape(text) else ():
        if _extent(match) is not None:
            return _LABELS[_kind_name(match.group())]
    if "@" in text and "://" in text and URL_PASSWORD.search(text):
        return "a URL with a password"
    return None
