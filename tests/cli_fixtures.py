"""Fixtures and helpers for the end-to-end CLI tests of issue 8 (SQLite OSCAR databases)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from reconciler.cli import cli
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario
from tests.conftest import OC_PASSWORD, OC_PIN, OscarDB, WriteClinic, doc

Run = Callable[..., Result]
MakeDB = Callable[..., OscarDB]


@pytest.fixture(name="run")
def run_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture(name="make_db")
def make_db_fixture(tmp_path: Path) -> Iterator[MakeDB]:
    """Seeded SQLite OSCAR databases, one per name."""
    made: list[OscarDB] = []

    def make(name: str, scenario: Scenario = Scenario.DRIFT) -> OscarDB:
        path = tmp_path / f"{name}.db"
        path.touch()
        url = f"sqlite:///{path}"
        db = OscarDB(url, create_engine(url), "sqlite", Lineage.PBKDF2)
        db.seed(scenario)
        made.append(db)
        return db

    yield make
    for db in made:
        db.engine.dispose()


def clinic(
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    clinic_id: str,
    url: str,
    **changes: Any,
) -> Path:
    """A clinic file ``<clinic_id>.yaml`` whose database URL is ``url`` (in its own variable)."""
    data = doc("oscar", clinic__id=clinic_id, **changes)
    variable = "T_URL_" + clinic_id.upper().replace("-", "_")
    data["emr"]["database"]["url"] = {"env": variable}
    monkeypatch.setenv(variable, url)
    return write_clinic(data, f"{clinic_id}.yaml")


def security_row(db: OscarDB) -> list[tuple[object, ...]]:
    return db.execute("SELECT password, pin FROM security WHERE user_name = 'OceanConnect'")


def statuses(output: str) -> dict[str, tuple[str, str | None]]:
    return {c["id"]: (c["status"], c["error"]) for c in json.loads(output)["clinics"]}


def primary_rows(db: OscarDB) -> int:
    rows = db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no = '999990'")
    return int(rows[0][0])  # type: ignore[call-overload]
