"""OSCAR password and PIN storage, as OSCAR's own login code checks each row.

A *lineage* is what a database is (which columns its ``security`` table has); a *scheme* is
how OSCAR checks one row of it (``LoginCheckLoginBean``):

- ``legacy``: OSCAR without ``storageVersion``, and rows with ``storageVersion = 1`` on
  OSCAR 15+: a stored password shorter than 20 characters is compared as plain text, a
  longer one as the SHA-1 digest written as the signed decimal value of each byte; the PIN
  as entered, at least 3 characters.
- ``pbkdf2``: rows with ``storageVersion = 2`` (OSCAR 15+): PBKDF2-HMAC-SHA1, 1000
  iterations, 24-byte salt and hash, ``1000:<hex salt>:<hex hash>``, for password and PIN.
- ``openo``: Open-O (``security.usingMfa``, no ``storageVersion``): Spring's delegating
  encoder, ``{bcrypt}<hash>`` (at most 72 bytes of password count), an unprefixed value
  being the legacy SHA-1 form (upgraded to bcrypt at the next login), shorter than 20
  characters plain text; the PIN as entered, at least 3 characters.

Secrets are verified, never read back. OSCAR's login turns every space in a password or
PIN into a backspace before checking it, so neither may contain a space.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from enum import StrEnum

import bcrypt


class Lineage(StrEnum):
    """What an OSCAR database is, from the columns of its ``security`` table."""

    LEGACY = "legacy"  # open-source OSCAR without storageVersion
    PBKDF2 = "pbkdf2"  # OSCAR 15+: security.storageVersion
    OPENO = "openo"  # Open-O: security.usingMfa

    @classmethod
    def from_columns(cls, columns: set[str]) -> Lineage:
        lowered = {c.lower() for c in columns}
        if "usingmfa" in lowered:
            return cls.OPENO
        if "storageversion" in lowered:
            return cls.PBKDF2
        return cls.LEGACY


class Scheme(StrEnum):
    """How OSCAR checks one row's password and PIN."""

    LEGACY = "legacy"
    PBKDF2 = "pbkdf2"
    OPENO = "openo"
    REFUSED = "refused"  # a storageVersion other than 1 or 2: OSCAR 15+ refuses every login


STORAGE_VERSION_PBKDF2 = 2
PBKDF2_ITERATIONS = 1000
PBKDF2_BYTES = 24
BCRYPT_MAX_BYTES = 72
PLAIN_TEXT_BELOW = 20  # a stored password shorter than this is compared as plain text
_PBKDF2 = re.compile(r"^(\d+):([0-9a-fA-F]+):([0-9a-fA-F]+)$")
_BCRYPT_PREFIX = "{bcrypt}"


def row_scheme(lineage: Lineage, storage_version: int | None) -> Scheme:
    """How OSCAR will check a row with this ``storageVersion`` (None: no such column)."""
    if lineage is Lineage.OPENO:
        return Scheme.OPENO
    if storage_version == STORAGE_VERSION_PBKDF2:
        return Scheme.PBKDF2
    if storage_version not in (None, 1):
        return Scheme.REFUSED
    return Scheme.LEGACY


def write_scheme(lineage: Lineage) -> Scheme:
    """The scheme OSCAR's own security screen writes in this lineage."""
    return {
        Lineage.LEGACY: Scheme.LEGACY,
        Lineage.PBKDF2: Scheme.PBKDF2,
        Lineage.OPENO: Scheme.OPENO,
    }[lineage]


def legacy_sha1(secret: str) -> str:
    digest = hashlib.sha1(secret.encode("utf-8")).digest()
    return "".join(str(b - 256 if b > 127 else b) for b in digest)


def pbkdf2(secret: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = salt if salt is not None else os.urandom(PBKDF2_BYTES)
    digest = hashlib.pbkdf2_hmac("sha1", secret.encode("utf-8"), salt, iterations, PBKDF2_BYTES)
    return f"{iterations}:{salt.hex()}:{digest.hex()}"


def hash_password(secret: str, scheme: Scheme) -> str:
    if scheme is Scheme.OPENO:
        return _BCRYPT_PREFIX + bcrypt.hashpw(secret.encode("utf-8"), bcrypt.gensalt()).decode()
    if scheme is Scheme.PBKDF2:
        return pbkdf2(secret)
    return legacy_sha1(secret)


def hash_pin(secret: str, scheme: Scheme) -> str:
    return pbkdf2(secret) if scheme is Scheme.PBKDF2 else secret


def _verify_pbkdf2(secret: str, stored: str) -> bool:
    match = _PBKDF2.match(stored)
    if not match or len(match[3]) % 2:
        return False  # OSCAR's PasswordHash throws, and the login fails
    iterations, salt, expected = int(match[1]), bytes.fromhex(match[2]), match[3].lower()
    digest = hashlib.pbkdf2_hmac(
        "sha1", secret.encode("utf-8"), salt, iterations, len(expected) // 2
    )
    return hmac.compare_digest(digest.hex(), expected)


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def verify_password(secret: str, stored: str | None, scheme: Scheme) -> bool:
    """Would OSCAR accept ``secret`` for a row checked with ``scheme``?"""
    if not stored or scheme is Scheme.REFUSED:
        return False
    if scheme is Scheme.PBKDF2:
        return _verify_pbkdf2(secret, stored)
    if scheme is Scheme.OPENO and stored.startswith(_BCRYPT_PREFIX):
        encoded = secret.encode("utf-8")
        if len(encoded) > BCRYPT_MAX_BYTES:
            return False  # Spring's BCryptPasswordEncoder refuses it
        try:
            return bcrypt.checkpw(encoded, stored[len(_BCRYPT_PREFIX) :].encode())
        except ValueError:
            return False
    if len(stored) < PLAIN_TEXT_BELOW:
        return _equal(secret, stored)
    return _equal(legacy_sha1(secret), stored)


def verify_pin(secret: str, stored: str | None, scheme: Scheme) -> bool:
    """Would OSCAR accept ``secret`` as the PIN of a row checked with ``scheme``?"""
    if not stored or scheme is Scheme.REFUSED:
        return False
    if scheme is Scheme.PBKDF2:
        return _verify_pbkdf2(secret, stored)
    if scheme is Scheme.OPENO and not OPENO_PIN.fullmatch(secret):
        return False  # Open-O's login blanks any PIN that is not exactly 4 digits
    return len(secret) >= 3 and _equal(secret, stored)


# --- what OSCAR's screens accept -------------------------------------------------------

PIN_MIN_LENGTH = 4  # OSCAR's password_pin_min_length default
PIN_MAX_LENGTH = 6  # the admin screen's maxlength
OPENO_PIN = re.compile(r"[0-9]{4}")  # Open-O's login form filter
OPENO_USER_NAME = re.compile(r"[a-zA-Z0-9]{1,10}")  # Open-O's login form filter


def pin_problem(pin: str) -> str | None:
    """Why OSCAR's security screen would refuse ``pin`` (never quoting it), or None."""
    if not pin.isascii() or not pin.isdigit():
        return "OSCAR accepts a PIN of digits only"
    if not PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH:
        return f"OSCAR accepts a PIN of {PIN_MIN_LENGTH} to {PIN_MAX_LENGTH} digits"
    return None


def lineage_problems(
    username: str, pin: str | None, lineage: Lineage
) -> tuple[str | None, str | None]:
    """(user name problem, PIN problem) this lineage's login has beyond every OSCAR's rules
    (never quoting the PIN).

    Open-O's login form replaces a user name that is not 1 to 10 letters and digits with
    "Invalid Username", and blanks a PIN that is not exactly 4 digits.
    """
    if lineage is not Lineage.OPENO:
        return None, None
    user_problem = pin_problem_ = None
    if not OPENO_USER_NAME.fullmatch(username):
        user_problem = (
            f"ocean_connect.login.username '{username}': Open-O's login accepts only user "
            f"names of 1 to 10 letters and digits (this one has {len(username)} characters)"
        )
    if pin is not None and not OPENO_PIN.fullmatch(pin):
        pin_problem_ = "ocean_connect.login.pin: Open-O's login accepts a PIN of exactly 4 digits"
    return user_problem, pin_problem_


def password_problem(password: str, lineage: Lineage | None = None) -> str | None:
    """Why OSCAR could never accept ``password`` at login (never quoting it), or None.

    ``lineage`` None: the rules of every lineage (at validate, before the database is read).
    """
    if " " in password:
        return "OSCAR's login turns spaces in a password into backspaces: it cannot contain one"
    size = len(password.encode("utf-8"))
    if lineage is Lineage.OPENO and size > BCRYPT_MAX_BYTES:
        return (
            f"Open-O stores passwords with bcrypt, which uses only the first {BCRYPT_MAX_BYTES} "
            "bytes (its newer versions refuse longer ones); choose a shorter password"
        )
    return None
