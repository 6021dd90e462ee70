"""The OSCAR database adapter (backend ``sql``): SQLAlchemy Core over PyMySQL or SQLite.

It manages exactly the OceanConnect objects: its ``provider`` row, its ``secUserRole`` rows,
its primary role (the ``program_provider`` row of the program named OSCAR) and its
``security`` login record, and writes the records OSCAR's own screens write for the same
change (``SecurityArchive``, ``log``, ``RecycleBin``, ``lastUpdateUser``) where those
tables exist. Every other row is left alone. A clinic's changes are written in one
transaction that first re-reads live state and refuses if it moved since the plan; on
MySQL/MariaDB a named lock keeps two applies off the same database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy import column as col
from sqlalchemy import table as tbl

from reconciler.emr.contract import Adapter
from reconciler.emr.oscar.connection import make_engine, translate
from reconciler.emr.oscar.diff import LOGIN, PRIMARY_ROLE, PROVIDER, ROLE
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.emr.oscar.passwords import (
    Lineage,
    lineage_problems,
    password_problem,
    pin_problem,
    row_scheme,
    verify_password,
    verify_pin,
)
from reconciler.emr.oscar.spec import OscarSpec, oscar_spec
from reconciler.emr.oscar.tables import (
    OPTIONAL_SECURITY_COLUMNS,
    OSCAR_PROGRAM,
    REQUIRED_TABLES,
    SECURITY_COLUMNS,
    DatabaseFacts,
    fits_charset,
    inspect_database,
    lossy,
    program_provider_t,
    program_t,
    role_t,
    security_t,
    user_role_t,
)
from reconciler.emr.oscar.writes import AUDIT_TABLES, Writer
from reconciler.errors import (
    AdapterError,
    ClinicInputError,
    ConflictError,
    RefusedError,
    SecretValueError,
    StalePlanError,
)
from reconciler.fleet import Network
from reconciler.model import Clinic
from reconciler.plan import ABSENT, Change


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
    """A ``b_*LockSet``/``b_ExpireSet`` column: OSCAR compares it ``== 1``."""
    return str(value).strip() in {"1", "True", "true"}


def _java_bool(value: Any) -> bool:
    """A column OSCAR maps to a Java boolean (``forcePasswordReset``, ``usingMfa``): JDBC
    reads any number but 0 as true (2 and -1 included); NULL is false."""
    if value is None:
        return False
    try:
        return int(value) != 0
    except (TypeError, ValueError):
        return str(value).strip().lower() == "true"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything read for one clinic inside one connection (used for writing too)."""

    live: OscarLive
    facts: DatabaseFacts
    program_id: int
    role_numbers: dict[str, int]  # secRole.role_name -> role_no
    provider_row: dict[str, Any] | None  # the provider row as stored (for providerArchive)
    login_row: dict[str, Any] | None  # the security row as stored (for SecurityArchive)
    role_rows: tuple[dict[str, Any], ...]  # the provider's secUserRole rows: id, role_name
    primary_ids: tuple[int, ...]  # program_provider ids of the OSCAR program, oldest first


class OscarSqlAdapter(Adapter):
    name = "oscar-sql"
    writes = frozenset({PROVIDER, ROLE, PRIMARY_ROLE, LOGIN})

    def __init__(self, network: Network | None = None) -> None:
        self.network = network or Network()
        self._engines: dict[str, Engine] = {}
        self._facts: dict[str, DatabaseFacts] = {}

    def _engine(self, clinic: Clinic) -> Engine:
        if clinic.id not in self._engines:
            ref = oscar_spec(clinic).database_url
            if ref is None:
                raise AdapterError("backend sql needs emr.database.url")
            self._engines[clinic.id] = make_engine(ref)
        return self._engines[clinic.id]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        self._facts.clear()

    # --- read ---------------------------------------------------------------------

    def read(self, clinic: Clinic) -> OscarLive:
        spec = oscar_spec(clinic)
        engine = self._engine(clinic)
        with translate("reading"), engine.connect() as conn:
            snap = self._snapshot(conn, clinic.id, spec)
        return snap.live

    def _inspect(self, conn: Connection, clinic_id: str) -> DatabaseFacts:
        """What this database is; learnt once per run (apply re-reads rows, not the schema)."""
        if clinic_id in self._facts:
            return self._facts[clinic_id]
        facts = inspect_database(conn, REQUIRED_TABLES + AUDIT_TABLES)
        missing = [t for t in REQUIRED_TABLES if t not in facts.tables]
        if missing:
            raise AdapterError(
                f"this does not look like an OSCAR database: missing table(s) {', '.join(missing)}"
            )
        self._facts[clinic_id] = facts
        return facts

    def _snapshot(
        self, conn: Connection, clinic_id: str, spec: OscarSpec, lock: bool = False
    ) -> Snapshot:
        facts = self._inspect(conn, clinic_id)
        _check_secrets(spec, facts.lineage)
        _check_fit(spec, facts)
        number, username = spec.provider.number, spec.login.username

        def rows(stmt: Any) -> list[dict[str, Any]]:
            if lock and conn.dialect.name != "sqlite":
                stmt = stmt.with_for_update()
            return [dict(r._mapping) for r in conn.execute(stmt)]

        role_numbers = {
            str(r["role_name"]): int(r["role_no"])
            for r in rows(select(role_t.c.role_no, role_t.c.role_name))
        }
        programs = rows(
            select(program_t.c.id).where(program_t.c.name == OSCAR_PROGRAM).order_by(program_t.c.id)
        )
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

        optional = [c for c in OPTIONAL_SECURITY_COLUMNS if facts.has_column("security", c)]
        sec_cols = [security_t.c[c] for c in (*SECURITY_COLUMNS, *optional) if c != "mfaSecret"]
        provider_all = tbl("provider", *(col(c) for c in facts.columns["provider"]))
        provider_rows = rows(select(provider_all).where(provider_all.c.provider_no == number))
        login_rows = rows(select(*sec_cols).where(security_t.c.user_name == username))
        other_logins = rows(
            select(security_t.c.user_name)
            .where(security_t.c.provider_no == number)
            .where(security_t.c.user_name != username)
        )
        role_rows = rows(
            select(user_role_t.c.id, user_role_t.c.role_name, user_role_t.c.activeyn)
            .where(user_role_t.c.provider_no == number)
            .order_by(user_role_t.c.id)
        )
        primary_rows = rows(
            select(program_provider_t.c.id, program_provider_t.c.role_id)
            .where(program_provider_t.c.program_id == program_id)
            .where(program_provider_t.c.provider_no == number)
            .order_by(program_provider_t.c.id)
        )

        # Our own provider (its login is the declared one) may be renamed in the file; a
        # provider with that number and other names, and no such login, is someone else's.
        ours = any(str(r["provider_no"]) == number for r in login_rows)
        provider = _provider(spec, provider_rows, facts, ours)
        login = None
        if login_rows:
            owner = login_rows[0]["provider_no"]
            if owner is not None and str(owner) != number:
                raise ConflictError(
                    f"the user name '{username}' already belongs to provider {owner}; "
                    "OSCAR user names are unique"
                )
            login = _login_row(spec, login_rows[0], facts)
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
        # OSCAR loads every secUserRole row of a provider, whatever its activeyn, and its
        # privilege checks compare role names exactly (Java equals): 'doctor ' or 'Doctor' is
        # not the role doctor, although SQL finds it with WHERE role_name = 'doctor'. So rows
        # are told apart by their exact name, and written by id, never by name.
        granted = frozenset(str(r["role_name"]) for r in role_rows)

        fingerprints = {
            f"{PROVIDER}[{number}]": _fingerprint(provider_rows),
            f"{PRIMARY_ROLE}[{number}]": _fingerprint(primary_rows),
            f"{LOGIN}[{username}]": _fingerprint(login_rows),
        }
        for role in granted | set(spec.roles):
            fingerprints[f"{ROLE}[{number}/{role}]"] = _fingerprint(
                [r for r in role_rows if str(r["role_name"]) == role]
            )
        live = OscarLive(
            provider=provider,
            roles=granted,
            primary_role=primary,
            login=login,
            primary_role_rows=len(primary_rows),
            fingerprints=fingerprints,
            lineage=facts.lineage.value,
        )
        return Snapshot(
            live=live,
            facts=facts,
            program_id=program_id,
            role_numbers=role_numbers,
            provider_row=provider_rows[0] if provider_rows else None,
            login_row=login_rows[0] if login_rows else None,
            role_rows=tuple(role_rows),
            primary_ids=tuple(int(r["id"]) for r in primary_rows),
        )

    # --- write --------------------------------------------------------------------

    def apply(self, clinic: Clinic, changes: Sequence[Change]) -> None:
        if not changes:
            return
        spec = oscar_spec(clinic)
        engine = self._engine(clinic)
        with translate("applying changes (rolled back, nothing written)"), engine.connect() as conn:
            lock = _DatabaseLock(conn)
            lock.acquire()
            try:
                with conn.begin():
                    if conn.dialect.name == "sqlite":
                        # pysqlite begins at the first write; take the write lock before
                        # reading, so a second apply waits, then finds its plan stale.
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    snap = self._snapshot(conn, clinic.id, spec, lock=True)
                    for change in changes:
                        if snap.live.fingerprint(change.address) != change.fingerprint:
                            raise StalePlanError(
                                f"{clinic.id}: {change.address} changed since it was planned; "
                                "nothing was written. Plan again."
                            )
                    writer = Writer(conn, spec, snap)
                    for change in changes:
                        writer.write(change)
            finally:
                lock.release()


class _DatabaseLock:
    """A MySQL/MariaDB named lock on the OSCAR database for the length of one apply.

    The server drops it when the connection ends, so a crashed run never leaves it held.
    On SQLite the database file's own write lock does this job.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.name: str | None = None

    def acquire(self) -> None:
        if self.conn.dialect.name == "sqlite":
            return
        database = self.conn.execute(text("SELECT DATABASE()")).scalar() or ""
        name = f"reconciler:{database}"[:64]
        got = self.conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar()
        self.conn.commit()
        if got != 1:
            raise RefusedError(
                f"another reconcile apply is writing this OSCAR database ({self._holder(name)}); "
                "nothing was written. Try again when it finishes."
            )
        self.name = name

    def _holder(self, name: str) -> str:
        holder = self.conn.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar()
        if holder is None:
            return "the lock was just released"
        row = self.conn.execute(
            text("SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = :i"),
            {"i": holder},
        ).first()
        where = f" by {row[0]} from {str(row[1]).rsplit(':', 1)[0]}" if row else ""
        return f"held by database connection {holder}{where}"

    def release(self) -> None:
        if self.name is None:
            return
        try:
            self.conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": self.name})
            self.conn.commit()
        except Exception:  # the connection is gone, and the server dropped the lock with it
            self.conn.invalidate()


# --- reading rows into the live model ---------------------------------------------------


def _provider(
    spec: OscarSpec, provider_rows: list[dict[str, Any]], facts: DatabaseFacts, ours: bool
) -> OscarProviderRow | None:
    if not provider_rows:
        return None
    p = provider_rows[0]
    number = spec.provider.number
    stored = (str(p["last_name"]).casefold(), str(p["first_name"]).casefold())
    declared = (spec.provider.last_name, spec.provider.first_name)
    # A server that was not strict may have stored our own name mangled ('Ocean?'): that is
    # our provider, not someone else's, and the name is drift (or cannot be stored at all).
    as_stored = tuple(
        lossy(value, facts.charset("provider", column)).casefold()
        for value, column in zip(declared, ("last_name", "first_name"), strict=True)
    )
    if not ours and stored not in ((declared[0].casefold(), declared[1].casefold()), as_stored):
        raise ConflictError(
            f"provider number {number} belongs to '{p['last_name']}, {p['first_name']}'; "
            "choose another ocean_connect.provider.number"
        )
    return OscarProviderRow(
        number=number,
        last_name=str(p["last_name"]),
        first_name=str(p["first_name"]),
        provider_type=str(p["provider_type"]),
        active=str(p["status"]).strip() != "0",  # OSCAR refuses only status '0'; NULL is active
    )


def _expires(s: dict[str, Any]) -> date | str | None:
    if not _flag(s["b_ExpireSet"]):
        return None
    raw = s["date_ExpireDate"]
    if isinstance(raw, date):
        return raw
    if raw is None:
        return "expiry on, no date"  # OSCAR 2019 and Open-O refuse it; OSCAR 15+ (v2) fails
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:  # e.g. MySQL's zero date '0000-00-00'
        return f"invalid date {raw!s}"


def _login_row(spec: OscarSpec, s: dict[str, Any], facts: DatabaseFacts) -> OscarLoginRow:
    login = spec.login
    storage_version = None
    if facts.has_storage_version:
        storage_version = int(s["storageVersion"]) if s["storageVersion"] is not None else 0
    scheme = row_scheme(facts.lineage, storage_version)
    password = login.password.resolve().reveal() if login.password else None
    pin = login.pin.resolve().reveal() if login.pin else None
    return OscarLoginRow(
        username=str(s["user_name"]),
        provider_no=None if s["provider_no"] is None else str(s["provider_no"]),
        pin_remote=_flag(s["b_RemoteLockSet"]),
        pin_local=_flag(s["b_LocalLockSet"]),
        force_password_reset=_java_bool(s["forcePasswordReset"]),
        expires=_expires(s),
        password_matches=None
        if password is None
        else verify_password(password, s["password"], scheme),
        pin_matches=None if pin is None else verify_pin(pin, s["pin"], scheme),
        storage_version=storage_version,
        using_mfa=_java_bool(s["usingMfa"]) if facts.has_using_mfa else None,
    )


# --- what OSCAR would refuse, found before anything is written -----------------------------


def _check_secrets(spec: OscarSpec, lineage: Lineage) -> None:
    """A PIN or password OSCAR would refuse is an error naming the rule, never the value;
    so is an expiry date that has come (OSCAR 2019 and Open-O refuse the login that day)."""
    if spec.pro_auth or not spec.present:
        return
    login = spec.login
    if login.expires is not None and login.expires <= date.today():
        raise ClinicInputError(
            f"ocean_connect.login.expires {login.expires.isoformat()} has come: OSCAR 2019 and "
            "Open-O refuse the login from that day on; set a later date or null"
        )
    pin = login.pin.resolve().reveal() if login.pin is not None else None
    if login.pin is not None and pin is not None and (problem := pin_problem(pin)):
        raise SecretValueError(f"ocean_connect.login.pin {login.pin.describe()}: {problem}")
    if login.password is not None and (
        problem := password_problem(login.password.resolve().reveal(), lineage)
    ):
        raise SecretValueError(
            f"ocean_connect.login.password {login.password.describe()}: {problem}"
        )
    user_problem, pin_problem_ = lineage_problems(login.username, pin, lineage)
    if user_problem:
        raise ConflictError(user_problem)
    if pin_problem_:
        raise SecretValueError(pin_problem_)


def _check_fit(spec: OscarSpec, facts: DatabaseFacts) -> None:
    """Every declared value fits its column (length and character set) in this database."""
    if not spec.present:
        return
    p = spec.provider
    values = [
        ("provider", "provider_no", p.number, "ocean_connect.provider.number"),
        ("provider", "last_name", p.last_name, "ocean_connect.provider.last_name"),
        ("provider", "first_name", p.first_name, "ocean_connect.provider.first_name"),
        ("provider", "provider_type", p.provider_type, "ocean_connect.provider.type"),
        ("security", "user_name", spec.login.username, "ocean_connect.login.username"),
        ("security", "provider_no", p.number, "ocean_connect.provider.number"),
        *(("secUserRole", "role_name", r, "ocean_connect.roles") for r in spec.roles),
    ]
    for table, column, value, field_name in values:
        info = facts.column(table, column)
        if info is None:
            continue
        if info.length is not None and len(value) > info.length:
            raise AdapterError(
                f"{field_name} '{value}' is {len(value)} characters; this OSCAR's "
                f"{table}.{column} holds {info.length}"
            )
        if not fits_charset(value, info.charset):
            raise AdapterError(
                f"{field_name} '{value}' has characters this OSCAR's {table}.{column} "
                f"({info.charset}) cannot store; it would be mangled"
            )
