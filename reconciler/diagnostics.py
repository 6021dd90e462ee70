"""Diagnostics: one problem found in a clinic file, located by file, line, column and field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


FieldPath = tuple[str | int, ...]


def format_field(path: Sequence[str | int]) -> str:
    """``("offices", 0, "name")`` -> ``offices[0].name``; the empty path is ``(document)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    file: str
    line: int
    col: int
    field: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self) -> str:
        """``FILE:LINE:COL: field.path: message``; warnings say so before the message."""
        marker = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.file}:{self.line}:{self.col}: {self.field}: {marker}{self.message}"


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.file, d.line, d.col, d.field, d.message))
