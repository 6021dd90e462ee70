"""OSCAR's desired state: the OceanConnect provider, its roles, primary role and login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from reconciler.model import Clinic
from reconciler.secrets import SecretRef


class OscarEdition(StrEnum):
    OPEN_SOURCE = "open-source"
    PRO = "pro"


class OscarBackend(StrEnum):
    SQL = "sql"
    MANUAL = "manual"


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
    update_user: str | None = None  # provider number OSCAR records as making the change


def oscar_spec(clinic: Clinic) -> OscarSpec:
    assert isinstance(clinic.spec, OscarSpec), f"{clinic.id} is not an OSCAR clinic"
    return clinic.spec


def build_spec(data: dict[str, Any], base_dir: Path) -> OscarSpec:
    """The spec from a validated document."""
    emr = data["emr"]
    connect = data["ocean_connect"]
    provider = connect["provider"]
    login = connect["login"]
    expires = login.get("expires")
    return OscarSpec(
        edition=OscarEdition(emr["edition"]),
        backend=OscarBackend(emr["backend"]),
        database_url=(
            SecretRef.from_document(emr["database"]["url"], base_dir, "emr.database.url")
            if "database" in emr
            else None
        ),
        provider=OscarProvider(
            number=provider["number"],
            last_name=provider["last_name"],
            first_name=provider["first_name"],
            provider_type=provider.get("type", "doctor"),
        ),
        roles=tuple(connect.get("roles", ["doctor"])),
        primary_role=connect.get("primary_role", "doctor"),
        login=OscarLogin(
            username=login["username"],
            password=SecretRef.optional(login, "password", base_dir, "ocean_connect.login"),
            pin=SecretRef.optional(login, "pin", base_dir, "ocean_connect.login"),
            pin_remote=bool(login.get("pin_remote", True)),
            pin_local=bool(login.get("pin_local", False)),
            force_password_reset=bool(login.get("force_password_reset", False)),
            expires=date.fromisoformat(expires) if expires else None,
        ),
        pro_auth=bool(connect.get("pro_auth", False)),
        present=connect.get("ensure", "present") == "present",
        update_user=emr.get("database", {}).get("update_user"),
    )
