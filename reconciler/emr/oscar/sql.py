"""The OSCAR database adapter (backend ``sql``): SQLAlchemy Core over PyMySQL or SQLite.

It manages exactly the OceanConnect objects: its ``provider`` row, its ``secUserRole`` rows,
its primary role (the ``program_provider`` row of the program named OSCAR) and its
``security`` login record, and writes the records OSCAR's own screens write for the same
change (``SecurityArchive``, ``log``, ``RecycleBin``, ``lastUpdateUser``) where those
tables exist. Every other row is left alone.

**Connections.** One adapter serves every OSCAR clinic of a run, from several threads at
once. It keeps one engine per MySQL/MariaDB server and set of credentials (driver, host,
port, user, password and the URL's connection options), shared by every clinic there
whatever its database: each piece of a clinic's work checks out a connection and first
selects the clinic's database on it (``USE``), so nothing the connection's last user
selected carries over (the adapter changes no other session state). A server never has
more than ``Network.database_connections`` connections from this run, in use or idle,
whatever the credentials: a checkout past that waits for one; when clinics on one server
use different credentials, a connection is closed when its clinic is done with it instead
of being kept idle. A pooled connection is pinged before it is handed out, so one the
server dropped is replaced, not handed to a clinic. Timeouts are the run's
(``Network.connect_timeout``; ``read_timeout`` for each read and write), unless the URL's
own query parameters say otherwise. A SQLite file has an engine of its own.

**Retries.** A read that loses its connection (killed, the server restarted or too busy:
:data:`~reconciler.emr.oscar.connection.LOST`) is tried again on a fresh connection,
``Network.attempts`` times in all, with backoff and jitter in between. A write is never
repeated: a transaction that lost its connection was rolled back by the server, so the
clinic fails (exit 3) saying nothing was written, and running apply again converges. A
connection lost while committing is reported as such: the server may or may not have
committed, and the next plan shows which.

**One apply per database at a time.** Within one run, clinics on the same database write
one after the other. Between runs (two CI jobs, two people), the second is refused (exit 4,
:class:`~reconciler.errors.RefusedError`) naming the holder, with nothing written:

- MySQL/MariaDB: the named lock ``GET_LOCK('reconciler:<database>')`` (a hash stands for
  the end of a name past 64 characters), taken on the very connection that writes, for the
  length of the apply; the refusal names the database connection holding it (id, user,
  host). A named lock belongs to its connection: it is released before the connection goes
  back to the pool (a connection whose release fails is closed, not pooled), and the
  server drops it when the connection ends, so a run that crashed or was killed (SIGKILL)
  never leaves it held.
- SQLite: the lock file ``<database file>.reconcile-lock`` beside the database, locked
  with ``flock`` (which also keeps apart two threads of one process) and holding ``pid N
  on HOST since TIME`` for the refusal to name. The kernel drops a ``flock`` when its
  process ends, however it ends, so the lock is never stale and needs no timeout: a file a
  killed run left behind is simply locked again by the next apply (the holder a refusal
  names is always alive), and an apply that finishes removes it. On a network file system
  (where SQLite itself is unsafe) it is only as good as that file system's ``flock``;
  where there is no ``flock`` (Windows) there is no lock file, and SQLite's own write lock
  with the fingerprint check below still keeps a second apply from writing.

Inside the lock, a clinic's changes are written in one transaction that first re-reads live
state (``SELECT ... FOR UPDATE`` on MySQL; on SQLite after taking its write lock, ``BEGIN
IMMEDIATE``) and refuses (exit 4) if anything moved since the plan.

**Queries.** Planning a clinic takes the same statements whatever the clinic (its OSCAR
version, its drift): on MySQL/MariaDB ``USE``, two of ``information_schema`` for the schema
(once per database per run), then seven reads of rows, ten in all (SQLite reads its schema
through SQLAlchemy's reflection instead).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, text
from sqlalchemy import column as col
from sqlalchemy import table as tbl
from sqlalchemy.exc import SQLAlchemyError

from reconciler.emr.contract import Adapter
from reconciler.emr.oscar.connection import (
    checkout_timeout,
    engine_for,
    engine_key,
    lost_connection,
    parse_database_url,
    server_key,
    translated,
)
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
    ColumnInfo,
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
    EMRConnectionError,
    RefusedError,
    SecretValueError,
    StalePlanError,
)
from reconciler.fleet import Network
from reconciler.model import Clinic
from reconciler.plan import ABSENT, Change

if sys.platform != "win32":
    import fcntl

LOCK_SUFFIX = ".reconcile-lock"
WRITING = "applying changes (rolled back, nothing written)"
COMMITTING = "committing changes (the server may or may not have committed them: plan again to see)"


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


@dataclass(slots=True)
class _Server:
    """One MySQL/MariaDB server: ``slots`` holds one permit per connection this run may
    have open there, shared by its engines (one per set of credentials)."""

    slots: threading.BoundedSemaphore
    engines: dict[tuple[str, ...], Engine] = field(default_factory=dict)

    @property
    def shared(self) -> bool:
        """Clinics here use several sets of credentials: no connection is kept idle (each
        engine's pool would keep its own, past the server's limit)."""
        return len(self.engines) > 1


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one clinic's database is, and how to reach it."""

    engine: Engine
    server: _Server | None  # MySQL/MariaDB: the server's connection slots; SQLite: None
    database: str | None  # MySQL/MariaDB: the clinic's database, selected at each checkout
    key: tuple[str, ...]  # the database itself (server and database, or the SQLite file)
    lock_file: Path | None  # SQLite: the lock file beside the database

    @property
    def sqlite(self) -> bool:
        return self.server is None


class OscarSqlAdapter(Adapter):
    name = "oscar-sql"
    writes = frozenset({PROVIDER, ROLE, PRIMARY_ROLE, LOGIN})
    backoff = 0.25  # seconds before a read's second attempt, doubling, with jitter
    backoff_max = 4.0

    def __init__(
        self, network: Network | None = None, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.network = network or Network()
        self._sleep = sleep
        self._lock = threading.Lock()  # guards the dicts below: clinics run in threads
        self._servers: dict[tuple[str, ...], _Server] = {}
        self._engines: dict[tuple[str, ...], Engine] = {}
        self._facts: dict[tuple[str, ...], DatabaseFacts] = {}
        self._writers: dict[tuple[str, ...], threading.Lock] = {}

    def _target(self, clinic: Clinic) -> _Target:
        ref = oscar_spec(clinic).database_url
        if ref is None:
            raise AdapterError("backend sql needs emr.database.url")
        url = parse_database_url(ref)
        sqlite = url.get_backend_name() == "sqlite"
        key = engine_key(url)
        where = server_key(url)
        idle: list[Engine] = []
        with self._lock:
            server = None
            if not sqlite:
                server = self._servers.get(where)
                if server is None:
                    slots = threading.BoundedSemaphore(self.network.database_connections)
                    server = self._servers[where] = _Server(slots)
            engine = self._engines.get(key)
            if engine is None:
                bare = url if sqlite else url.set(database=None)
                engine = engine_for(bare, self.network, what=ref.describe())
                self._engines[key] = engine
                if server is not None:
                    idle = list(server.engines.values())
                    server.engines[key] = engine
        for other in idle:  # the server is shared from now on: close what others keep idle
            other.pool.dispose()
        if sqlite:
            path = Path(url.database or "").resolve()
            return _Target(engine, None, None, where, path.with_name(path.name + LOCK_SUFFIX))
        return _Target(engine, server, url.database, (*where, url.database or ""), None)

    def _engine(self, clinic: Clinic) -> Engine:
        """The engine serving ``clinic`` (shared with the other clinics on its server)."""
        return self._target(clinic).engine

    @contextmanager
    def _connect(self, target: _Target) -> Iterator[Connection]:
        """A connection to the clinic's database, for one piece of work: within the server's
        limit, its database selected, given back (or closed) afterwards."""
        server = target.server
        wait = checkout_timeout(self.network)
        if server is not None and not server.slots.acquire(timeout=wait):
            raise EMRConnectionError(
                f"waited {wait:.0f} s for one of the {self.network.database_connections} "
                "connections this run keeps to the database server; all stayed in use"
            )
        try:
            with target.engine.connect() as conn:
                try:
                    if target.database is not None:
                        quoted = conn.dialect.identifier_preparer.quote_identifier(target.database)
                        conn.exec_driver_sql(f"USE {quoted}")
                        conn.commit()
                    yield conn
                except BaseException as exc:
                    if not conn.invalidated and (
                        lost_connection(exc) or not isinstance(exc, Exception)
                    ):
                        conn.invalidate()  # broken, or cut off mid-statement: not pooled
                    raise
                finally:
                    if server is not None and server.shared and not conn.invalidated:
                        conn.invalidate()  # closes it: nothing kept idle past the limit
        finally:
            if server is not None:
                server.slots.release()

    def close(self) -> None:
        with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
            self._servers.clear()
            self._facts.clear()
            self._writers.clear()
        for engine in engines:
            engine.dispose()

    # --- read ---------------------------------------------------------------------

    def read(self, clinic: Clinic) -> OscarLive:
        spec = oscar_spec(clinic)
        target = self._target(clinic)
        attempts = max(1, self.network.attempts)
        for attempt in range(1, attempts + 1):
            try:
                with self._connect(target) as conn:
                    return self._snapshot(conn, target, spec).live
            except SQLAlchemyError as exc:
                if attempt == attempts or not lost_connection(exc):
                    raise translated(exc, "reading", attempt) from None
            self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    def _inspect(self, conn: Connection, target: _Target) -> DatabaseFacts:
        """What this database is; learnt once per run (apply re-reads rows, not the schema)."""
        with self._lock:
            facts = self._facts.get(target.key)
        if facts is not None:
            return facts
        wanted = REQUIRED_TABLES + AUDIT_TABLES
        facts = inspect_database(conn, wanted) if target.sqlite else mysql_facts(conn, wanted)
        missing = [t for t in REQUIRED_TABLES if t not in facts.tables]
        if missing:
            raise AdapterError(
                f"this does not look like an OSCAR database: missing table(s) {', '.join(missing)}"
            )
        with self._lock:
            self._facts[target.key] = facts
        return facts

    def _snapshot(
        self, conn: Connection, target: _Target, spec: OscarSpec, lock: bool = False
    ) -> Snapshot:
        facts = self._inspect(conn, target)
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
        target = self._target(clinic)
        doing = WRITING
        with self._writer(target):
            try:
                with self._connect(target) as conn, _exclusive(target, conn), conn.begin():
                    if target.sqlite:
                        # pysqlite begins at the first write; take the write lock before
                        # reading, so nothing else writes between the re-read and the writes.
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    snap = self._snapshot(conn, target, spec, lock=True)
                    for change in changes:
                        if snap.live.fingerprint(change.address) != change.fingerprint:
                            raise StalePlanError(
                                f"{clinic.id}: {change.address} changed since it was planned; "
                                "nothing was written. Plan again."
                            )
                    writer = Writer(conn, spec, snap)
                    for change in changes:
                        writer.write(change)
                    doing = COMMITTING  # leaving the block commits
            except SQLAlchemyError as exc:
                raise translated(exc, doing) from None

    @contextmanager
    def _writer(self, target: _Target) -> Iterator[None]:
        """This run's clinics on one database write one after the other (another run's
        apply is refused, not waited for)."""
        with self._lock:
            lock = self._writers.setdefault(target.key, threading.Lock())
        with lock:
            yield


@contextmanager
def _exclusive(target: _Target, conn: Connection) -> Iterator[None]:
    """No other run writes this database while the block runs: refused if one is."""
    lock: _NamedLock | _FileLock
    if target.lock_file is not None:
        lock = _FileLock(target.lock_file)
    else:
        lock = _NamedLock(conn, target.database or "")
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _refused(holder: str) -> RefusedError:
    return RefusedError(
        f"another reconcile apply is writing this OSCAR database ({holder}); "
        "nothing was written. Try again when it finishes."
    )


def lock_name(database: str) -> str:
    """The MySQL named lock for ``database`` (names are at most 64 characters)."""
    name = f"reconciler:{database}"
    if len(name) <= 64:
        return name
    return f"{name[:47]}~{hashlib.sha256(database.encode()).hexdigest()[:16]}"


class _NamedLock:
    """MySQL/MariaDB: ``GET_LOCK`` on the database, held by the connection that writes.

    It belongs to that connection: released before the connection goes back to the pool
    (closed instead when that fails), and dropped by the server when the connection ends.
    """

    def __init__(self, conn: Connection, database: str) -> None:
        self.conn = conn
        self.name = lock_name(database)
        self.held = False

    def acquire(self) -> None:
        self.held = True  # until GET_LOCK answers, release() must make sure
        got = self.conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": self.name}).scalar()
        self.conn.commit()
        if got != 1:
            self.held = False
            raise _refused(self._holder())

    def _holder(self) -> str:
        holder = self.conn.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": self.name}).scalar()
        self.conn.commit()
        if holder is None:
            return "the lock was just released"
        row = self.conn.execute(
            text("SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = :i"),
            {"i": holder},
        ).first()
        self.conn.commit()
        where = f" by {row[0]} from {str(row[1]).rsplit(':', 1)[0]}" if row else ""
        return f"held by database connection {holder}{where}"

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            self.conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": self.name})
            self.conn.commit()
        except Exception:  # the connection is gone, and the server dropped the lock with it
            if not self.conn.invalidated:
                self.conn.invalidate()


class _FileLock:
    """SQLite: ``flock`` on ``<database>.reconcile-lock``, which says who holds it.

    The kernel drops the lock when the holding process ends, however it ends; the file is
    removed on release, and one left by a killed run is locked again as it is.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        if sys.platform == "win32":
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise AdapterError(
                    "cannot create the lock file beside the SQLite database "
                    f"({exc.strerror or type(exc).__name__}); nothing was written"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise _refused(holder) from None
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder we raced removed this file on release: lock the new one
        self.fd = fd
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        try:  # only to name the holder: the flock is the lock, even if this cannot be written
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode())
        except OSError:
            pass

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # still ours: no one else removes it unlocked
        except OSError:
            pass  # left in place; the next apply locks it as it is
        finally:
            os.close(self.fd)  # drops the lock
            self.fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


_HOLDER = re.compile(r"pid \d+ on [\w.\-]+ since [\d\- :]+UTC")


def _read_holder(fd: int, wait: float = 0.5) -> str:
    """What the lock file says about its holder (checked: it is printed). The holder writes
    its line just after it takes the lock, so a file still empty is read again for up to
    ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            said = os.read(fd, 200).decode("utf-8", "replace").strip()
        except OSError:
            said = ""
        if _HOLDER.fullmatch(said):
            return f"{said}, as its lock file says"
        if time.monotonic() >= deadline:
            return "its lock file is held by another process"
        time.sleep(0.01)


def mysql_facts(conn: Connection, wanted: tuple[str, ...]) -> DatabaseFacts:
    """:func:`~reconciler.emr.oscar.tables.inspect_database` for MySQL/MariaDB, in two
    queries of ``information_schema`` on the selected database (SQLAlchemy's reflection
    lists the tables of the database an engine first connected to, and an engine here serves
    many). Lengths are those SQLAlchemy's reflection gives: characters for ``char`` and
    ``varchar`` (bytes for ``binary``), the longest value of an ``enum`` or ``set``, bits
    of a ``bit``; none for the rest."""
    present = frozenset(
        str(name)
        for (name,) in conn.execute(
            text(
                "SELECT TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
            )
        )
    )
    rows = conn.execute(
        text(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, "
            "NUMERIC_PRECISION, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :tables "
            "ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ).bindparams(bindparam("tables", expanding=True)),
        {"tables": list(wanted)},
    )
    columns: dict[str, dict[str, ColumnInfo]] = {}
    for table, name, kind, full, chars, precision, charset in rows:
        if table not in wanted or table not in present:  # names compare without case there
            continue
        columns.setdefault(str(table), {})[str(name)] = ColumnInfo(
            str(name),
            _reflected_length(str(kind).lower(), str(full), chars, precision),
            None if charset is None else str(charset),
        )
    columns = {t: columns[t] for t in wanted if t in columns}
    security = set(columns.get("security", {}))
    return DatabaseFacts(lineage=Lineage.from_columns(security), tables=present, columns=columns)


_VALUE = re.compile(r"'((?:[^']|'')*)'")


def _reflected_length(kind: str, full: str, chars: Any, precision: Any) -> int | None:
    if kind in ("char", "varchar", "binary", "varbinary"):
        return None if chars is None else int(chars)
    if kind in ("enum", "set"):
        return max((len(v.replace("''", "'")) for v in _VALUE.findall(full)), default=0)
    if kind == "bit":
        return None if precision is None else int(precision)
    return None


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
