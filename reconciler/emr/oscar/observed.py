"""What the report draws of an OSCAR clinic: the OceanConnect provider, its roles, primary
role and login, desired vs live, row by row (``EmrPackage.observed``). No I/O.

Secrets are never values here: a password or PIN row shows its reference as desired and,
live, whether OSCAR would accept it (``verifies`` or ``does not verify``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from reconciler.emr.oscar.diff import STORAGE_VERSION
from reconciler.emr.oscar.live import OscarLive
from reconciler.emr.oscar.spec import OscarSpec
from reconciler.model import NO_CONFIRMATIONS, Confirmations

NOT_READ = "not read"
NONE = "none"


def _text(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _state(desired: str, live: str) -> str:
    return "same" if desired == live else "different"


def _exists(desired: bool, live: bool) -> str:
    """The state of a row that says whether something exists (a role, a login record)."""
    if desired == live:
        return "same"
    return "missing" if desired else "extra"


class _Rows:
    def __init__(self, read: bool) -> None:
        self.read = read
        self.rows: list[list[str]] = []

    def add(
        self, section: str, field: str, desired: Any, live: Any, state: str | None = None
    ) -> None:
        want = _text(desired)
        if not self.read:
            self.rows.append([section, field, want, NOT_READ, "unknown"])
            return
        have = _text(live)
        self.rows.append([section, field, want, have, state or _state(want, have)])

    def secret(self, section: str, field: str, ref: Any, matches: bool | None) -> None:
        """A password or PIN: its reference, and whether OSCAR would accept its value."""
        if ref is None:
            return
        if matches is None:
            self.add(section, field, ref.describe(), "not checked", "unknown")
        else:
            live = "verifies" if matches else "does not verify"
            self.add(section, field, ref.describe(), live, "same" if matches else "different")


def observed_oscar(
    spec: OscarSpec, live: OscarLive | None, confirmed: Confirmations = NO_CONFIRMATIONS
) -> dict[str, Any]:
    """Desired vs live, row by row; with no live state (backend manual) every live value is
    ``not read``."""
    out = _Rows(live is not None)
    p = spec.provider
    section = f"Provider {p.number}"
    row = live.provider if live is not None else None
    if spec.present:
        status = _provider_status(row)
        out.add(section, "status", "active", status, "missing" if row is None else None)
        if row is not None or live is None:
            out.add(section, "last name", p.last_name, row.last_name if row else None)
            out.add(section, "first name", p.first_name, row.first_name if row else None)
            out.add(section, "type", p.provider_type, row.provider_type if row else None)
    else:
        status = _provider_status(row)
        gone = "same" if status != "active" else "extra"
        out.add(section, "status", "inactive or absent", status, gone)
    wanted = set(spec.roles) if spec.present else set()
    have = live.roles if live is not None else frozenset()
    for role in sorted(wanted | set(have)):
        state = _exists(role in wanted, role in have)
        out.add("Roles", role, _granted(role in wanted), _granted(role in have), state)
    primary = spec.primary_role if spec.present else None
    now = live.primary_role if live is not None else None
    out.add(
        "Primary role",
        "role",
        primary,
        now,
        _exists(primary is not None, now is not None)
        if (primary is None) != (now is None)
        else None,
    )
    if live is not None and live.primary_rows > 1:
        out.add("Primary role", "program_provider rows", 1, live.primary_rows)
    _login(out, spec, live)
    return {"compare": out.rows}


def _provider_status(row: Any) -> str:
    if row is None:
        return "absent"
    return "active" if row.active else "inactive"


def _granted(yes: bool) -> str:
    return "granted" if yes else "not granted"


def _login(out: _Rows, spec: OscarSpec, live: OscarLive | None) -> None:
    login = spec.login
    section = f"Login {login.username}" + (" (OSCAR Pro Support's)" if spec.pro_auth else "")
    row = live.login if live is not None else None
    kept = spec.present or spec.pro_auth
    out.add(
        section,
        "login record",
        "present" if kept else "absent",
        _present(row),
        _exists(kept, row is not None),
    )
    if not kept or (live is not None and row is None):
        return
    out.add(section, "provider", spec.provider.number, row.provider_no if row else None)
    out.add(section, "Pin(remote)", login.pin_remote, row.pin_remote if row else None)
    out.add(section, "Pin(local)", login.pin_local, row.pin_local if row else None)
    out.add(
        section,
        "Force Password Reset",
        login.force_password_reset,
        row.force_password_reset if row else None,
    )
    out.add(section, "expires", login.expires, row.expires if row else None)
    out.secret(section, "password", login.password, row.password_matches if row else None)
    out.secret(section, "PIN", login.pin, row.pin_matches if row else None)
    if row is not None and row.storage_version is not None:
        out.add(section, "storageVersion", STORAGE_VERSION, row.storage_version)
    if row is not None and row.using_mfa is not None:
        out.add(section, "MFA", False, row.using_mfa)


def _present(row: Any) -> str:
    return "absent" if row is None else "present"
