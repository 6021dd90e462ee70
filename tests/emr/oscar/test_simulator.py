"""The simulated OSCAR is OSCAR's schema: MariaDB reproduces, column for column and key for
key, what each lineage's own install scripts create (``oscar_schema.json``, read from
databases those scripts built), and it seeds what those scripts and OSCAR's first start seed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from reconciler.emr.oscar.passwords import Lineage, Scheme, verify_password, verify_pin
from reconciler.emr.oscar.simulator import (
    FACT_TABLES,
    OSCAR_PROGRAM_ID,
    Scenario,
    read_schema_facts,
    schema_facts,
    seed_roles,
)
from tests.conftest import OC_PASSWORD, OC_PIN, OscarDB

Make = Callable[..., OscarDB]


@pytest.mark.mariadb
@pytest.mark.parametrize("lineage", list(Lineage))
def test_mariadb_tables_are_oscars_own(make_oscar_db: Make, lineage: Lineage) -> None:
    db = make_oscar_db("mariadb", lineage)
    db.seed(Scenario.DRIFT)
    with db.engine.connect() as conn:
        built = read_schema_facts(conn)
    expected = {k: v for k, v in schema_facts()[lineage.value].items() if not k.startswith("_")}
    assert sorted(built) == sorted(expected) == sorted(FACT_TABLES)
    for table, facts in expected.items():
        assert built[table]["columns"] == facts["columns"], table
        assert built[table]["indexes"] == facts["indexes"], table
        assert built[table]["foreign_keys"] == facts["foreign_keys"], table


def test_the_facts_hold_what_the_issue_names() -> None:
    """Spot checks against OSCAR's scripts, so a regenerated facts file cannot drift unseen."""

    def column(lineage: str, table: str, name: str) -> list[object] | None:
        for c in schema_facts()[lineage][table]["columns"]:
            if c[0] == name:
                return list(c)
        return None

    assert column("pbkdf2", "security", "storageVersion") == [
        "storageVersion",
        "int(11)",
        "NO",
        None,
        "",
    ]
    assert column("legacy", "security", "storageVersion") is None
    assert column("openo", "security", "storageVersion") is None
    assert column("openo", "security", "usingMfa") == ["usingMfa", "tinyint(1)", "NO", None, ""]
    for name in ("mfaSecret", "oneIdKey", "oneIdEmail", "delegateOneIdEmail"):
        assert column("openo", "security", name) is not None
    for lineage in ("legacy", "pbkdf2", "openo"):
        assert column(lineage, "program_provider", "program_id")[2] == "YES"  # type: ignore[index]
        assert column(lineage, "security", "user_name")[1] == "varchar(30)"  # type: ignore[index]
        assert column(lineage, "provider", "provider_no")[1] == "varchar(6)"  # type: ignore[index]
    assert schema_facts()["openo"]["program_provider"]["foreign_keys"] == [
        "provider_no -> provider.provider_no"
    ]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
@pytest.mark.parametrize("lineage", list(Lineage))
def test_seeds_what_oscar_seeds(make_oscar_db: Make, backend: str, lineage: Lineage) -> None:
    db = make_oscar_db(backend, lineage)
    db.seed(Scenario.FRESH)
    roles = db.execute("SELECT role_no, role_name FROM secRole ORDER BY role_no")
    assert roles == seed_roles(lineage) and (2, "doctor") in roles
    doc = "openodoc" if lineage is Lineage.OPENO else "oscardoc"
    (row,) = db.execute(
        "SELECT password, pin, forcePasswordReset FROM security WHERE user_name = :u", u=doc
    )
    if lineage is Lineage.OPENO:
        assert str(row[0]).startswith("{bcrypt}")
        assert verify_password("openo2025", str(row[0]), Scheme.OPENO)
    else:  # a pre-2015 login, as every upgraded database has
        assert verify_password("mac2002", str(row[0]), Scheme.LEGACY) and row[1] == "1117"
    if lineage is Lineage.PBKDF2:
        assert db.execute("SELECT storageVersion FROM security WHERE user_name='oscardoc'") == [
            (1,)
        ]
        versions = {v for (v,) in db.execute("SELECT storageVersion FROM security")}
        assert versions == {1, 2}  # upgraded databases hold both
    (program,) = db.execute("SELECT id, type, maxAllowed FROM program WHERE name = 'OSCAR'")
    assert program == (OSCAR_PROGRAM_ID, "Service" if lineage is Lineage.OPENO else "Bed", 99999)
    assert db.execute(
        "SELECT provider_no, role_id FROM program_provider WHERE program_id = :p ORDER BY id",
        p=OSCAR_PROGRAM_ID,
    )[0] == ("999998", 2)


@pytest.mark.mariadb
def test_mariadb_tests_run_in_strict_mode(make_oscar_db: Make) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    with db.engine.connect() as conn:
        mode = str(conn.execute(text("SELECT @@SESSION.sql_mode")).scalar())
    assert "STRICT_TRANS_TABLES" in mode or "STRICT_ALL_TABLES" in mode


def test_seeded_oceanconnect_login_verifies(make_oscar_db: Make) -> None:
    db = make_oscar_db("sqlite", Lineage.PBKDF2)
    db.seed(Scenario.IN_SYNC)
    ((pw, pin, version),) = db.execute(
        "SELECT password, pin, storageVersion FROM security WHERE user_name='OceanConnect'"
    )
    assert version == 2
    assert verify_password(OC_PASSWORD, str(pw), Scheme.PBKDF2)
    assert verify_pin(OC_PIN, str(pin), Scheme.PBKDF2)
