"""The OSCAR tables the adapter reads and writes, and what it learns about one database.

Only the columns the adapter touches are named (SQLAlchemy ``table()``/``column()``), so
the same statements run on every lineage; what differs between lineages (``storageVersion``,
``usingMfa``, the audit tables) is detected per database, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, inspect, text
from sqlalchemy import column as col
from sqlalchemy import table as tbl

from reconciler.emr.oscar.passwords import Lineage

REQUIRED_TABLES = ("provider", "security", "secRole", "secUserRole", "program", "program_provider")
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
    col("lastUpdateUser"),
    col("lastUpdateDate"),
)
SECURITY_COLUMNS = (
    "security_no",
    "user_name",
    "password",
    "provider_no",
    "pin",
    "b_ExpireSet",
    "date_ExpireDate",
    "b_LocalLockSet",
    "b_RemoteLockSet",
    "forcePasswordReset",
    "passwordUpdateDate",
    "pinUpdateDate",
    "lastUpdateUser",
    "lastUpdateDate",
)
OPTIONAL_SECURITY_COLUMNS = (
    "storageVersion",
    "usingMfa",
    "mfaSecret",
    "oneIdKey",
    "oneIdEmail",
    "delegateOneIdEmail",
)
security_t = tbl("security", *(col(c) for c in SECURITY_COLUMNS + OPTIONAL_SECURITY_COLUMNS))
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
log_t = tbl(
    "log",
    col("dateTime"),
    col("provider_no"),
    col("action"),
    col("content"),
    col("contentId"),
    col("ip"),
    col("data"),
    col("securityId"),
)
recyclebin_t = tbl(
    "recyclebin",
    col("provider_no"),
    col("updatedatetime"),
    col("table_name"),
    col("keyword"),
    col("table_content"),
)


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    name: str
    length: int | None  # characters; None: no limit the adapter knows of
    charset: str | None  # MySQL character set (latin1, utf8mb3, utf8mb4); None: any


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    """What one OSCAR database is: its lineage and the shape of the tables the adapter uses."""

    lineage: Lineage
    tables: frozenset[str]
    columns: dict[str, dict[str, ColumnInfo]] = field(default_factory=dict)  # table -> name

    @property
    def has_storage_version(self) -> bool:
        return "storageVersion" in self.columns.get("security", {})

    @property
    def has_using_mfa(self) -> bool:
        return "usingMfa" in self.columns.get("security", {})

    def has_column(self, table: str, name: str) -> bool:
        return name in self.columns.get(table, {})

    def column(self, table: str, name: str) -> ColumnInfo | None:
        return self.columns.get(table, {}).get(name)

    def charset(self, table: str, name: str) -> str | None:
        info = self.column(table, name)
        return info.charset if info else None


def _length(sql_type: Any) -> int | None:
    length = getattr(sql_type, "length", None)
    return length if isinstance(length, int) else None


def inspect_database(conn: Connection, wanted: tuple[str, ...]) -> DatabaseFacts:
    """Tables present, and for each of ``wanted`` that exists: its columns' lengths and
    character sets (MySQL/MariaDB) so values can be checked before anything is written."""
    inspector = inspect(conn)
    present = frozenset(inspector.get_table_names())
    charsets: dict[tuple[str, str], str] = {}
    if conn.dialect.name != "sqlite":
        rows = conn.execute(
            text(
                "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                "AND CHARACTER_SET_NAME IS NOT NULL AND TABLE_NAME IN :tables"
            ).bindparams(bindparam("tables", expanding=True)),
            {"tables": list(wanted)},
        )
        charsets = {(str(t), str(c)): str(cs) for t, c, cs in rows}
    columns: dict[str, dict[str, ColumnInfo]] = {}
    for table in wanted:
        if table not in present:
            continue
        columns[table] = {
            c["name"]: ColumnInfo(c["name"], _length(c["type"]), charsets.get((table, c["name"])))
            for c in inspector.get_columns(table)
        }
    security = set(columns.get("security", {}))
    return DatabaseFacts(lineage=Lineage.from_columns(security), tables=present, columns=columns)


# MySQL character sets -> a Python codec that holds exactly what the column can hold.
_CODECS = {
    "latin1": "cp1252",  # MySQL's latin1 is Windows-1252
    "ascii": "ascii",
    "utf8mb3": "utf8mb3",
    "utf8": "utf8mb3",
    "utf8mb4": "utf-8",
    "ucs2": "utf8mb3",
    "utf16": "utf-8",
    "utf32": "utf-8",
}


def fits_charset(value: str, charset: str | None) -> bool:
    """Can a column of ``charset`` store ``value`` without mangling it?"""
    if charset is None:
        return True
    codec = _CODECS.get(charset.lower())
    if codec == "utf8mb3":  # the Basic Multilingual Plane only: no emoji
        return all(ord(ch) <= 0xFFFF for ch in value)
    if codec is None:
        return value.isascii()  # an unusual charset: only what every charset holds
    try:
        value.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def lossy(value: str, charset: str | None) -> str:
    """``value`` as a non-strict MySQL would have stored it in a ``charset`` column."""
    if charset is None or fits_charset(value, charset):
        return value
    return "".join(ch if fits_charset(ch, charset) else "?" for ch in value)
