"""Shared fixtures: clinic documents to start from, and a way to write them to disk."""

from __future__ import annotations

import copy
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import (
    Scenario,
    create_oscar_database,
    ensure_mysql_database,
)

ROOT = Path(__file__).resolve().parents[1]

ACCURO_DOC: dict[str, Any] = {
    "version": 1,
    "clinic": {"id": "lakeside-medical", "name": "Lakeside Medical Centre"},
    "emr": {
        "kind": "accuro",
        "api": {
            "base_url": "https://accuro.example.org",
            "tenant": "LAKESIDE",
            "uuid": "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
            "client_id": {"env": "T_CLIENT_ID"},
            "client_secret": {"env": "T_CLIENT_SECRET"},
            "subscription_key": {"env": "T_SUB_KEY"},
        },
    },
    "ocean_api_user": {
        "username": "OceanAPI12345",
        "offices": [
            {"name": "Main Street Office", "providers": [{"name": "Smith, Jane"}, {"id": 1042}]}
        ],
    },
}

OSCAR_DOC: dict[str, Any] = {
    "version": 1,
    "clinic": {"id": "riverside-fht", "name": "Riverside Family Health Team"},
    "emr": {
        "kind": "oscar",
        "edition": "open-source",
        "backend": "sql",
        "database": {"url": {"env": "T_OSCAR_DB_URL"}},
    },
    "ocean_connect": {
        "provider": {"number": "999990", "last_name": "Connect", "first_name": "Ocean"},
        "roles": ["doctor"],
        "primary_role": "doctor",
        "login": {
            "username": "OceanConnect",
            "password": {"env": "T_OC_PASSWORD"},
            "pin": {"env": "T_OC_PIN"},
        },
    },
}


def doc(kind: str = "oscar", **changes: Any) -> dict[str, Any]:
    """A fresh copy of a valid document; ``changes`` set dotted paths (``a__b=1``)."""
    data = copy.deepcopy(OSCAR_DOC if kind == "oscar" else ACCURO_DOC)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value
    return data


WriteClinic = Callable[..., Path]


@pytest.fixture(autouse=True)
def _outputs_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checklists and state files a test does not place itself go to a temporary folder,
    never into the working tree."""
    where = tmp_path_factory.mktemp("outputs")
    monkeypatch.setenv("RECONCILER_CHECKLIST_DIR", str(where / "checklists"))
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(where / "state"))


@pytest.fixture
def write_clinic(tmp_path: Path) -> WriteClinic:
    """Write a clinic file (a dict is dumped as YAML, a str/bytes written as is)."""

    def write(content: dict[str, Any] | str | bytes, name: str = "clinic.yaml") -> Path:
        path = tmp_path / "clinics" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return write


# --- OSCAR databases: SQLite and a real MariaDB -------------------------------------------

MARIADB_SERVER = os.environ.get("RECONCILER_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306")
OC_PASSWORD = "Corr3ct-Horse-Battery"
OC_PIN = "2468"
_RUN = uuid.uuid4().hex[:8]
_counter = itertools.count()


@dataclass
class OscarDB:
    """A seeded OSCAR database and the environment a clinic file needs to reach it."""

    url: str
    engine: Engine
    backend: str
    lineage: Lineage

    @property
    def username(self) -> str:
        """Open-O's login takes user names of at most 10 letters and digits."""
        return "OceanConn" if self.lineage is Lineage.OPENO else "OceanConnect"

    def seed(self, scenario: Scenario) -> None:
        create_oscar_database(
            self.engine,
            self.lineage,
            scenario,
            password=OC_PASSWORD,
            pin=OC_PIN,
            username=self.username,
        )

    def execute(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        with self.engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return [tuple(r) for r in result] if result.returns_rows else []


def _make_db(
    backend: str, lineage: Lineage, tmp_path: Path, charset: str = "utf8mb4"
) -> Iterator[OscarDB]:
    if backend == "sqlite":
        path = tmp_path / f"oscar-{lineage}.db"
        path.touch()
        url = f"sqlite:///{path}"
        engine = create_engine(url)
        yield OscarDB(url, engine, backend, lineage)
        engine.dispose()
        return
    name = f"reconciler_test_{_RUN}_{next(_counter)}"
    ensure_mysql_database(MARIADB_SERVER, name, charset)
    url = f"{MARIADB_SERVER}/{name}"
    engine = create_engine(url)
    try:
        yield OscarDB(url, engine, backend, lineage)
    finally:
        engine.dispose()
        server = create_engine(MARIADB_SERVER)
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def oscar_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OscarDB]:
    """An OSCAR database (PBKDF2 lineage) on SQLite and on MariaDB, seeded with drift."""
    for db in _make_db(request.param, Lineage.PBKDF2, tmp_path):
        db.seed(Scenario.DRIFT)
        yield db


@pytest.fixture(
    params=[(backend, lineage) for backend in ("sqlite", "mariadb") for lineage in Lineage],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def oscar_db_lineage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OscarDB]:
    """Every password lineage, on both database engines (unseeded)."""
    backend, lineage = request.param
    yield from _make_db(backend, lineage, tmp_path)


@pytest.fixture
def make_oscar_db(tmp_path: Path) -> Iterator[Callable[..., OscarDB]]:
    """Make more databases in one test: ``make_oscar_db(backend, lineage, charset=...)``."""
    made: list[Iterator[OscarDB]] = []

    def make(backend: str, lineage: Lineage, charset: str = "utf8mb4") -> OscarDB:
        gen = _make_db(backend, lineage, tmp_path / f"db{len(made)}", charset)
        (tmp_path / f"db{len(made)}").mkdir()
        made.append(gen)
        return next(gen)

    yield make
    for gen in made:
        next(gen, None)


@pytest.fixture
def oscar_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[OscarDB], None]:
    """Point the OSCAR_DOC clinic's secret references at ``db``."""

    def point(db: OscarDB) -> None:
        monkeypatch.setenv("T_OSCAR_DB_URL", db.url)
        monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
        monkeypatch.setenv("T_OC_PIN", OC_PIN)

    return point
