"""Desired state: what a clinic file declares, as frozen value objects.

Built by :mod:`reconciler.config` only from a file that validated, so every field here is
already checked. Secrets are :class:`~reconciler.secrets.SecretRef`s: nothing is resolved
until an adapter needs the value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from reconciler.secrets import SecretRef


class Permission(StrEnum):
    """A column of Accuro's Provider Permissions grid, in the order Accuro shows them."""

    PATIENT = "patient"
    SCHEDULING = "scheduling"
    BILLING = "billing"
    EMR = "emr"
    LABS = "labs"
    VISIBLE = "visible"


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)


class UndeclaredPolicy(StrEnum):
    """What to do with live items nobody declared (Ansible's merged/overridden)."""

    REPORT = "report"
    REVOKE = "revoke"


class EmrKind(StrEnum):
    ACCURO = "accuro"
    OSCAR = "oscar"


class OscarEdition(StrEnum):
    OPEN_SOURCE = "open-source"
    PRO = "pro"


class OscarBackend(StrEnum):
    SQL = "sql"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int = 1


# --- Accuro ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccuroApi:
    base_url: str
    tenant: str
    uuid: str
    client_id: SecretRef
    client_secret: SecretRef
    subscription_key: SecretRef


@dataclass(frozen=True, slots=True)
class ProviderGrant:
    """One provider's row in one office: identified by ``name`` or by ``provider_id``."""

    name: str | None
    provider_id: int | None
    permissions: frozenset[Permission]

    @property
    def key(self) -> str:
        return f"id:{self.provider_id}" if self.provider_id is not None else f"name:{self.name}"


@dataclass(frozen=True, slots=True)
class OfficeGrant:
    name: str
    providers: tuple[ProviderGrant, ...]


@dataclass(frozen=True, slots=True)
class OceanApiUser:
    username: str
    password: SecretRef | None
    offices: tuple[OfficeGrant, ...]
    undeclared_providers: UndeclaredPolicy


@dataclass(frozen=True, slots=True)
class AccuroSpec:
    api: AccuroApi
    ocean_api_user: OceanApiUser
    full_schedule_sync: bool


# --- OSCAR ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OscarProvider:
    number: str
    last_name: str
    first_name: str
    provider_type: str = "doctor"


@dataclass(frozen=True, slots=True)
class OscarLogin:
    username: str
    password: SecretRef | None
    pin: SecretRef | None
    pin_remote: bool
    pin_local: bool
    force_password_reset: bool
    expires: date | None


@dataclass(frozen=True, slots=True)
class OscarSpec:
    edition: OscarEdition
    backend: OscarBackend
    database_url: SecretRef | None
    provider: OscarProvider
    roles: tuple[str, ...]
    primary_role: str
    login: OscarLogin
    pro_auth: bool
    present: bool = True  # ``ensure: absent`` decommissions the OceanConnect objects


# --- the clinic -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clinic:
    """One clinic file, validated."""

    id: str
    name: str
    emr: EmrKind
    spec: AccuroSpec | OscarSpec
    source: SourceLocation
    document: dict[str, Any]  # the validated document, for hashing and audit

    @property
    def oscar(self) -> OscarSpec:
        assert isinstance(self.spec, OscarSpec), f"{self.id} is not an OSCAR clinic"
        return self.spec

    @property
    def accuro(self) -> AccuroSpec:
        assert isinstance(self.spec, AccuroSpec), f"{self.id} is not an Accuro clinic"
        return self.spec

    def desired_hash(self) -> str:
        """A hash of the declared state (secret references, not values): detects edits."""
        canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
