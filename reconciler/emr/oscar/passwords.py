"""OSCAR password and PIN storage, by lineage. Secrets are verified, never read back.

- ``legacy``: SHA-1 of the password, written as the signed decimal value of each byte,
  no salt (``MessageDigest("SHA")`` appended byte by byte); the PIN as entered.
- ``pbkdf2`` (OSCAR 15+, ``security.storageVersion`` = 2): PBKDF2-HMAC-SHA1, 1000
  iterations, 24-byte salt and hash, stored as ``1000:<hex salt>:<hex hash>``; PIN too.
- ``openo`` (Open-O, has ``security.usingMfa``): ``{bcrypt}<hash>`` passwords; PIN as entered.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from enum import StrEnum

import bcrypt


class Lineage(StrEnum):
    LEGACY = "legacy"
    PBKDF2 = "pbkdf2"
    OPENO = "openo"


PBKDF2_ITERATIONS = 1000
PBKDF2_BYTES = 24
_PBKDF2 = re.compile(r"^(\d+):([0-9a-fA-F]+):([0-9a-fA-F]+)$")
_BCRYPT_PREFIX = "{bcrypt}"


def lineage_from_columns(columns: set[str]) -> Lineage:
    """The lineage a database writes in, from the columns of its ``security`` table."""
    lowered = {c.lower() for c in columns}
    if "usingmfa" in lowered:
        return Lineage.OPENO
    if "storageversion" in lowered:
        return Lineage.PBKDF2
    return Lineage.LEGACY


def legacy_sha1(secret: str) -> str:
    digest = hashlib.sha1(secret.encode("utf-8")).digest()
    return "".join(str(b - 256 if b > 127 else b) for b in digest)


def pbkdf2(secret: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = salt if salt is not None else os.urandom(PBKDF2_BYTES)
    digest = hashlib.pbkdf2_hmac("sha1", secret.encode("utf-8"), salt, iterations, PBKDF2_BYTES)
    return f"{iterations}:{salt.hex()}:{digest.hex()}"


def hash_password(secret: str, lineage: Lineage) -> str:
    if lineage is Lineage.OPENO:
        return _BCRYPT_PREFIX + bcrypt.hashpw(secret.encode("utf-8"), bcrypt.gensalt()).decode()
    if lineage is Lineage.PBKDF2:
        return pbkdf2(secret)
    return legacy_sha1(secret)


def hash_pin(secret: str, lineage: Lineage) -> str:
    return pbkdf2(secret) if lineage is Lineage.PBKDF2 else secret


def _verify_pbkdf2(secret: str, stored: str) -> bool | None:
    match = _PBKDF2.match(stored)
    if not match:
        return None
    iterations, salt, expected = int(match[1]), bytes.fromhex(match[2]), match[3].lower()
    digest = hashlib.pbkdf2_hmac(
        "sha1", secret.encode("utf-8"), salt, iterations, len(expected) // 2
    )
    return hmac.compare_digest(digest.hex(), expected)


def verify_password(secret: str, stored: str | None) -> bool:
    """Does ``secret`` match the stored password, whichever lineage wrote it?"""
    if not stored:
        return False
    if stored.startswith(_BCRYPT_PREFIX):
        try:
            return bcrypt.checkpw(secret.encode("utf-8"), stored[len(_BCRYPT_PREFIX) :].encode())
        except ValueError:
            return False
    pbkdf2_result = _verify_pbkdf2(secret, stored)
    if pbkdf2_result is not None:
        return pbkdf2_result
    return hmac.compare_digest(legacy_sha1(secret), stored)


def verify_pin(secret: str, stored: str | None) -> bool:
    """Does ``secret`` match the stored PIN (PBKDF2, or as entered)?"""
    if not stored:
        return False
    pbkdf2_result = _verify_pbkdf2(secret, stored)
    if pbkdf2_result is not None:
        return pbkdf2_result
    return hmac.compare_digest(secret.encode("utf-8"), stored.encode("utf-8"))
