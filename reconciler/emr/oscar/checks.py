"""Checks of meaning for OSCAR clinic files, beyond the schema (on the raw document)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from reconciler.config.yamlsource import YamlDocument
from reconciler.diagnostics import Diagnostic


def check(doc: YamlDocument, today: date) -> Iterator[Diagnostic]:
    """Every problem of meaning in an OSCAR clinic file."""
    yield from _oscar(doc, doc.data, today)


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
