"""Secrets: references in clinic files, values that never enter a message.

A clinic file never holds a secret, only a reference: ``{env: NAME}`` or ``{file: path}``.
Resolving a reference yields a :class:`Secret`, whose ``repr``/``str`` show ``(sensitive)``;
its value leaves it only through :meth:`Secret.reveal`, for the one call that must send or
hash it.

Messages are kept free of secrets by construction, not by scrubbing: the tool builds every
message of its own from names, references and fixed text, never from a value, so those are
printed exactly as built. Text of foreign origin (a library's or database driver's message)
is summarised where it can be; where an adapter must pass some on, it goes through
:func:`redact`, which masks the secrets of the clinic being worked on (see
:func:`secret_scope`) in the forms a third party may print them in. Masking is never applied
to the tool's own messages, so one clinic's short PIN can never turn up as ``(sensitive)``
in the middle of another clinic's message.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from reconciler.errors import SecretError, SecretValueError
from reconciler.invisible import describe, first_invisible

REDACTED = "(sensitive)"
MIN_MASKED = 3  # masking 1-2 characters would garble every message and hide nothing
SHORT_SECRET = 8  # shorter forms (PINs) are masked as whole tokens only

_scope: ContextVar[str | None] = ContextVar("reconciler_secret_scope", default=None)
_by_scope: dict[str, set[str]] = {}
_everywhere: set[str] = set()
_values_by_scope: dict[str, set[str]] = {}  # the values themselves, however short
_values_everywhere: set[str] = set()
_lock = threading.Lock()


@contextmanager
def secret_scope(name: str) -> Iterator[None]:
    """Work on behalf of one clinic: secrets resolved inside belong to ``name``, and
    :func:`redact` inside masks only those."""
    token = _scope.set(name)
    try:
        yield
    finally:
        _scope.reset(token)


def _url_pieces(value: str) -> set[str]:
    """The user-info of a URL-shaped secret and its pieces, however a parser splits it (an
    unencoded ``@``, ``:`` or ``/`` in a password moves where a parser thinks the host is)."""
    rest = value.split("://", 1)[1]
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfos: set[str] = set()
    if "@" in rest:
        userinfos.add(rest[: rest.rfind("@")])
    if "@" in netloc:
        userinfos |= {netloc.rsplit("@", 1)[0], netloc.split("@", 1)[0]}
    pieces = {rest, netloc} if userinfos else {rest}
    for userinfo in userinfos:
        user, _, password = userinfo.partition(":")
        pieces |= {userinfo, user, password, *re.split(r"[:@/?#]", userinfo)}
    return pieces


def forms(value: str) -> set[str]:
    """Every form in which a third party may print ``value``: as is, percent-encoded and
    decoded, as escaped UTF-8 bytes (``\\xF0\\x9F...``, how MySQL echoes a value), and for a
    URL each piece of its user-info. Forms shorter than 3 characters are left out."""
    pieces = {value}
    if "://" in value:
        pieces |= _url_pieces(value)
    out: set[str] = set()
    for piece in pieces:
        out |= {piece, quote(piece, safe=""), unquote(piece)}
        if not piece.isascii():
            raw = piece.encode("utf-8", "surrogateescape")
            out.add("".join(chr(b) if b < 0x80 else f"\\x{b:02X}" for b in raw))
            out.add("".join(chr(b) if b < 0x80 else f"\\x{b:02x}" for b in raw))
    return {f for f in out if len(f) >= MIN_MASKED}


def _register(value: str) -> None:
    found = forms(value)
    scope = _scope.get()
    with _lock:
        _everywhere.update(found)
        _values_everywhere.add(value)
        if scope is not None:
            _by_scope.setdefault(scope, set()).update(found)
            _values_by_scope.setdefault(scope, set()).add(value)


def contains_secret(text: str) -> bool:
    """Does ``text`` (of foreign origin: a database trigger's message, say) hold any secret of
    the current scope, in any of its forms, anywhere, even touching other letters or digits
    (``PIN1234``), whatever its length? Outside any scope, any secret this process resolved.

    :func:`redact` masks a short secret only as a whole token, so as not to garble a message;
    a caller that cannot tell what surrounds the secret uses this to withhold the text."""
    scope = _scope.get()
    with _lock:
        if scope is not None:
            values = _by_scope.get(scope, set()) | _values_by_scope.get(scope, set())
        else:
            values = _everywhere | _values_everywhere
        candidates = list(values)
    return any(value and value in text for value in candidates)


def mask(text: str, values: set[str]) -> str:
    """``text`` with each of ``values`` replaced by ``(sensitive)``: a long value wherever it
    occurs, a short one (a PIN) only as a whole token, so it does not garble other numbers."""
    for value in sorted(values, key=len, reverse=True):
        if value not in text:
            continue
        if len(value) >= SHORT_SECRET:
            text = text.replace(value, REDACTED)
        else:
            token = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
            text = re.sub(token, REDACTED, text)
    return text


def redact(text: str) -> str:
    """Mask secrets in ``text`` of foreign origin (a driver's message, say).

    Inside :func:`secret_scope` only that scope's secrets are masked; outside any scope,
    every secret this process resolved is. A long form is masked wherever it appears, a short
    one (a 4-digit PIN) only as a whole token. Never use it on the tool's own messages: they
    hold no secret, and masking could only garble them.
    """
    scope = _scope.get()
    with _lock:
        values = set(_by_scope.get(scope, ())) if scope is not None else set(_everywhere)
    return mask(text, values)


def redact_all(text: str) -> str:
    """Mask every secret this process resolved, in any scope (for a debugging traceback)."""
    with _lock:
        values = set(_everywhere)
    return mask(text, values)


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


MAX_SECRET_FILE = 64 * 1024
"""A secret file larger than this is refused unread: no secret is that long, and a device
(``/dev/zero``) or a file written by mistake must not fill memory."""


def _read_secret_file(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_SECRET_FILE` bytes. A FIFO, device or
    directory is refused before it is opened (opening a FIFO would wait for a writer)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SecretError(f"secret file {path} does not exist") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SecretError(f"secret file {path} cannot be read ({reason})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise SecretValueError(f"secret file {path} is {kind}; name a file holding the value")
    if info.st_size > MAX_SECRET_FILE:
        raise SecretValueError(
            f"secret file {path} is larger than {MAX_SECRET_FILE // 1024} KiB; "
            "a secret file holds one value"
        )
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SecretError(f"secret file {path} cannot be read ({reason})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the check above
            raise SecretValueError(f"secret file {path} is not a regular file")
        raw = os.read(fd, MAX_SECRET_FILE + 1)
        while len(raw) <= MAX_SECRET_FILE and (more := os.read(fd, MAX_SECRET_FILE + 1)):
            raw += more
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SecretError(f"secret file {path} cannot be read ({reason})") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_SECRET_FILE:
        raise SecretValueError(
            f"secret file {path} is larger than {MAX_SECRET_FILE // 1024} KiB; "
            "a secret file holds one value"
        )
    return raw


def _from_file(text: str) -> str:
    """A secret file's value: without a leading BOM and without one final line ending."""
    text = text.removeprefix("\ufeff")
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


def check_value(value: str, what: str, *, from_file: bool = False) -> None:
    """Refuse a value that would not be what its author meant; the message names ``what``
    (the reference) and the offending character, never the value."""
    if value == "":
        raise SecretValueError(f"{what} is empty")
    if not value.strip():
        raise SecretValueError(f"{what} holds only white space")
    bad = first_invisible(value)
    if bad is not None:
        if describe(bad).endswith("(not UTF-8)"):
            raise SecretValueError(f"{what} is not valid UTF-8")
        hint = ""
        if from_file and bad in "\r\n":
            hint = "; only one line ending at the very end of a secret file is removed"
        elif from_file and bad == "\ufeff":
            hint = "; a byte order mark is removed only at the very start of a secret file"
        raise SecretValueError(
            f"{what} contains the invisible character {describe(bad)}{hint}; it would become "
            "part of the secret. Remove it"
        )
    if value != value.strip():
        end = "starts" if value[0].isspace() else "ends"
        raise SecretValueError(
            f"{what} {end} with white space; the tool does not strip it (a password may hold "
            "spaces) and refuses it at either end, where it is almost always a mistake. "
            "Remove it"
        )


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret comes from: an environment variable, or a file (one value)."""

    source: Literal["env", "file"]
    name: str
    base_dir: Path | None = None  # a relative file reference is relative to its clinic file
    field: str = ""  # where the clinic file holds it (ocean_connect.login.pin), for messages

    @classmethod
    def from_document(cls, value: Any, base_dir: Path, field: str = "") -> SecretRef:
        """From a validated ``{env: NAME}`` or ``{file: path}`` mapping at ``field``."""
        ((source, name),) = value.items()
        return cls(source, name, base_dir, field)

    @classmethod
    def from_raw(cls, node: Any, base_dir: Path) -> SecretRef | None:
        """``node`` of a raw (possibly invalid) document as a reference, or None if it is not
        one (``{env: NAME}`` or ``{file: path}`` with a string)."""
        if not (isinstance(node, dict) and len(node) == 1):
            return None
        ((source, name),) = node.items()
        if source not in ("env", "file") or not isinstance(name, str):
            return None
        return cls(source, name, base_dir)

    @classmethod
    def optional(
        cls, block: dict[str, Any], key: str, base_dir: Path, within: str = ""
    ) -> SecretRef | None:
        """``block[key]`` as a reference, or None when the key is absent."""
        if key not in block:
            return None
        return cls.from_document(block[key], base_dir, f"{within}.{key}" if within else key)

    def describe(self) -> str:
        """The reference as written: ``{env: NAME}`` or ``{file: path}``."""
        return f"{{{self.source}: {self.name}}}"

    def path(self) -> Path:
        """The file a ``{file: ...}`` reference points at."""
        path = Path(self.name).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def resolve(self) -> Secret:
        """Read the value, checked.

        Raises :class:`SecretError` when it cannot be read (an unset variable, a missing
        file), :class:`SecretValueError` when what was read is unusable (empty, not UTF-8,
        an invisible character, white space at either end). Both name the field and the
        reference only.
        """
        if not self.field:
            return self._resolve()
        try:
            return self._resolve()
        except SecretValueError as exc:
            raise SecretValueError(f"{self.field}: {exc}") from None
        except SecretError as exc:
            raise SecretError(f"{self.field}: {exc}") from None

    def _resolve(self) -> Secret:
        if self.source == "env":
            value = os.environ.get(self.name)
            if value is None:
                raise SecretError(f"environment variable {self.name} is not set")
            check_value(value, f"environment variable {self.name}")
            return Secret(value)
        path = self.path()
        raw = _read_secret_file(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretValueError(
                f"secret file {path} is not UTF-8 text; save it as UTF-8"
            ) from None
        value = _from_file(text)
        check_value(value, f"secret file {path}", from_file=True)
        return Secret(value)
