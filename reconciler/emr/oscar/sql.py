"""The OSCAR database adapter (backend ``sql``): SQLAlchemy Core over PyMySQL or SQLite.

It manages exactly the OceanConnect objects: its ``provider`` row, its ``secUserRole`` rows,
its primary role (the ``program_provider`` row of the program named OSCAR) and its
``security`` login record. Every other row is left alone. A clinic's changes are written in
one transaction that first re-reads live state and refuses if it moved since the plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, insert, inspect, select, update
from sqlalchemy import column as col
from sqlalchemy import table as tbl
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from reconciler.emr.contract import Adapter
from reconciler.emr.oscar.diff import LOGIN, PRIMARY_ROLE, PROVIDER, ROLE
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.emr.oscar.passwords import (
    Lineage,
    hash_password,
    hash_pin,
    lineage_from_columns,
    verify_password,
    verify_pin,
)
from reconciler.emr.oscar.spec import OscarSpec, oscar_spec
from reconciler.errors import (
    AdapterError,
    ConflictError,
    EMRConnectionError,
    ReconcilerError,
    StalePlanError,
)
from reconciler.model import Clinic
from reconciler.plan import ABSENT, Action, Change
from reconciler.secrets import redact

TABLES = ("provider", "security", "secRole", "secUserRole", "program", "program_provider")
OSCAR_PROGRAM = "OSCAR"

provider_t = tbl(
    "provider",
    col("provider_no"),
    col("last_name"),
    col("first_name"),
    col("provider_type"),
    col("specialty"),
    col("sex"),
    col("status"),
    col("lastUpdateDate"),
)
security_t = tbl(
    "security",
    col("security_no"),
    col("user_name"),
    col("password"),
    col("provider_no"),
    col("pin"),
    col("b_ExpireSet"),
    col("date_ExpireDate"),
    col("b_LocalLockSet"),
    col("b_RemoteLockSet"),
    col("forcePasswordReset"),
    col("passwordUpdateDate"),
    col("pinUpdateDate"),
    col("lastUpdateDate"),
    col("storageVersion"),
)
role_t = tbl("secRole", col("role_no"), col("role_name"))
user_role_t = tbl(
    "secUserRole",
    col("id"),
    col("provider_no"),
    col("role_name"),
    col("orgcd"),
    col("activeyn"),
    col("lastUpdateDate"),
)
program_t = tbl("program", col("id"), col("name"))
program_provider_t = tbl(
    "program_provider",
    col("id"),
    col("program_id"),
    col("provider_no"),
    col("role_id"),
)

_SECURITY_COLUMNS = [c.name for c in security_t.columns if c.name != "storageVersion"]


def _fingerprint(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ABSENT
    body = json.dumps(
        sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True)),
        default=str,
        sort_keys=True,
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:16]


def _flag(value: Any) -> bool:
    return str(value).strip() in {"1", "True", "true"}


class _Snapshot:
    """Everything read for one clinic inside one connection (used for writing too)."""

    def __init__(
        self,
        live: OscarLive,
        lineage: Lineage,
        program_id: int,
        role_numbers: dict[str, int],
        has_storage_version: bool,
    ) -> None:
        self.live = live
        self.lineage = lineage
        self.program_id = program_id
        self.role_numbers = role_numbers
        self.has_storage_version = has_storage_version


class OscarSqlAdapter(Adapter):
    name = "oscar-sql"
    writes = frozenset({PROVIDER, ROLE, PRIMARY_ROLE, LOGIN})

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}

    # --- connection ---------------------------------------------------------------

    def _engine(self, clinic: Clinic) -> Engine:
        if clinic.id in self._engines:
            return self._engines[clinic.id]
        ref = oscar_spec(clinic).database_url
        if ref is None:
            raise AdapterError("backend sql needs emr.database.url")
        what = f"database.url {ref.describe()}"
        try:
            url = make_url(ref.resolve().reveal())
        except ArgumentError:
            raise AdapterError(f"{what} is not a valid database URL") from None
        if url.drivername in ("mysql", "mariadb"):
            url = url.set(drivername="mysql+pymysql")
        backend = url.get_backend_name()
        if backend not in ("mysql", "mariadb", "sqlite"):
            raise AdapterError(
                f"{what}: OSCAR runs on MySQL/MariaDB (mysql+pymysql://...) or, for demos, "
                f"SQLite (sqlite:///path); got a {backend} URL"
            )
        if backend == "sqlite":
            path = url.database or ""
            if path in ("", ":memory:") or not Path(path).is_file():
                raise EMRConnectionError(
                    f"{what}: the SQLite file {path or '(none)'} does not exist"
                )
        kwargs: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
        if backend != "sqlite":
            kwargs["connect_args"] = {"connect_timeout": 10}
        try:
            engine = create_engine(url, **kwargs)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise AdapterError(f"{what}: {redact(str(exc))}") from None
        self._engines[clinic.id] = engine
        return engine

    @contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        """SQLAlchemy errors -> AdapterError, without statements, parameters or secrets."""
        try:
            yield
        except ReconcilerError:
            raise
        except SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None)
            detail = orig.args[-1] if orig is not None and orig.args else type(exc).__name__
            cls = EMRConnectionError if "connect" in str(detail).lower() else AdapterError
            raise cls(f"OSCAR database error while {doing}: {redact(str(detail))}") from None

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    # --- read ---------------------------------------------------------------------

    def read(self, clinic: Clinic) -> OscarLive:
        engine = self._engine(clinic)
        with self._translate("reading"), engine.connect() as conn:
            return self._snapshot(conn, oscar_spec(clinic)).live

    def _snapshot(self, conn: Connection, spec: OscarSpec, lock: bool = False) -> _Snapshot:
        inspector = inspect(conn)
        present = set(inspector.get_table_names())
        missing = [t for t in TABLES if t not in present]
        if missing:
            raise AdapterError(
                f"this does not look like an OSCAR database: missing table(s) {', '.join(missing)}"
            )
        security_columns = {c["name"] for c in inspector.get_columns("security")}
        lineage = lineage_from_columns(security_columns)
        number, username = spec.provider.number, spec.login.username

        def rows(stmt: Any) -> list[dict[str, Any]]:
            if lock and conn.dialect.name != "sqlite":
                stmt = stmt.with_for_update()
            return [dict(r._mapping) for r in conn.execute(stmt)]

        role_numbers = {
            r["role_name"]: int(r["role_no"])
            for r in rows(select(role_t.c.role_no, role_t.c.role_name))
        }
        programs = rows(select(program_t.c.id).where(program_t.c.name == OSCAR_PROGRAM))
        if not programs:
            raise ConflictError("the OSCAR database has no program named OSCAR (program table)")
        program_id = int(programs[0]["id"])
        if spec.present:
            unknown = [r for r in spec.roles if r not in role_numbers]
            if unknown:
                raise ConflictError(
                    f"role(s) {', '.join(unknown)} do not exist in this OSCAR (secRole); "
                    "create them in OSCAR first"
                )

        sec_cols = [security_t.c[name] for name in _SECURITY_COLUMNS]
        if "storageVersion" in security_columns:
            sec_cols.append(security_t.c.storageVersion)
        provider_rows = rows(select(provider_t).where(provider_t.c.provider_no == number))
        login_rows = rows(select(*sec_cols).where(security_t.c.user_name == username))
        other_logins = rows(
            select(security_t.c.user_name)
            .where(security_t.c.provider_no == number)
            .where(security_t.c.user_name != username)
        )
        role_rows = rows(
            select(user_role_t.c.id, user_role_t.c.role_name, user_role_t.c.activeyn).where(
                user_role_t.c.provider_no == number
            )
        )
        primary_rows = rows(
            select(program_provider_t.c.id, program_provider_t.c.role_id)
            .where(program_provider_t.c.program_id == program_id)
            .where(program_provider_t.c.provider_no == number)
            .order_by(program_provider_t.c.id)
        )

        provider = None
        if provider_rows:
            p = provider_rows[0]
            same = (str(p["last_name"]).casefold(), str(p["first_name"]).casefold()) == (
                spec.provider.last_name.casefold(),
                spec.provider.first_name.casefold(),
            )
            if not same:
                raise ConflictError(
                    f"provider number {number} belongs to '{p['last_name']}, {p['first_name']}'; "
                    "choose another ocean_connect.provider.number"
                )
            provider = OscarProviderRow(
                number=number,
                last_name=str(p["last_name"]),
                first_name=str(p["first_name"]),
                provider_type=str(p["provider_type"]),
                active=str(p["status"]) == "1",
            )
        login = None
        if login_rows:
            s = login_rows[0]
            owner = s["provider_no"]
            if owner is not None and str(owner) != number:
                raise ConflictError(
                    f"the user name '{username}' already belongs to provider {owner}; "
                    "OSCAR user names are unique"
                )
            login = self._login_row(spec, s)
        if other_logins and spec.present:
            raise ConflictError(
                f"provider {number} already has the login record "
                f"'{other_logins[0]['user_name']}'; OSCAR allows one login per provider"
            )

        by_number = {v: k for k, v in role_numbers.items()}
        primary = None
        if primary_rows and primary_rows[0]["role_id"] is not None:
            role_id = int(primary_rows[0]["role_id"])
            primary = by_number.get(role_id, f"(unknown role #{role_id})")
        active_roles = frozenset(str(r["role_name"]) for r in role_rows if _flag(r["activeyn"]))

        fingerprints = {
            f"{PROVIDER}[{number}]": _fingerprint(provider_rows),
            f"{PRIMARY_ROLE}[{number}]": _fingerprint(primary_rows),
            f"{LOGIN}[{username}]": _fingerprint(login_rows),
        }
        for role in {str(r["role_name"]) for r in role_rows} | set(spec.roles):
            fingerprints[f"{ROLE}[{number}/{role}]"] = _fingerprint(
                [r for r in role_rows if r["role_name"] == role]
            )
        live = OscarLive(
            provider=provider,
            roles=active_roles,
            primary_role=primary,
            login=login,
            fingerprints=fingerprints,
            lineage=lineage.value,
        )
        return _Snapshot(
            live, lineage, program_id, role_numbers, "storageVersion" in security_columns
        )

    @staticmethod
    def _login_row(spec: OscarSpec, s: dict[str, Any]) -> OscarLoginRow:
        login = spec.login
        expires: date | str | None = None
        if _flag(s["b_ExpireSet"]):
            raw = s["date_ExpireDate"]
            if isinstance(raw, date):
                expires = raw
            else:
                try:
                    expires = date.fromisoformat(str(raw)[:10])
                except ValueError:  # e.g. MySQL's zero date '0000-00-00'
                    expires = f"invalid date {raw!s}"
        return OscarLoginRow(
            username=str(s["user_name"]),
            provider_no=None if s["provider_no"] is None else str(s["provider_no"]),
            pin_remote=_flag(s["b_RemoteLockSet"]),
            pin_local=_flag(s["b_LocalLockSet"]),
            force_password_reset=_flag(s["forcePasswordReset"]),
            expires=expires,
            password_matches=(
                verify_password(login.password.resolve().reveal(), s["password"])
                if login.password
                else None
            ),
            pin_matches=verify_pin(login.pin.resolve().reveal(), s["pin"]) if login.pin else None,
        )

    # --- write --------------------------------------------------------------------

    def apply(self, clinic: Clinic, changes: Sequence[Change]) -> None:
        if not changes:
            return
        spec = oscar_spec(clinic)
        engine = self._engine(clinic)
        with (
            self._translate("applying changes (rolled back, nothing written)"),
            engine.begin() as conn,
        ):
            snap = self._snapshot(conn, spec, lock=True)
            for change in changes:
                now_fp = snap.live.fingerprint(change.address)
                if now_fp != change.fingerprint:
                    raise StalePlanError(
                        f"{clinic.id}: {change.address} changed since it was planned; "
                        "nothing was written. Plan again."
                    )
            for change in changes:
                _WRITERS[change.resource](conn, spec, snap, change)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _write_provider(conn: Connection, spec: OscarSpec, snap: _Snapshot, change: Change) -> None:
    p = spec.provider
    where = provider_t.c.provider_no == p.number
    if change.action is Action.CREATE:
        conn.execute(
            insert(provider_t).values(
                provider_no=p.number,
                last_name=p.last_name,
                first_name=p.first_name,
                provider_type=p.provider_type,
                specialty="",
                sex="",
                status="1",
                lastUpdateDate=_now(),
            )
        )
    elif change.action is Action.DELETE:
        conn.execute(update(provider_t).where(where).values(status="0", lastUpdateDate=_now()))
    else:
        values: dict[str, Any] = {"lastUpdateDate": _now()}
        for f in change.fields:
            if f.name == "active":
                values["status"] = "1" if f.after else "0"
            else:
                values[f.name] = f.after
        conn.execute(update(provider_t).where(where).values(**values))


def _write_role(conn: Connection, spec: OscarSpec, snap: _Snapshot, change: Change) -> None:
    number = spec.provider.number
    role = change.fields[0].after if change.action is Action.GRANT else change.fields[0].before
    mine = (user_role_t.c.provider_no == number) & (user_role_t.c.role_name == role)
    if change.action is Action.REVOKE:
        conn.execute(delete(user_role_t).where(mine))
        return
    inactive = conn.execute(select(user_role_t.c.id).where(mine).limit(1)).first()
    if inactive is not None:
        conn.execute(
            update(user_role_t)
            .where(user_role_t.c.id == inactive.id)
            .values(activeyn=1, lastUpdateDate=_now())
        )
    else:
        conn.execute(
            insert(user_role_t).values(
                provider_no=number,
                role_name=role,
                orgcd="R0000001",
                activeyn=1,
                lastUpdateDate=_now(),
            )
        )


def _write_primary_role(conn: Connection, spec: OscarSpec, snap: _Snapshot, change: Change) -> None:
    number = spec.provider.number
    mine = (program_provider_t.c.program_id == snap.program_id) & (
        program_provider_t.c.provider_no == number
    )
    if change.action is Action.DELETE:
        conn.execute(delete(program_provider_t).where(mine))
        return
    role_id = snap.role_numbers[spec.primary_role]
    if change.action is Action.UPDATE:
        conn.execute(update(program_provider_t).where(mine).values(role_id=role_id))
    else:
        conn.execute(
            insert(program_provider_t).values(
                program_id=snap.program_id,
                provider_no=number,
                role_id=role_id,
            )
        )


def _write_login(conn: Connection, spec: OscarSpec, snap: _Snapshot, change: Change) -> None:
    login = spec.login
    where = security_t.c.user_name == login.username
    if change.action is Action.DELETE:
        conn.execute(delete(security_t).where(where))
        return
    now = _now()
    values: dict[str, Any] = {"lastUpdateDate": now}
    names = {f.name for f in change.fields}
    if change.action is Action.CREATE:
        names |= {
            "provider",
            "pin_remote",
            "pin_local",
            "force_password_reset",
            "expires",
            "password",
            "pin",
        }
        values["user_name"] = login.username
    for name in names:
        if name == "provider":
            values["provider_no"] = spec.provider.number
        elif name == "pin_remote":
            values["b_RemoteLockSet"] = int(login.pin_remote)
        elif name == "pin_local":
            values["b_LocalLockSet"] = int(login.pin_local)
        elif name == "force_password_reset":
            values["forcePasswordReset"] = int(login.force_password_reset)
        elif name == "expires":
            values["b_ExpireSet"] = int(login.expires is not None)
            values["date_ExpireDate"] = login.expires or date(2100, 1, 1)
        elif name == "password":
            if login.password is None:
                raise AdapterError("the login password is not declared")
            values["password"] = hash_password(login.password.resolve().reveal(), snap.lineage)
            values["passwordUpdateDate"] = now
            if snap.has_storage_version and snap.lineage is Lineage.PBKDF2:
                values["storageVersion"] = 2
        elif name == "pin":
            if login.pin is None:
                raise AdapterError("the login PIN is not declared")
            values["pin"] = hash_pin(login.pin.resolve().reveal(), snap.lineage)
            values["pinUpdateDate"] = now
    if change.action is Action.CREATE:
        conn.execute(insert(security_t).values(**values))
    else:
        conn.execute(update(security_t).where(where).values(**values))


_WRITERS = {
    PROVIDER: _write_provider,
    ROLE: _write_role,
    PRIMARY_ROLE: _write_primary_role,
    LOGIN: _write_login,
}
