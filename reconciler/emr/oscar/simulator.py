"""An OSCAR database for demos and tests: the tables the adapter touches, as open-source
OSCAR defines them (column names, types, NOT NULL, defaults), for MySQL/MariaDB or SQLite,
seeded with realistic providers, roles and logins.

    python -m reconciler.emr.oscar.simulator --url sqlite:///.demo/oscar.db --scenario drift

Password and PIN for the OceanConnect login come from the environment variables named by
``--password-env`` / ``--pin-env`` so that they never appear on a command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import click
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    insert,
    text,
)

from reconciler.emr.oscar.passwords import Lineage, hash_password, hash_pin

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only


def oscar_metadata(lineage: Lineage) -> MetaData:
    md = MetaData()
    Table(
        "provider",
        md,
        Column("provider_no", String(6), primary_key=True, server_default=""),
        Column("last_name", String(30), nullable=False, server_default=""),
        Column("first_name", String(30), nullable=False, server_default=""),
        Column("provider_type", String(15), nullable=False, server_default=""),
        Column("specialty", String(40), nullable=False, server_default=""),
        Column("team", String(20), server_default=""),
        Column("sex", String(1), nullable=False, server_default=""),
        Column("dob", Date),
        Column("address", String(40)),
        Column("phone", String(20)),
        Column("work_phone", String(50)),
        Column("ohip_no", String(20)),
        Column("rma_no", String(20)),
        Column("billing_no", String(20)),
        Column("hso_no", String(10)),
        Column("status", String(1)),
        Column("comments", Text),
        Column("provider_activity", String(3)),
        Column("practitionerNo", String(20)),
        Column("init", String(10)),
        Column("job_title", String(100)),
        Column("email", String(60)),
        Column("title", String(20)),
        Column("lastUpdateUser", String(6)),
        Column("lastUpdateDate", DateTime, nullable=False),
        Column("signed_confidentiality", DateTime),
        Column("practitionerNoType", String(255)),
    )
    security: list[Column[Any]] = [
        Column("security_no", Integer, primary_key=True, autoincrement=True),
        Column("user_name", String(30), nullable=False, unique=True, server_default=""),
        Column("password", String(255), nullable=False, server_default=""),
        Column("provider_no", String(6)),
        Column("pin", String(255)),
        Column("b_ExpireSet", SmallInteger, server_default="1"),
        Column("date_ExpireDate", Date, server_default="2100-01-01"),
        Column("b_LocalLockSet", SmallInteger, server_default="1"),
        Column("b_RemoteLockSet", SmallInteger, server_default="1"),
        Column("forcePasswordReset", SmallInteger),
        Column("passwordUpdateDate", DateTime),
        Column("pinUpdateDate", DateTime),
        Column("lastUpdateUser", String(20)),
        Column("lastUpdateDate", DateTime),
        Column("oneIdKey", String(255)),
        Column("oneIdEmail", String(255)),
        Column("delegateOneIdEmail", String(255)),
    ]
    if lineage in (Lineage.PBKDF2, Lineage.OPENO):
        security.append(Column("storageVersion", Integer, server_default="1"))
    if lineage is Lineage.OPENO:
        security.append(Column("usingMfa", SmallInteger, nullable=False, server_default="0"))
    Table("security", md, *security)
    Table(
        "secRole",
        md,
        Column("role_no", Integer, primary_key=True, autoincrement=True),
        Column("role_name", String(60), nullable=False, unique=True),
        Column("description", String(60)),
    )
    Table(
        "secUserRole",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("provider_no", String(6), nullable=False),
        Column("role_name", String(60), nullable=False),
        Column("orgcd", String(80), server_default="R0000001"),
        Column("activeyn", SmallInteger),
        Column("lastUpdateDate", DateTime, nullable=False),
    )
    Table(
        "program",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("facilityId", Integer, nullable=False, server_default="0"),
        Column("name", String(70), nullable=False),
        Column("description", String(255)),
        Column("type", String(50)),
        Column("programStatus", String(8), server_default="active"),
    )
    Table(
        "program_provider",
        md,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("program_id", _ID, nullable=False),
        Column("provider_no", String(6), nullable=False),
        Column("role_id", _ID),
        Column("team_id", _ID),
    )
    return md


class Scenario(StrEnum):
    FRESH = "fresh"  # no OceanConnect objects yet
    DRIFT = "drift"  # exists, but local PIN on, forced reset, no primary role, wrong PIN
    IN_SYNC = "in-sync"  # exactly as the example clinic declares


ROLES = ["receptionist", "doctor", "admin", "locum", "nurse"]
OSCAR_PROGRAM_ID = 10034
STAFF = [  # provider_no, last, first, type, roles, primary, login
    ("999998", "oscardoc", "doctor", "doctor", ["doctor", "admin"], "doctor", "oscardoc"),
    ("100101", "Tremblay", "Luc", "doctor", ["doctor"], "doctor", "ltremblay"),
    ("100102", "Singh", "Harpreet", "doctor", ["doctor"], "doctor", "hsingh"),
    ("200201", "Wong", "Emily", "receptionist", ["receptionist"], "receptionist", "ewong"),
    ("300301", "Leblanc", "Sophie", "nurse", ["nurse"], "nurse", "sleblanc"),
]


def create_oscar_database(
    engine: Engine,
    lineage: Lineage,
    scenario: Scenario = Scenario.DRIFT,
    *,
    password: str,
    pin: str,
    number: str = "999990",
    username: str = "OceanConnect",
) -> None:
    """Create the OSCAR tables in ``engine`` (dropping earlier ones) and seed them."""
    md = oscar_metadata(lineage)
    md.drop_all(engine)
    md.create_all(engine)
    t = md.tables
    now = datetime(2026, 1, 5, 9, 30)
    role_no = {name: i + 1 for i, name in enumerate(ROLES)}

    def login_row(provider_no: str, user: str, pw: str, pn: str, **flags: int) -> dict[str, object]:
        row: dict[str, object] = {
            "user_name": user,
            "password": hash_password(pw, lineage),
            "provider_no": provider_no,
            "pin": hash_pin(pn, lineage),
            "b_ExpireSet": 0,
            "date_ExpireDate": date(2100, 1, 1),
            "b_LocalLockSet": 1,
            "b_RemoteLockSet": 1,
            "forcePasswordReset": 0,
            "passwordUpdateDate": now,
            "pinUpdateDate": now,
            "lastUpdateUser": "999998",
            "lastUpdateDate": now,
        }
        if lineage is not Lineage.LEGACY:
            row["storageVersion"] = 2
        row.update(flags)
        return row

    with engine.begin() as conn:
        conn.execute(
            insert(t["secRole"]),
            [{"role_no": role_no[r], "role_name": r, "description": r} for r in ROLES],
        )
        conn.execute(
            insert(t["program"]),
            [
                {"id": OSCAR_PROGRAM_ID, "facilityId": 1, "name": "OSCAR", "type": "Bed"},
                {"id": 10035, "facilityId": 1, "name": "Walk-in", "type": "Service"},
            ],
        )
        staff: list[tuple[str, str, str, str, list[str], str | None, str]] = list(STAFF)
        if scenario is not Scenario.FRESH:
            staff.append(
                (
                    number,
                    "Connect",
                    "Ocean",
                    "doctor",
                    ["doctor"],
                    "doctor" if scenario is Scenario.IN_SYNC else None,
                    username,
                )
            )
        for prov, last, first, ptype, roles, primary, user in staff:
            conn.execute(
                insert(t["provider"]).values(
                    provider_no=prov,
                    last_name=last,
                    first_name=first,
                    provider_type=ptype,
                    specialty="",
                    sex="",
                    status="1",
                    lastUpdateDate=now,
                )
            )
            conn.execute(
                insert(t["secUserRole"]),
                [
                    {"provider_no": prov, "role_name": r, "activeyn": 1, "lastUpdateDate": now}
                    for r in roles
                ],
            )
            if primary:
                conn.execute(
                    insert(t["program_provider"]).values(
                        program_id=OSCAR_PROGRAM_ID,
                        provider_no=prov,
                        role_id=role_no[primary],
                    )
                )
            if prov == number:
                if scenario is Scenario.DRIFT:
                    row = login_row(
                        prov, user, password, "0000", b_LocalLockSet=1, forcePasswordReset=1
                    )
                else:
                    row = login_row(prov, user, password, pin, b_LocalLockSet=0)
            else:
                row = login_row(prov, user, f"{user}-Passw0rd!", "1234")
            conn.execute(insert(t["security"]).values(**row))


def ensure_mysql_database(server_url: str, name: str) -> None:
    """Create (or empty) database ``name`` on the MySQL/MariaDB server at ``server_url``."""
    engine = create_engine(server_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
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
