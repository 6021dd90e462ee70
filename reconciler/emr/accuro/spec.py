"""Accuro's desired state: the OceanAPI user's Provider Permissions, per office and provider."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from reconciler.model import Clinic
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


class Grant(StrEnum):
    """How the adapter gets its token (README: "Accuro: how reconciler signs in")."""

    PASSWORD = "password"  # the OceanAPI user's own password grant: a user-bound token
    CLIENT_CREDENTIALS = "client_credentials"  # the partner client's Service User token


class UndeclaredPolicy(StrEnum):
    """What to do with live items nobody declared (Ansible's merged/overridden)."""

    REPORT = "report"
    REVOKE = "revoke"


@dataclass(frozen=True, slots=True)
class AccuroApi:
    base_url: str
    tenant: str
    uuid: str
    client_id: SecretRef
    client_secret: SecretRef
    subscription_key: SecretRef
    grant: Grant = Grant.CLIENT_CREDENTIALS
    login_office: int | None = None


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


def accuro_spec(clinic: Clinic) -> AccuroSpec:
    assert isinstance(clinic.spec, AccuroSpec), f"{clinic.id} is not an Accuro clinic"
    return clinic.spec


def build_spec(data: dict[str, Any], base_dir: Path) -> AccuroSpec:
    """The spec from a validated document."""
    api = data["emr"]["api"]
    user = data["ocean_api_user"]
    default_grant = Grant.PASSWORD if "password" in user else Grant.CLIENT_CREDENTIALS
    offices = tuple(
        OfficeGrant(
            name=office["name"],
            providers=tuple(
                ProviderGrant(
                    name=p.get("name"),
                    provider_id=p.get("id"),
                    permissions=(
                        frozenset(Permission(x) for x in p["permissions"])
                        if "permissions" in p
                        else ALL_PERMISSIONS
                    ),
                )
                for p in office["providers"]
            ),
        )
        for office in user["offices"]
    )
    return AccuroSpec(
        api=AccuroApi(
            base_url=api["base_url"].rstrip("/"),
            tenant=api["tenant"],
            uuid=api["uuid"],
            client_id=SecretRef.from_document(api["client_id"], base_dir, "emr.api.client_id"),
            client_secret=SecretRef.from_document(
                api["client_secret"], base_dir, "emr.api.client_secret"
            ),
            subscription_key=SecretRef.from_document(
                api["subscription_key"], base_dir, "emr.api.subscription_key"
            ),
            grant=Grant(api.get("grant", default_grant)),
            login_office=api.get("login_office"),
        ),
        ocean_api_user=OceanApiUser(
            username=user["username"],
            password=SecretRef.optional(user, "password", base_dir, "ocean_api_user"),
            offices=offices,
            undeclared_providers=UndeclaredPolicy(user.get("undeclared_providers", "report")),
        ),
        full_schedule_sync=bool(data.get("ocean", {}).get("full_schedule_sync", True)),
    )
