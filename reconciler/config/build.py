"""Turn a validated clinic document into the frozen desired-state model."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from reconciler.config.yamlsource import YamlDocument
from reconciler.model import (
    ALL_PERMISSIONS,
    AccuroApi,
    AccuroSpec,
    Clinic,
    EmrKind,
    OceanApiUser,
    OfficeGrant,
    OscarBackend,
    OscarEdition,
    OscarLogin,
    OscarProvider,
    OscarSpec,
    Permission,
    ProviderGrant,
    SourceLocation,
    UndeclaredPolicy,
)
from reconciler.secrets import SecretRef


def _secret(value: Any, base_dir: Path) -> SecretRef:
    ((source, name),) = value.items()
    return SecretRef(source, name, base_dir)


def _optional_secret(block: dict[str, Any], key: str, base_dir: Path) -> SecretRef | None:
    return _secret(block[key], base_dir) if key in block else None


def build_clinic(doc: YamlDocument, file_path: Path) -> Clinic:
    data: dict[str, Any] = doc.data
    base_dir = file_path.parent
    kind = EmrKind(data["emr"]["kind"])
    spec = _accuro(data, base_dir) if kind is EmrKind.ACCURO else _oscar(data, base_dir)
    return Clinic(
        id=data["clinic"]["id"],
        name=data["clinic"]["name"],
        emr=kind,
        spec=spec,
        source=SourceLocation(doc.path, doc.position(("clinic", "id")).line),
        document=data,
    )


def _accuro(data: dict[str, Any], base_dir: Path) -> AccuroSpec:
    api = data["emr"]["api"]
    user = data["ocean_api_user"]
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
            client_id=_secret(api["client_id"], base_dir),
            client_secret=_secret(api["client_secret"], base_dir),
            subscription_key=_secret(api["subscription_key"], base_dir),
        ),
        ocean_api_user=OceanApiUser(
            username=user["username"],
            password=_optional_secret(user, "password", base_dir),
            offices=offices,
            undeclared_providers=UndeclaredPolicy(user.get("undeclared_providers", "report")),
        ),
        full_schedule_sync=bool(data.get("ocean", {}).get("full_schedule_sync", True)),
    )


def _oscar(data: dict[str, Any], base_dir: Path) -> OscarSpec:
    emr = data["emr"]
    connect = data["ocean_connect"]
    provider = connect["provider"]
    login = connect["login"]
    expires = login.get("expires")
    return OscarSpec(
        edition=OscarEdition(emr["edition"]),
        backend=OscarBackend(emr["backend"]),
        database_url=_secret(emr["database"]["url"], base_dir) if "database" in emr else None,
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
            password=_optional_secret(login, "password", base_dir),
            pin=_optional_secret(login, "pin", base_dir),
            pin_remote=bool(login.get("pin_remote", True)),
            pin_local=bool(login.get("pin_local", False)),
            force_password_reset=bool(login.get("force_password_reset", False)),
            expires=date.fromisoformat(expires) if expires else None,
        ),
        pro_auth=bool(connect.get("pro_auth", False)),
        present=connect.get("ensure", "present") == "present",
    )
