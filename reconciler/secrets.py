"""Secrets: references in clinic files, and values that never print themselves.

A clinic file never holds a secret, only a reference: ``{env: NAME}`` or ``{file: path}``.
Resolving a reference yields a :class:`Secret`, whose ``repr``/``str`` are redacted, and
registers its value with :func:`redact`, which every message leaving the tool passes
through (errors, logs, plan output), so a value that leaks into a third-party exception
is masked as well.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from reconciler.errors import SecretError

REDACTED = "(sensitive)"

_known_values: set[str] = set()
_lock = threading.Lock()


def _register(value: str) -> None:
    if len(value) >= 3:  # masking 1-2 characters everywhere would garble every message
        with _lock:
            _known_values.add(value)


SHORT_SECRET = 8  # shorter values (PINs) are masked as whole tokens only


def redact(text: str) -> str:
    """Replace every secret value this process has resolved with ``(sensitive)``.

    A long value is masked wherever it appears. A short one (a 4-digit PIN) is masked only
    as a whole token, so that a PIN of 9999 does not garble provider number 999990.
    """
    with _lock:
        values = sorted(_known_values, key=len, reverse=True)
    for value in values:
        if value not in text:
            continue
        if len(value) >= SHORT_SECRET:
            text = text.replace(value, REDACTED)
        else:
            token = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
            text = re.sub(token, REDACTED, text)
    return text


class Secret:
    """A secret value. Printing it, in any way, shows ``(sensitive)``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        _register(value)

    def reveal(self) -> str:
        """The value itself: only for the one call that must send or hash it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret comes from: an environment variable, or a file (one value, stripped)."""

    source: Literal["env", "file"]
    name: str
    base_dir: Path | None = None  # a relative file reference is relative to its clinic file

    @classmethod
    def from_document(cls, value: Any, base_dir: Path) -> SecretRef:
        """From a validated ``{env: NAME}`` or ``{file: path}`` mapping."""
        ((source, name),) = value.items()
        return cls(source, name, base_dir)

    @classmethod
    def optional(cls, block: dict[str, Any], key: str, base_dir: Path) -> SecretRef | None:
        """``block[key]`` as a reference, or None when the key is absent."""
        return cls.from_document(block[key], base_dir) if key in block else None

    def describe(self) -> str:
        return f"{{{self.source}: {self.name}}}"

    def resolve(self) -> Secret:
        """Read the value. Raises :class:`SecretError` (which names the reference only)."""
        if self.source == "env":
            value = os.environ.get(self.name)
            if value is None:
                raise SecretError(f"environment variable {self.name} is not set")
            if value == "":
                raise SecretError(f"environment variable {self.name} is empty")
            return Secret(value)
        path = Path(self.name).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SecretError(f"secret file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretError(f"secret file {path} cannot be read ({type(exc).__name__})") from None
        if not value:
            raise SecretError(f"secret file {path} is empty")
        return Secret(value)
