"""OSCAR's live state as the SQL adapter observes it: what the pure diff compares with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from reconciler.plan import ABSENT


@dataclass(frozen=True, slots=True)
class OscarProviderRow:
    number: str
    last_name: str
    first_name: str
    provider_type: str
    active: bool


@dataclass(frozen=True, slots=True)
class OscarLoginRow:
    username: str
    provider_no: str | None
    pin_remote: bool
    pin_local: bool
    force_password_reset: bool
    expires: date | str | None  # a str describes a stored value that is not a date
    password_matches: bool | None  # None: no password declared to verify against
    pin_matches: bool | None
    storage_version: int | None = None  # None: this OSCAR has no security.storageVersion
    using_mfa: bool | None = None  # None: this OSCAR has no security.usingMfa (not Open-O)


@dataclass(frozen=True, slots=True)
class OscarLive:
    """The OceanConnect objects in one OSCAR database."""

    provider: OscarProviderRow | None
    roles: frozenset[str]
    primary_role: str | None
    login: OscarLoginRow | None
    primary_role_rows: int | None = None  # program_provider rows; None: 1 if primary_role else 0
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    lineage: str = "unknown"

    @property
    def primary_rows(self) -> int:
        if self.primary_role_rows is not None:
            return self.primary_role_rows
        return 0 if self.primary_role is None else 1

    def fingerprint(self, address: str) -> str:
        return self.fingerprints.get(address, ABSENT)
