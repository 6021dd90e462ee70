"""Checks of meaning for Accuro clinic files, beyond the schema (on the raw document)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from reconciler.config.semantic import dig
from reconciler.config.yamlsource import YamlDocument
from reconciler.diagnostics import Diagnostic, Severity

OCEANAPI_USERNAME = re.compile(r"^OceanAPI\d+$")


def check(doc: YamlDocument, today: date) -> Iterator[Diagnostic]:
    """Every problem of meaning in an Accuro clinic file."""
    yield from _accuro(doc, doc.data)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    grant = dig(data, "emr", "api", "grant")
    if grant == "password" and "password" not in user:
        yield doc.diagnostic(
            ("emr", "api", "grant"),
            "the password grant signs in as the OceanAPI user: give ocean_api_user.password "
            "(a secret reference), or use grant: client_credentials",
        )
    if dig(data, "emr", "api", "login_office") is not None and grant == "client_credentials":
        yield doc.diagnostic(
            ("emr", "api", "login_office"),
            "is sent only with the password grant; remove it, or use grant: password",
        )
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
