"""Checks of meaning that a schema cannot express. They read the raw document defensively,
so they still run, and still report, on a file that also has schema errors."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from reconciler.config.yamlsource import YamlDocument
from reconciler.diagnostics import Diagnostic, Severity

OCEANAPI_USERNAME = re.compile(r"^OceanAPI\d+$")
ACCURO_ONLY = ("ocean_api_user", "ocean")
OSCAR_ONLY = ("ocean_connect",)
ACCURO_EMR_KEYS = ("api",)
OSCAR_EMR_KEYS = ("edition", "backend", "database")


def dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def misplaced_blocks(data: Any) -> list[tuple[str, ...]]:
    """Blocks that belong to the other EMR kind (reported once, by :func:`_wrong_kind`)."""
    kind = dig(data, "emr", "kind")
    if kind not in ("accuro", "oscar") or not isinstance(data, dict):
        return []
    top, emr = (OSCAR_ONLY, OSCAR_EMR_KEYS) if kind == "accuro" else (ACCURO_ONLY, ACCURO_EMR_KEYS)
    emr_block = data.get("emr")
    blocks: list[tuple[str, ...]] = [(k,) for k in top if k in data]
    if isinstance(emr_block, dict):
        blocks += [("emr", k) for k in emr if k in emr_block]
    return blocks


def semantic_diagnostics(doc: YamlDocument, today: date) -> Iterator[Diagnostic]:
    data = doc.data
    if not isinstance(data, dict):
        yield doc.diagnostic((), "a clinic file is a mapping that starts with 'version: 1'")
        return
    kind = dig(data, "emr", "kind")
    if kind == "accuro":
        yield from _wrong_kind(doc, OSCAR_ONLY, OSCAR_EMR_KEYS, "OSCAR", "accuro")
        yield from _accuro(doc, data)
    elif kind == "oscar":
        yield from _wrong_kind(doc, ACCURO_ONLY, ACCURO_EMR_KEYS, "Accuro", "oscar")
        yield from _oscar(doc, data, today)


def _wrong_kind(
    doc: YamlDocument, top: tuple[str, ...], emr: tuple[str, ...], other: str, kind: str
) -> Iterator[Diagnostic]:
    for key in top:
        if key in doc.data:
            yield doc.diagnostic(
                (key,),
                f"'{key}' is for {other} clinics; this clinic's emr.kind is {kind}",
                at_key=True,
            )
    emr_block = doc.data.get("emr")
    for key in emr:
        if isinstance(emr_block, dict) and key in emr_block:
            yield doc.diagnostic(
                ("emr", key),
                f"'emr.{key}' is for {other} clinics; this clinic's emr.kind is {kind}",
                at_key=True,
            )


def _accuro(doc: YamlDocument, data: dict[str, Any]) -> Iterator[Diagnostic]:
    base_url = dig(data, "emr", "api", "base_url")
    if isinstance(base_url, str):
        parts = urlsplit(base_url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            yield doc.diagnostic(
                ("emr", "api", "base_url"),
                "must use https (plain http is allowed only for loopback addresses)",
            )
    user = data.get("ocean_api_user")
    if not isinstance(user, dict):
        return
    username = user.get("username")
    if isinstance(username, str):
        if re.search(r"\s", username):
            yield doc.diagnostic(("ocean_api_user", "username"), "must not contain spaces")
        elif not OCEANAPI_USERNAME.match(username):
            yield doc.diagnostic(
                ("ocean_api_user", "username"),
                f"'{username}' does not look like OceanAPI<tenant id> (e.g. OceanAPI12345); "
                "make sure this is the user Ocean connects as",
                severity=Severity.WARNING,
            )
    offices = user.get("offices")
    if not isinstance(offices, list):
        return
    office_seen: dict[str, int] = {}
    for i, office in enumerate(offices):
        if not isinstance(office, dict):
            continue
        name = office.get("name")
        if isinstance(name, str):
            folded = name.strip().casefold()
            if folded in office_seen:
                first = doc.position(("ocean_api_user", "offices", office_seen[folded], "name"))
                yield doc.diagnostic(
                    ("ocean_api_user", "offices", i, "name"),
                    f"office '{name}' is declared twice (first on line {first.line})",
                )
            else:
                office_seen[folded] = i
        providers = office.get("providers")
        if isinstance(providers, list):
            yield from _duplicate_providers(doc, i, providers)


def _duplicate_providers(
    doc: YamlDocument, office: int, providers: list[Any]
) -> Iterator[Diagnostic]:
    seen: dict[str, int] = {}
    for j, provider in enumerate(providers):
        if not isinstance(provider, dict):
            continue
        for field in ("name", "id"):
            value = provider.get(field)
            if value is None or isinstance(value, bool):
                continue
            key = f"{field}:{str(value).strip().casefold()}"
            path = ("ocean_api_user", "offices", office, "providers", j, field)
            if key in seen:
                first = doc.position(("ocean_api_user", "offices", office, "providers", seen[key]))
                yield doc.diagnostic(
                    path,
                    f"provider {field} {value!r} is listed twice in this office "
                    f"(first on line {first.line})",
                )
            else:
                seen[key] = j


def _oscar(doc: YamlDocument, data: dict[str, Any], today: date) -> Iterator[Diagnostic]:
    emr = data.get("emr") if isinstance(data.get("emr"), dict) else {}
    assert isinstance(emr, dict)
    backend, edition = emr.get("backend"), emr.get("edition")
    if backend == "sql" and "database" not in emr:
        yield doc.diagnostic(("emr", "database"), "backend sql needs database.url")
    if backend == "manual" and "database" in emr:
        yield doc.diagnostic(
            ("emr", "database"),
            "backend manual reads no database; remove it or use backend sql",
            at_key=True,
        )
    connect = data.get("ocean_connect")
    if not isinstance(connect, dict):
        return
    if connect.get("pro_auth") is True and edition != "pro":
        yield doc.diagnostic(
            ("ocean_connect", "pro_auth"),
            "Pro Authentication exists only on OSCAR Pro (set emr.edition: pro)",
        )
    roles = connect.get("roles", ["doctor"])
    primary = connect.get("primary_role", "doctor")
    if isinstance(roles, list) and isinstance(primary, str) and primary not in roles:
        yield doc.diagnostic(
            ("ocean_connect", "primary_role"),
            f"primary role '{primary}' is not among roles ({', '.join(map(str, roles))})",
        )
    login = connect.get("login")
    if not isinstance(login, dict):
        return
    username = login.get("username")
    if isinstance(username, str) and re.search(r"\s", username):
        yield doc.diagnostic(
            ("ocean_connect", "login", "username"), "must not contain spaces (OceanConnect)"
        )
    expires = login.get("expires")
    if isinstance(expires, str):
        try:
            when = date.fromisoformat(expires)
        except ValueError:
            return  # the schema reports the format
        if when < today:
            yield doc.diagnostic(
                ("ocean_connect", "login", "expires"),
                f"{expires} is in the past: OSCAR would lock the user out; "
                "use a future date or null",
            )
    if connect.get("pro_auth") is not True:
        for secret in ("password", "pin"):
            if backend == "sql" and secret not in login:
                yield doc.diagnostic(
                    ("ocean_connect", "login", secret),
                    f"the login {secret} is needed to create and verify the login record "
                    f"(e.g. {secret}: {{env: OCEANCONNECT_{secret.upper()}}})",
                )
