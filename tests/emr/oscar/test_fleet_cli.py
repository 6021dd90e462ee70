"""A fleet of OSCAR clinics whose databases live on one MariaDB server, planned through the CLI.

``reconcile plan DIR --parallelism 10 --per-database 4``: every clinic plans, the run never
has more than 4 connections open to the server (counted by the server itself, from a second
session sampling ``information_schema.PROCESSLIST`` for the fleet's own database user while
the run goes), no connection is opened past those 4, none is left open after the run, and
each clinic's plan takes the same number of SQL statements whatever the clinic (its OSCAR
version, its drift). Clinics on one server with different credentials share its limit too.
Each test plans the 40 clinics once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import Pool

from reconciler.cli import cli
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario, create_oscar_database
from reconciler.emr.oscar.sql import OscarSqlAdapter
from tests.conftest import MARIADB_SERVER, OC_PASSWORD, OC_PIN, doc

pytestmark = pytest.mark.mariadb

CLINICS = 40
PER_DATABASE = 4
# (lineage, scenario, what its plan shows): the fleet cycles through them
KINDS = [
    (Lineage.LEGACY, Scenario.DRIFT, "changes"),
    (Lineage.PBKDF2, Scenario.FRESH, "changes"),
    (Lineage.OPENO, Scenario.IN_SYNC, "in_sync"),
    (Lineage.PBKDF2, Scenario.DRIFT, "changes"),
]
# USE, the schema from information_schema (tables, columns), then the rows: secRole,
# program, provider, security, other logins, secUserRole, program_provider.
STATEMENTS_PER_CLINIC = 1 + 2 + 7


@dataclass
class Fleet:
    prefix: str
    databases: list[str]
    users: list[tuple[str, str]]  # (user, password)
    server: Engine

    def url(self, database: str, user: int = 0) -> str:
        name, password = self.users[user]
        return f"mysql+pymysql://{name}:{password}@127.0.0.1:3306/{database}"

    def connections(self, cursor: Any) -> int:
        names = [u for u, _ in self.users]
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN %s", (names,)
        )
        return int(cursor.fetchone()[0])


def _clone(conn: Any, template: str, database: str) -> None:
    tables = [str(t) for (t,) in conn.execute(text(f"SHOW TABLES FROM `{template}`"))]
    conn.execute(text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    for t in tables:
        conn.execute(text(f"CREATE TABLE `{database}`.`{t}` LIKE `{template}`.`{t}`"))
        conn.execute(text(f"INSERT INTO `{database}`.`{t}` SELECT * FROM `{template}`.`{t}`"))


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """``CLINICS`` OSCAR databases on the one server (copies of a seeded database of each
    kind), reachable by two database users of their own; all dropped afterwards."""
    prefix = f"rt_fleet_{uuid.uuid4().hex[:8]}"
    users = [(f"{prefix}_a", "Fleet-Pw-A1"), (f"{prefix}_b", "Fleet-Pw-B2")]
    server = create_engine(MARIADB_SERVER)
    databases = [f"{prefix}_{i:02d}" for i in range(CLINICS)]
    templates = [f"{prefix}_t{k}" for k in range(len(KINDS))]
    try:
        for template, (lineage, scenario, _) in zip(templates, KINDS, strict=True):
            with server.begin() as conn:
                conn.execute(text(f"CREATE DATABASE `{template}` CHARACTER SET utf8mb4"))
            engine = create_engine(f"{MARIADB_SERVER}/{template}")
            create_oscar_database(engine, lineage, scenario, password=OC_PASSWORD, pin=OC_PIN)
            engine.dispose()
        with server.begin() as conn:
            for i, database in enumerate(databases):
                _clone(conn, templates[i % len(KINDS)], database)
            for user, password in users:
                conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
                for database in databases:
                    conn.execute(text(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'"))
            for template in templates:
                conn.execute(text(f"DROP DATABASE `{template}`"))
        yield Fleet(prefix, databases, users, server)
    finally:
        with server.begin() as conn:
            for database in databases + templates:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{database}`"))
            for user, _ in users:
                conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        server.dispose()


def clinic_files(
    fleet: Fleet, folder: Path, monkeypatch: pytest.MonkeyPatch, user_of: Callable[[int], int]
) -> dict[str, str]:
    """One clinic file per database; returns clinic id -> the status its plan must have."""
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)
    folder.mkdir()
    expected = {}
    for i, database in enumerate(fleet.databases):
        lineage, _, status = KINDS[i % len(KINDS)]
        clinic_id = f"fleet-{i:02d}"
        data = doc("oscar", clinic__id=clinic_id)
        variable = f"T_FLEET_URL_{i:02d}"
        data["emr"]["database"]["url"] = {"env": variable}
        if lineage is Lineage.OPENO:
            data["ocean_connect"]["login"]["username"] = "OceanConn"
        monkeypatch.setenv(variable, fleet.url(database, user_of(i)))
        (folder / f"{clinic_id}.yaml").write_text(json.dumps(data), encoding="utf-8")
        expected[clinic_id] = status
    return expected


class Sampler:
    """Counts the fleet users' connections, as the server sees them, while a run goes."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.counts: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        try:
            with conn.cursor() as cursor:
                while not self._stop.is_set():
                    self.counts.append(self.fleet.connections(cursor))
                    self._stop.wait(0.002)
        finally:
            conn.close()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Statements:
    """SQL statements per clinic (each clinic is read by one thread at a time), and the
    database connections this process opened, and had open at once, while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.per_clinic: Counter[str] = Counter()
        self.opened = 0
        self.open = 0
        self.peak_open = 0
        self._current = threading.local()
        self._lock = threading.Lock()
        read = OscarSqlAdapter.read

        def counted_read(adapter: OscarSqlAdapter, clinic: Any) -> Any:
            self._current.clinic = clinic.id
            try:
                return read(adapter, clinic)
            finally:
                self._current.clinic = None

        monkeypatch.setattr(OscarSqlAdapter, "read", counted_read)

    def _statement(self, *args: Any) -> None:
        clinic = getattr(self._current, "clinic", None)
        if clinic is not None:
            with self._lock:
                self.per_clinic[clinic] += 1

    def _connect(self, *args: Any) -> None:
        with self._lock:
            self.opened += 1
            self.open += 1
            self.peak_open = max(self.peak_open, self.open)

    def _close(self, *args: Any) -> None:
        with self._lock:
            self.open -= 1

    def __enter__(self) -> Statements:
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Pool, "connect", self._connect)
        event.listen(Pool, "close", self._close)
        event.listen(Pool, "close_detached", self._close)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._statement)
        event.remove(Pool, "connect", self._connect)
        event.remove(Pool, "close", self._close)
        event.remove(Pool, "close_detached", self._close)


def plan(folder: Path, per_database: int) -> dict[str, str]:
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            str(folder),
            "--parallelism",
            "10",
            "--per-database",
            str(per_database),
            "--format",
            "json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    clinics = json.loads(result.stdout)["clinics"]
    assert not [c for c in clinics if c["error"]], [c["error"] for c in clinics if c["error"]]
    return {c["id"]: c["status"] for c in clinics}


def test_a_fleet_on_one_server_plans_within_four_connections_and_fixed_statements(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = clinic_files(fleet, tmp_path / "clinics", monkeypatch, user_of=lambda i: 0)
    with Statements(monkeypatch) as statements, Sampler(fleet) as sampler:
        statuses = plan(tmp_path / "clinics", PER_DATABASE)
    assert statuses == expected  # every clinic planned, each as its database stands
    assert len(sampler.counts) > 50 and max(sampler.counts) == PER_DATABASE, (
        f"peak {max(sampler.counts)} over {len(sampler.counts)} samples"
    )
    assert statements.opened == PER_DATABASE  # opened once, then shared by all 40 clinics
    assert statements.open == 0  # and closed at the end of the run
    assert set(statements.per_clinic) == set(expected)
    assert set(statements.per_clinic.values()) == {STATEMENTS_PER_CLINIC}, statements.per_clinic
    with fleet.server.connect() as conn:  # the server saw them go (a moment later)
        for _ in range(200):
            left = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER LIKE %s",
                (f"{fleet.prefix}%",),
            ).scalar()
            if left == 0:
                break
            time.sleep(0.01)
    assert left == 0


def test_clinics_with_different_credentials_share_the_servers_limit(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the clinics reach the server as one user, half as another: two engines, one
    limit (3 here), and no connection kept idle past it. Connections are closed and opened
    all through this run, and the server lists one a moment after the client closed it, so
    what is counted is what this process had open."""
    expected = clinic_files(fleet, tmp_path / "clinics", monkeypatch, user_of=lambda i: i % 2)
    with Statements(monkeypatch) as statements:
        statuses = plan(tmp_path / "clinics", 3)
    assert statuses == expected
    assert 2 <= statements.peak_open <= 3 and statements.open == 0
