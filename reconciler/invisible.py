"""Characters a person cannot see: control, format and line/paragraph separator characters.

Such a character in a name or a secret silently changes what is written (a zero-width space
in a user name, a BOM in a password), and printed raw it can rewrite the terminal (an ESC
sequence from a database value). Checks use :func:`first_invisible`; every output the tool
prints passes through :func:`visible` (or :func:`json_visible` for JSON).
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Control, format (zero-width, BOM, bidi), surrogate (bytes that were not UTF-8) and
line/paragraph separators."""

_CONTROL_NAMES = {
    "\x00": "NUL",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
}
_CANDIDATE = re.compile(r"[^\x20-\x7e]")  # only these can be invisible; ASCII text is fast
_CANDIDATE_NOT_LF = re.compile(r"[^\x20-\x7e\n]")


def is_invisible(ch: str) -> bool:
    """Is ``ch`` (one character) a control, format, surrogate or separator character?"""
    return unicodedata.category(ch) in INVISIBLE_CATEGORIES


def first_invisible(text: str) -> str | None:
    """The first invisible character in ``text``, or None."""
    for match in _CANDIDATE.finditer(text):
        if is_invisible(match.group()):
            return match.group()
    return None


def describe(ch: str) -> str:
    """``U+200B (ZERO WIDTH SPACE)``: a character named so that a reader can find it."""
    name = _CONTROL_NAMES.get(ch) or unicodedata.name(ch, "")
    if not name:
        name = "not UTF-8" if unicodedata.category(ch) == "Cs" else "a control character"
    return f"U+{ord(ch):04X} ({name})"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` for a terminal: invisible characters (but line feeds) shown as ``\\uXXXX``."""
    return _CANDIDATE_NOT_LF.sub(
        lambda m: _escape(m.group()) if is_invisible(m.group()) else m.group(), text
    )


def json_visible(text: str) -> str:
    """JSON text with every invisible character inside strings written as a JSON escape.

    ``json.dumps(ensure_ascii=False)`` escapes only C0 controls; this escapes the rest
    (C1 controls, zero-width and bidi characters, separators), as UTF-16 escapes, which
    is valid JSON and decodes to the same string.
    """

    def escape(m: re.Match[str]) -> str:
        ch = m.group()
        if not is_invisible(ch):
            return ch
        data = ch.encode("utf-16-be", "surrogatepass")
        units = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
        return "".join(f"\\u{u:04x}" for u in units)

    return _CANDIDATE_NOT_LF.sub(escape, text)
