"""A simulated OSCAR database for demos and tests, in MySQL/MariaDB or SQLite.

Its tables are OSCAR's own: built from ``oscar_schema.json``, the column names, types,
nullability, defaults and keys read from databases that each lineage's install scripts
built (``scripts/oscar-schema-facts.py``), so an adapter that works here meets the same
constraints it meets in a clinic (``storageVersion INT NOT NULL`` with no default,
Open-O's ``usingMfa BOOL NOT NULL`` with no default, ...). It seeds what a real database
holds: the roles OSCAR's data scripts insert, the ``oscardoc`` login as those scripts
create it (``storageVersion = 1`` where the column exists, as every pre-2015 login has),
the ``OSCAR`` program OSCAR creates at its first start, and a few staff.

    python -m reconciler.emr.oscar.simulator --url sqlite:///.demo/oscar.db --scenario drift

Password and PIN for the OceanConnect login come from the environment variables named by
``--password-env`` / ``--pin-env`` so that they never appear on a command line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import click
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from reconciler.emr.oscar.passwords import (
    STORAGE_VERSION_PBKDF2,
    Lineage,
    Scheme,
    hash_password,
    hash_pin,
    legacy_sha1,
)

OSCAR_PROGRAM_ID = 10034  # the first id program's AUTO_INCREMENT gives after initcaisi.sql
FIRST_START = datetime(2026, 1, 5, 9, 30)


@cache
def schema_facts() -> dict[str, Any]:
    """``oscar_schema.json``: per lineage, per table, OSCAR's own columns and keys."""
    raw = resources.files("reconciler.emr.oscar").joinpath("oscar_schema.json").read_text()
    facts: dict[str, Any] = json.loads(raw)["lineages"]
    return facts


_TYPE = re.compile(r"^(\w+)(?:\((\d+)\))?( unsigned)?$")


def _column_type(spec: str, dialect: str) -> TypeEngine[Any]:
    match = _TYPE.match(spec)
    if not match:
        raise ValueError(f"unknown column type {spec}")
    name, size, unsigned = match[1], int(match[2]) if match[2] else None, bool(match[3])
    if dialect == "sqlite":
        if name in ("int", "bigint", "tinyint", "smallint", "mediumint"):
            return Integer()
        if name in ("varchar", "char"):
            return String(size)
        if name in ("date",):
            return Date()
        if name in ("datetime", "timestamp"):
            return DateTime()
        return Text()
    ints = {
        "int": mysql.INTEGER,
        "bigint": mysql.BIGINT,
        "tinyint": mysql.TINYINT,
        "smallint": mysql.SMALLINT,
        "mediumint": mysql.MEDIUMINT,
    }
    if name in ints:
        return ints[name](display_width=size, unsigned=unsigned)
    simple: dict[str, TypeEngine[Any]] = {
        "text": mysql.TEXT(),
        "mediumtext": mysql.MEDIUMTEXT(),
        "longtext": mysql.LONGTEXT(),
        "date": mysql.DATE(),
        "datetime": mysql.DATETIME(),
        "timestamp": mysql.TIMESTAMP(),
    }
    if name in ("varchar", "char"):
        return mysql.VARCHAR(size) if name == "varchar" else mysql.CHAR(size)
    return simple[name]


def _server_default(default: str | None, extra: str, dialect: str) -> Any:
    if default is None or default == "NULL":
        return None
    if default.lower() == "current_timestamp()":
        if dialect == "sqlite":
            return text("CURRENT_TIMESTAMP")
        on_update = " ON UPDATE current_timestamp()" if "on update" in extra else ""
        return text(f"current_timestamp(){on_update}")
    if default.startswith("'"):
        return default[1:-1].replace("''", "'")
    return text(default)


def oscar_metadata(lineage: Lineage, dialect: str = "mysql") -> MetaData:
    """OSCAR's tables for ``lineage``, typed for ``dialect`` (``mysql`` or ``sqlite``)."""
    md = MetaData()
    for name, table in schema_facts()[lineage.value].items():
        if name.startswith("_"):
            continue
        primary = table["indexes"].get("PRIMARY", {"columns": []})["columns"]
        columns = [
            Column(
                cname,
                _column_type(ctype, dialect),
                primary_key=cname in primary,
                nullable=nullable == "YES",
                autoincrement="auto_increment" in extra,
                server_default=_server_default(default, extra, dialect),
            )
            for cname, ctype, nullable, default, extra in table["columns"]
        ]
        t = Table(name, md, *columns)
        for iname, index in table["indexes"].items():
            if iname != "PRIMARY":
                label = iname if dialect != "sqlite" else f"{name}_{iname}"
                Index(label, *(t.c[c] for c in index["columns"]), unique=index["unique"])
        for fk in table["foreign_keys"]:
            local, target = (part.strip() for part in fk.split("->"))
            t.append_constraint(ForeignKeyConstraint([local], [target]))
    return md


FACT_TABLES = (
    "provider",
    "security",
    "secRole",
    "secUserRole",
    "program",
    "program_provider",
    "SecurityArchive",
    "providerArchive",
    "log",
    "recyclebin",
    "Facility",
)


def read_schema_facts(conn: Any) -> dict[str, Any]:
    """The shape of :data:`FACT_TABLES` in the MySQL/MariaDB database ``conn`` is on, in the
    form of ``oscar_schema.json`` (``scripts/oscar-schema-facts.py`` writes it)."""
    out: dict[str, Any] = {}
    for table in FACT_TABLES:
        columns = [
            list(row)
            for row in conn.execute(
                text(
                    "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
                    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = :t ORDER BY ORDINAL_POSITION"
                ),
                {"t": table},
            )
        ]
        if not columns:
            continue
        indexes: dict[str, dict[str, Any]] = {}
        for name, non_unique, column in conn.execute(
            text(
                "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t "
                "ORDER BY INDEX_NAME, SEQ_IN_INDEX"
            ),
            {"t": table},
        ):
            entry = indexes.setdefault(name, {"unique": not non_unique, "columns": []})
            entry["columns"].append(column)
        foreign = sorted(
            f"{c} -> {rt}.{rc}"
            for c, rt, rc in conn.execute(
                text(
                    "SELECT COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
                    "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = :t AND REFERENCED_TABLE_NAME IS NOT NULL"
                ),
                {"t": table},
            )
        )
        out[table] = {
            "columns": columns,
            "indexes": {k: indexes[k] for k in sorted(indexes)},
            "foreign_keys": foreign,
        }
    return out


def seed_roles(lineage: Lineage) -> list[tuple[int, str]]:
    """The ``secRole`` rows OSCAR's data scripts insert in this lineage."""
    return [(int(no), str(name)) for no, name in schema_facts()[lineage.value]["_seed_secRole"]]


def _filler(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` plus what a Java entity writes for every NOT NULL column without a default."""
    row = dict(values)
    for c in table.columns:
        if c.name in row or c.nullable or c.server_default is not None or c.autoincrement is True:
            continue
        if isinstance(c.type, DateTime | Date):
            row[c.name] = FIRST_START
        elif isinstance(c.type, String | Text):
            row[c.name] = ""
        else:
            row[c.name] = 0
    return row


class Scenario(StrEnum):
    FRESH = "fresh"  # no OceanConnect objects yet
    DRIFT = "drift"  # exists, but local PIN on, forced reset, no primary role, wrong PIN
    IN_SYNC = "in-sync"  # exactly as the example clinic declares


STAFF = [  # provider_no, last, first, type, roles, primary, login, storageVersion on OSCAR 15+
    ("100101", "Tremblay", "Luc", "doctor", ["doctor"], "doctor", "ltremblay", 2),
    ("100102", "Singh", "Harpreet", "doctor", ["doctor"], "doctor", "hsingh", 1),
    ("200201", "Wong", "Emily", "receptionist", ["receptionist"], "receptionist", "ewong", 2),
    ("300301", "Leblanc", "Sophie", "nurse", ["nurse"], None, "sleblanc", 1),
]


def _login(
    lineage: Lineage, user: str, provider_no: str, pw: str, pin: str, version: int, **flags: Any
) -> dict[str, Any]:
    """A security row as OSCAR writes it: per row, the scheme its storageVersion says."""
    scheme = Scheme.OPENO if lineage is Lineage.OPENO else Scheme.LEGACY
    if lineage is Lineage.PBKDF2 and version == STORAGE_VERSION_PBKDF2:
        scheme = Scheme.PBKDF2
    row: dict[str, Any] = {
        "user_name": user,
        "password": hash_password(pw, scheme),
        "provider_no": provider_no,
        "pin": hash_pin(pin, scheme),
        "b_ExpireSet": 0,
        "date_ExpireDate": date(2100, 1, 1),
        "b_LocalLockSet": 1,
        "b_RemoteLockSet": 1,
        "forcePasswordReset": 0,
        "passwordUpdateDate": FIRST_START,
        "pinUpdateDate": FIRST_START,
        "lastUpdateUser": "999998",
        "lastUpdateDate": FIRST_START,
    }
    if lineage is Lineage.PBKDF2:
        row["storageVersion"] = version
    if lineage is Lineage.OPENO:
        row["usingMfa"] = 0
    row.update(flags)
    return row


def create_oscar_database(
    engine: Engine,
    lineage: Lineage,
    scenario: Scenario = Scenario.DRIFT,
    *,
    password: str,
    pin: str,
    number: str = "999990",
    username: str | None = None,
) -> None:
    """Create OSCAR's tables in ``engine`` (dropping earlier ones) and seed them.

    ``username`` defaults to ``OceanConnect``, or ``OceanConn`` on Open-O, whose login takes
    user names of at most 10 letters and digits."""
    if username is None:
        username = "OceanConn" if lineage is Lineage.OPENO else "OceanConnect"
    md = oscar_metadata(lineage, "sqlite" if engine.dialect.name == "sqlite" else "mysql")
    md.drop_all(engine)
    md.create_all(engine)
    t = md.tables
    role_no = {name: no for no, name in seed_roles(lineage)}
    doc = "openodoc" if lineage is Lineage.OPENO else "oscardoc"

    def provider(conn: Any, no: str, last: str, first: str, ptype: str) -> None:
        values = {"provider_no": no, "last_name": last, "first_name": first}
        values |= {"provider_type": ptype, "specialty": "", "sex": "", "status": "1"}
        conn.execute(insert(t["provider"]).values(_filler(t["provider"], values)))

    with engine.begin() as conn:
        conn.execute(
            insert(t["secRole"]), [{"role_no": n, "role_name": r} for r, n in role_no.items()]
        )
        conn.execute(
            insert(t["Facility"]).values(_filler(t["Facility"], {"id": 1, "name": "Default"}))
        )
        provider(conn, "-1", "system", "system", "system")
        provider(conn, "999998", doc, "doctor", "doctor")
        # The data scripts' first login: oscardoc/mac2002 with PIN 1117 (storageVersion 1 where
        # the column exists: a pre-2015 row), or Open-O's openodoc/openo2025 (bcrypt, PIN 2025).
        openo = lineage is Lineage.OPENO
        doc_pw, doc_pin = ("openo2025", "2025") if openo else ("mac2002", "1117")
        doc_row = _login(lineage, doc, "999998", doc_pw, doc_pin, 1, b_ExpireSet=1)
        doc_row |= {"forcePasswordReset": 1, "lastUpdateUser": None}
        doc_row |= {"date_ExpireDate": date(2026, 12, 23)}
        if lineage is not Lineage.OPENO:
            doc_row["password"] = legacy_sha1("mac2002")
        conn.execute(insert(t["security"]).values(doc_row))
        # initcaisidata.sql's community programs (10001-10033; one stands for them), then the
        # program OSCAR creates at its first start (ContextStartupListener): Open-O's is a
        # Service program, the others' a Bed program.
        community = {"id": 10001, "facilityId": 1, "name": "Subsidized Housing"}
        community |= {"type": "community", "programStatus": "active"}
        conn.execute(insert(t["program"]).values(_filler(t["program"], community)))
        program = {"id": OSCAR_PROGRAM_ID, "facilityId": 1, "name": "OSCAR", "maxAllowed": 99999}
        program |= {"type": "Service" if openo else "Bed", "programStatus": "active"}
        program |= {"ageMin": 1, "ageMax": 200, "userDefined": 1, "exclusiveView": "no"}
        conn.execute(insert(t["program"]).values(_filler(t["program"], program)))
        if not openo:  # oscardata.sql also gives a role to a provider it never creates
            conn.execute(
                insert(t["secUserRole"]).values(
                    provider_no="999997",
                    role_name="receptionist",
                    orgcd="R0000001",
                    activeyn=1,
                    lastUpdateDate=FIRST_START,
                )
            )
        staff: list[tuple[str, str, str, str, list[str], str | None, str, int]] = [
            ("999998", doc, "doctor", "doctor", ["doctor", "admin"], "doctor", "", 1),
            *STAFF,
        ]
        if scenario is not Scenario.FRESH:
            primary = "doctor" if scenario is Scenario.IN_SYNC else None
            staff.append((number, "Connect", "Ocean", "doctor", ["doctor"], primary, username, 2))
        for prov, last, first, ptype, roles, primary, user, version in staff:
            if prov != "999998":
                provider(conn, prov, last, first, ptype)
            conn.execute(
                insert(t["secUserRole"]),
                [
                    {
                        "provider_no": prov,
                        "role_name": r,
                        "activeyn": 1,
                        "lastUpdateDate": FIRST_START,
                    }
                    for r in roles
                ],
            )
            if primary:
                pp = {"program_id": OSCAR_PROGRAM_ID, "provider_no": prov}
                pp["role_id"] = role_no[primary]
                if prov == "999998" and "lastUpdateUser" in t["program_provider"].c:
                    pp["lastUpdateUser"] = "system"  # OSCAR 15's first start writes it
                conn.execute(insert(t["program_provider"]).values(pp))
            if not user:
                continue
            if prov != number:
                row = _login(lineage, user, prov, f"{user}-Passw0rd!", "1234", version)
            elif scenario is Scenario.DRIFT:
                row = _login(lineage, user, prov, password, "0000", version, forcePasswordReset=1)
            else:
                row = _login(lineage, user, prov, password, pin, version, b_LocalLockSet=0)
            conn.execute(insert(t["security"]).values(row))


def ensure_mysql_database(server_url: str, name: str, charset: str = "utf8mb4") -> None:
    """Create (or empty) database ``name`` on the MySQL/MariaDB server at ``server_url``."""
    engine = create_engine(server_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET {charset}"))
    finally:
        engine.dispose()


@click.command()
@click.option("--url", required=True, envvar="OSCAR_SIM_DB_URL", help="SQLAlchemy URL.")
@click.option("--lineage", type=click.Choice([x.value for x in Lineage]), default="pbkdf2")
@click.option("--scenario", type=click.Choice([x.value for x in Scenario]), default="drift")
@click.option("--password-env", default="RIVERSIDE_OCEANCONNECT_PASSWORD", show_default=True)
@click.option("--pin-env", default="RIVERSIDE_OCEANCONNECT_PIN", show_default=True)
def main(url: str, lineage: str, scenario: str, password_env: str, pin_env: str) -> None:
    """Create and seed a simulated OSCAR database (existing OSCAR tables are replaced)."""
    password, pin = os.environ.get(password_env), os.environ.get(pin_env)
    if not password or not pin:
        click.echo(f"error: set {password_env} and {pin_env}", err=True)
        sys.exit(1)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    engine = create_engine(url)
    try:
        create_oscar_database(
            engine, Lineage(lineage), Scenario(scenario), password=password, pin=pin
        )
    finally:
        engine.dispose()
    click.echo(f"seeded a simulated OSCAR database ({lineage} lineage, scenario {scenario})")


def _run(argv: Sequence[str] | None = None) -> None:
    main(args=argv, prog_name="python -m reconciler.emr.oscar.simulator")


if __name__ == "__main__":
    _run()
