"""Checks of meaning for OSCAR clinic files, beyond the schema (on the raw document)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from reconciler.config.yamlsource import YamlDocument
from reconciler.diagnostics import Diagnostic, Severity
from reconciler.emr.oscar.passwords import (
    BCRYPT_MAX_BYTES,
    password_problem,
    pin_problem,
)
from reconciler.errors import SecretError, SecretValueError
from reconciler.secrets import SecretRef


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
    if connect.get("pro_auth") is not True:
        for secret in ("password", "pin"):
            if backend == "sql" and secret not in login:
                yield doc.diagnostic(
                    ("ocean_connect", "login", secret),
                    f"the login {secret} is needed to create and verify the login record "
                    f"(e.g. {secret}: {{env: OCEANCONNECT_{secret.upper()}}})",
                )


def check_here_and_now(doc: YamlDocument, today: date) -> Iterator[Diagnostic]:
    """What depends on where and when ``validate`` runs: the database URL, PIN and password
    where their values can be read, and an expiry date that has come."""
    data = doc.data
    emr, connect = data.get("emr"), data.get("ocean_connect")
    if isinstance(emr, dict) and emr.get("backend") == "sql":
        yield from _database_url(doc, emr)
    if not isinstance(connect, dict) or not isinstance(connect.get("login"), dict):
        return
    yield from _expiry(doc, connect["login"], today)
    if connect.get("pro_auth") is not True and connect.get("ensure", "present") == "present":
        yield from _secret_rules(doc, connect["login"])


def _expiry(doc: YamlDocument, login: dict[str, Any], today: date) -> Iterator[Diagnostic]:
    expires = login.get("expires")
    if not isinstance(expires, str):
        return
    try:
        when = date.fromisoformat(expires)
    except ValueError:
        return  # the schema reports the format
    if when <= today:
        yield doc.diagnostic(
            ("ocean_connect", "login", "expires"),
            f"{expires} is {'today' if when == today else 'in the past'}: open-source "
            "OSCAR and Open-O refuse the login from that day on (OSCAR 15+ warns at each "
            "login); use a later date or null",
        )


def _database_url(doc: YamlDocument, emr: dict[str, Any]) -> Iterator[Diagnostic]:
    """A database URL that cannot work, told at validate when its value can be read."""
    database = emr.get("database")
    if not isinstance(database, dict):
        return
    raw = _known_value(doc, database.get("url"))
    if raw is None:
        return
    from reconciler.emr.oscar.connection import check_url_text  # SQLAlchemy: only when needed

    try:
        check_url_text(raw, "database URL")
    except SecretValueError as exc:
        yield doc.diagnostic(("emr", "database", "url"), str(exc))


def _known_value(doc: YamlDocument, value: Any) -> str | None:
    """The secret's value when it can be read here (an env variable that is set, a file that
    exists), else None: validate runs where secrets may not be, and plan checks again."""
    ref = SecretRef.from_raw(value, Path(doc.path).parent)
    if ref is None:
        return None
    try:
        return ref.resolve().reveal()
    except SecretError:
        return None


def _secret_rules(doc: YamlDocument, login: dict[str, Any]) -> Iterator[Diagnostic]:
    """A PIN or password OSCAR would refuse, named by its reference, never its value."""
    checks = (("pin", pin_problem), ("password", password_problem))
    for name, rule in checks:
        value = _known_value(doc, login.get(name))
        if value is not None and (problem := rule(value)):
            yield doc.diagnostic(("ocean_connect", "login", name), problem)
    password = _known_value(doc, login.get("password"))
    if password is not None and len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        yield doc.diagnostic(
            ("ocean_connect", "login", "password"),
            f"longer than {BCRYPT_MAX_BYTES} bytes: Open-O's bcrypt uses only the first "
            f"{BCRYPT_MAX_BYTES} (newer versions refuse longer ones), so plan refuses it on an "
            "Open-O database",
            severity=Severity.WARNING,
        )
