"""Characters a person cannot see: control, format, private-use, unassigned and separator
characters, Unicode's default-ignorable code points, and letters that print as blank space.

Such a character in a name or a secret silently changes what is written (a zero-width space
in a user name, a BOM in a password), and printed raw it can rewrite the terminal (an ESC
sequence from a database value). Checks use :func:`first_invisible`; every output the tool
prints passes through :func:`visible` (or :func:`json_visible` for JSON).
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (zero-width, BOM, bidi), surrogate (bytes that were not UTF-8),
private-use, unassigned (and non-characters), and line/paragraph separators."""

DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
"""Unicode's ``Default_Ignorable_Code_Point`` (DerivedCoreProperties.txt, Unicode 15.1):
code points a renderer shows as nothing (combining grapheme joiner, variation selectors,
Hangul fillers, Khmer inherent vowels, tags). :mod:`unicodedata` has no such property."""

BLANK_LOOKING = frozenset({"\u2800", "\u3164", "\uffa0", "\u115f", "\u1160"})
"""Letters and symbols that print as blank space (BRAILLE PATTERN BLANK, Hangul fillers)."""


def _default_ignorable(code: int) -> bool:
    return any(low <= code <= high for low, high in DEFAULT_IGNORABLE)


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
    """Does ``ch`` (one character) print as nothing, or as a space that is not U+0020?

    Control, format, surrogate, private-use, unassigned and separator characters, every
    default-ignorable code point, the blank-looking letters, and spaces other than U+0020
    (NO-BREAK SPACE, IDEOGRAPHIC SPACE, ...), which look like one but are another character.
    """
    category = unicodedata.category(ch)
    return (
        category in INVISIBLE_CATEGORIES
        or (category == "Zs" and ch != " ")
        or ch in BLANK_LOOKING
        or _default_ignorable(ord(ch))
    )


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
        name = {
            "Cs": "not UTF-8",
            "Co": "a private-use character",
            "Cn": "an unassigned code point",
        }.get(unicodedata.category(ch), "a control character")
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
