"""The report's colours: every text and background it pairs, in one place.

The stylesheet is written from these (:func:`css_variables`), and a test computes the WCAG
2.x contrast ratio of every pair (:func:`contrast`); normal text needs at least 4.5:1 (AA).
A state is never told by colour alone: each cell also carries its label, a glyph, and a
pattern (stripes, dots) drawn in the ``pattern`` colour, which the text must also stand out
from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Swatch:
    """Text on a background, and the second colour of the background's pattern (if any)."""

    text: str
    background: str
    pattern: str | None = None

    @property
    def backgrounds(self) -> tuple[str, ...]:
        return (self.background,) if self.pattern is None else (self.background, self.pattern)


# Page chrome.
PAGE = Swatch(text="#1f2328", background="#ffffff")
MUTED = Swatch(text="#57606a", background="#ffffff")
LINK = Swatch(text="#0550ae", background="#ffffff")
HEADER = Swatch(text="#1f2328", background="#eaeef2")
HEADER_MUTED = Swatch(text="#4d5660", background="#eaeef2")
STRIPE = Swatch(text="#1f2328", background="#f6f8fa")
STRIPE_LINK = Swatch(text="#0550ae", background="#f6f8fa")
STRIPE_MUTED = Swatch(text="#57606a", background="#f6f8fa")
CODE = Swatch(text="#1f2328", background="#eff1f3")
ERROR_BOX = Swatch(text="#82071e", background="#ffebe9")

# One per state of a grid cell or of a desired-vs-live row.
STATES: dict[str, Swatch] = {
    "verified": Swatch(text="#0f5323", background="#dcf5e3"),
    "confirmed": Swatch(text="#0b3d91", background="#e3edff", pattern="#c9dafa"),
    "missing": Swatch(text="#8c1a10", background="#ffe0dc"),
    "extra": Swatch(text="#713600", background="#fff0d6", pattern="#ffdfa8"),
    "contradicted": Swatch(text="#5e1270", background="#f7e4fc", pattern="#e9c8f3"),
    "unverified": Swatch(text="#3b3f45", background="#f1f3f5", pattern="#d4d9de"),
    "not_declared": Swatch(text="#57606a", background="#ffffff"),
    "same": Swatch(text="#0f5323", background="#dcf5e3"),
    "different": Swatch(text="#8c1a10", background="#ffe0dc"),
    "unknown": Swatch(text="#3b3f45", background="#f1f3f5", pattern="#d4d9de"),
}

# One per clinic status (overview badges).
STATUSES: dict[str, Swatch] = {
    "in_sync": Swatch(text="#0f5323", background="#dcf5e3"),
    "changes": Swatch(text="#713600", background="#fff0d6"),
    "unverified": Swatch(text="#3b3f45", background="#e6e9ed"),
    "error": Swatch(text="#ffffff", background="#a40e26"),
}

CHROME: dict[str, Swatch] = {
    "page": PAGE,
    "muted": MUTED,
    "link": LINK,
    "header": HEADER,
    "header-muted": HEADER_MUTED,
    "stripe": STRIPE,
    "stripe-link": STRIPE_LINK,
    "stripe-muted": STRIPE_MUTED,
    "code": CODE,
    "error-box": ERROR_BOX,
}

BORDER = "#8c959f"  # lines between cells: not text (WCAG 1.4.11 asks 3:1 for such parts)
FOCUS = "#0550ae"


def all_pairs() -> list[tuple[str, str, str]]:
    """(name, text colour, background colour) for every pair the stylesheet uses."""
    out = []
    for group, swatches in (("chrome", CHROME), ("state", STATES), ("status", STATUSES)):
        for name, swatch in swatches.items():
            out += [(f"{group} {name}", swatch.text, bg) for bg in swatch.backgrounds]
    return out


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of ``#rrggbb``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def css_variables() -> str:
    """The palette as CSS custom properties (``--state-missing-text`` ...)."""
    lines = []
    for group, swatches in (("chrome", CHROME), ("state", STATES), ("status", STATUSES)):
        for name, s in swatches.items():
            key = f"--{group}-{name.replace('_', '-')}"
            lines.append(f"{key}-text:{s.text};{key}-bg:{s.background};")
            if s.pattern is not None:
                lines.append(f"{key}-pattern:{s.pattern};")
    lines.append(f"--border:{BORDER};--focus:{FOCUS};")
    return "".join(lines)
