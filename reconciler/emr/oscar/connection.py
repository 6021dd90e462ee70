"""Connecting to an OSCAR database, and saying what went wrong without leaking anything.

The database URL is a secret as a whole: no part of it (user, password, a password's tail
that a stray ``@`` turned into a "host") is ever printed. Errors from the driver are
summarised from their error code and the identifiers they name, never echoed, because
MySQL echoes the values it was given ("Incorrect string value: '\\xF0\\x9F...'").

Engines: :func:`engine_for` makes one for a parsed URL, with the run's
:class:`~reconciler.fleet.Network` timeouts (``connect_timeout``, and ``read_timeout`` for
each read and write) unless the URL's own query parameters say otherwise, a bounded pool
(``pool_size`` connections, no overflow: a checkout waits) that pings a connection before
handing it out, and a session the database makes strict. :func:`server_key` and
:func:`engine_key` say which clinics may share a server and an engine: the adapter keeps one
engine per MySQL/MariaDB server and credentials (the database left out of the URL, chosen
per checkout) and one per SQLite file. :func:`lost_connection` says whether a failure lost
the connection (worth another try for a read; never repeated blindly for a write).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from reconciler.errors import (
    AdapterError,
    EMRConnectionError,
    ReconcilerError,
    RefusedError,
    SecretValueError,
)
from reconciler.fleet import Network
from reconciler.secrets import SecretRef, contains_secret, redact

ENCODE_HINT = (
    "percent-encode special characters in the user name and password "
    "(@ as %40, : as %3A, / as %2F, # as %23, ? as %3F)"
)
# Query parameters PyMySQL accepts that make sense for this tool; anything else is a typo.
MYSQL_QUERY = frozenset(
    {
        "charset",
        "connect_timeout",
        "read_timeout",
        "write_timeout",
        "ssl_ca",
        "ssl_cert",
        "ssl_key",
        "ssl_verify_cert",
        "ssl_verify_identity",
        "ssl_disabled",
        "unix_socket",
    }
)
SQLITE_QUERY = frozenset({"timeout", "uri", "mode", "cache"})


_HOST = re.compile(r"[A-Za-z0-9._\-\[\]:]+")


def _authority(raw: str) -> tuple[str | None, str] | None:
    """(user info, host part) of ``raw``, or None when where the host starts is not certain:
    more than one '@', or a '/', '?' or '#' before the '@' (an unencoded password)."""
    rest = raw.split("://", 1)[1] if "://" in raw else ""
    ats = rest.count("@")
    if ats > 1:
        return None
    if ats == 1:
        userinfo, after = rest.split("@", 1)
        if re.search(r"[/?#]", userinfo):
            return None
        return userinfo, re.split(r"[/?#]", after, maxsplit=1)[0]
    return None, re.split(r"[/?#]", rest, maxsplit=1)[0]


def _host_as_written(raw: str) -> str | None:
    """The host (and port) the user wrote, when the URL leaves no doubt where it starts."""
    authority = _authority(raw)
    if authority is None:
        return None
    host = authority[1]
    return host if _HOST.fullmatch(host or "") else None


def parse_database_url(ref: SecretRef) -> URL:
    """The URL behind ``ref``, checked; errors name the reference, never the value."""
    url = check_url_text(ref.resolve().reveal(), f"database.url {ref.describe()}")
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:") or not Path(path).is_file():
            raise EMRConnectionError(
                f"database.url {ref.describe()}: the SQLite file it names does not exist"
            )
    return url


def check_url_text(raw: str, what: str) -> URL:
    """``raw`` as a URL this adapter can use (no connection made); errors begin with ``what``
    and never hold any part of ``raw`` but, when unambiguous, its host."""
    if "://" not in raw:
        raise SecretValueError(
            f"{what} is not a database URL (expected mysql+pymysql://USER:PASSWORD@HOST/DB "
            "or sqlite:///PATH)"
        )
    if not raw.startswith("sqlite") and _authority(raw) is None:
        raise SecretValueError(
            f"{what}: where the host starts is not certain (more than one '@', or a '/', '?' "
            f"or '#' before the '@'); {ENCODE_HINT}"
        )
    try:
        url = make_url(raw)
    except Exception:  # ArgumentError, or ValueError from a port that is not a number
        host = _host_as_written(raw)
        where = f" (host {host})" if host else ""
        raise SecretValueError(
            f"{what} is not a valid database URL{where}: check the port is a number, and "
            f"{ENCODE_HINT}"
        ) from None
    if url.drivername in ("mysql", "mariadb"):
        url = url.set(drivername="mysql+pymysql")
    backend = url.get_backend_name()
    if backend not in ("mysql", "mariadb", "sqlite"):
        raise SecretValueError(
            f"{what}: OSCAR runs on MySQL/MariaDB (mysql+pymysql://...) or, for demos, "
            f"SQLite (sqlite:///path); got a {backend} URL"
        )
    if backend != "sqlite" and url.get_driver_name() != "pymysql":
        raise SecretValueError(f"{what}: use the PyMySQL driver (mysql+pymysql://...)")
    allowed = SQLITE_QUERY if backend == "sqlite" else MYSQL_QUERY
    unknown = sorted(set(url.query) - allowed)
    if unknown:
        raise SecretValueError(
            f"{what}: unknown query parameter(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    _check_query(url, what)
    if url.port is not None and not 0 < url.port < 65536:
        raise SecretValueError(f"{what}: the port must be between 1 and 65535")
    charset = url.query.get("charset")
    if charset is not None:
        import pymysql.charset  # type: ignore[import-untyped]

        if not isinstance(charset, str) or pymysql.charset.charset_by_name(charset) is None:
            raise SecretValueError(f"{what}: unknown charset (use utf8mb4)")
    return url


_POSITIVE = ("connect_timeout", "read_timeout", "write_timeout", "timeout")
_BOOLEAN = ("ssl_verify_cert", "ssl_verify_identity", "ssl_disabled")
_FILES = ("ssl_ca", "ssl_cert", "ssl_key")
_TRUTH = {"true", "false", "1", "0", "yes", "no"}


def _check_query(url: URL, what: str) -> None:
    """The query's values as the driver will read them: numbers, booleans, files."""
    for key, value in url.query.items():
        text = value if isinstance(value, str) else ",".join(value)
        if key in _POSITIVE:
            number = float if key == "timeout" else int  # SQLite takes fractions, PyMySQL not
            try:
                ok = number(text) > 0
            except ValueError:
                ok = False
            if not ok:
                raise SecretValueError(f"{what}: {key} must be a positive number of seconds")
        elif key in _BOOLEAN and text.lower() not in _TRUTH:
            raise SecretValueError(f"{what}: {key} must be true or false")
        elif key in _FILES and not Path(text).expanduser().is_file():
            raise SecretValueError(f"{what}: the {key} file it names does not exist")


def _strict_session(dbapi_connection: Any, _record: Any) -> None:
    """Make the database refuse what it would otherwise mangle (many OSCAR servers are not
    in strict mode: a non-strict server stores 'Ocean?' for 'Ocean🌊' and cuts long values)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT @@SESSION.sql_mode")
        (mode,) = cursor.fetchone()
        modes = [m for m in str(mode or "").split(",") if m]
        if "STRICT_ALL_TABLES" not in modes:
            modes.append("STRICT_ALL_TABLES")
            cursor.execute("SET SESSION sql_mode = %s", (",".join(modes),))
    finally:
        cursor.close()


def make_engine(
    ref: SecretRef, network: Network | None = None, *, pool_size: int | None = None
) -> Engine:
    """An engine for the database ``ref`` names (its database in the URL): one clinic's."""
    return engine_for(parse_database_url(ref), network, pool_size=pool_size, what=ref.describe())


def server_key(url: URL) -> tuple[str, ...]:
    """The database server ``url`` reaches (``mysql``, host, port), or its SQLite file:
    connections to one server count against one limit, whatever the credentials."""
    if url.get_backend_name() == "sqlite":
        return ("sqlite", str(Path(url.database or "").resolve()))
    return (url.get_backend_name(), (url.host or "localhost").lower(), str(url.port or 3306))


def engine_key(url: URL) -> tuple[str, ...]:
    """Clinics whose URLs give the same key share one engine and its pool: the same server,
    user, password and connection options (the query); the database is not part of it (each
    checkout selects the clinic's own). A SQLite file is its own engine."""
    query = tuple(f"{k}={v if isinstance(v, str) else ','.join(v)}" for k, v in url.query.items())
    if url.get_backend_name() == "sqlite":
        return (*server_key(url), *sorted(query))
    return (*server_key(url), url.username or "", url.password or "", *sorted(query))


def engine_for(
    url: URL, network: Network | None = None, *, pool_size: int | None = None, what: str = ""
) -> Engine:
    """An engine for ``url``: the run's timeouts (the URL's own ``connect_timeout``,
    ``read_timeout``, ``write_timeout`` win), at most ``pool_size`` connections (default:
    the network's ``database_connections``; a checkout waits for one, up to the time a
    connection and its reads may take), each pinged before it is handed out, so one the
    server dropped is replaced rather than failing the clinic that gets it."""
    network = network or Network()
    size = pool_size or network.database_connections
    kwargs: dict[str, Any] = {
        "hide_parameters": True,
        "pool_pre_ping": True,
        "pool_size": size,
        "max_overflow": 0,
        "pool_timeout": checkout_timeout(network),
    }
    if url.get_backend_name() != "sqlite":
        # A server that accepts the connection and never answers must not hang the run.
        kwargs["connect_args"] = {
            key: value
            for key, value in (
                ("connect_timeout", network.connect_timeout),
                ("read_timeout", network.read_timeout),
                ("write_timeout", network.read_timeout),
            )
            if key not in url.query
        }
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:
        where = f"database.url {what}: " if what else ""
        raise AdapterError(f"{where}cannot use it ({type(exc).__name__})") from None
    if url.get_backend_name() != "sqlite":
        event.listen(engine, "connect", _strict_session)
    return engine


def checkout_timeout(network: Network) -> float:
    """How long a clinic waits for a free connection to its database server: as long as
    another clinic's connection may take to connect and make every attempt of a read."""
    return network.connect_timeout + network.read_timeout * network.attempts


# --- errors ---------------------------------------------------------------------------

SIGNAL = 1644  # ER_SIGNAL_EXCEPTION: SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ...
_CONNECTION_CODES = {
    1044: "access denied to the database",
    1045: "access denied (check the user name and password in database.url)",
    1040: "the database server has too many connections",
    1049: "unknown database",
    1053: "the database server is shutting down",
    1203: "the database user has too many connections",
    1927: "the database server ended the connection (it was killed)",
    2003: "cannot connect to the database server",
    2005: "unknown database server host",
    2006: "the database server has gone away",
    2013: "lost the connection to the database server",
    2055: "lost the connection to the database server",
    4031: "the database server ended the idle connection",
}
# A connection that was there and is gone (or a server too busy to take one): a read may be
# tried again on a fresh connection. Not 2003/2005 (nothing there: trying again only waits).
LOST = frozenset({1040, 1053, 1203, 1927, 2006, 2013, 2055, 4031})
_CODES = {
    1046: "no database selected (the database.url names none)",
    1054: "unknown column{column}",
    1062: "a duplicate key{key}",
    1142: "the database user lacks a privilege",
    1146: "a table is missing{table}",
    1205: "lock wait timeout: another session holds these rows",
    1292: "a stored date or number is invalid in column{column} (the database refuses it)",
    1317: "the statement was interrupted (KILL QUERY, or the server is shutting down)",
    1213: "deadlock: another session changed the same rows",
    1364: "column{column} has no default value",
    1366: "a value cannot be stored in column{column} (its character set)",
    1406: "a value is too long for column{column}",
    1452: "a foreign key check failed",
}
_SQLITE_SAFE = re.compile(
    r"^(no such (table|column): [\w.]+|(NOT NULL|UNIQUE|CHECK|FOREIGN KEY) constraint failed"
    r"(: [\w., ]+)?|unable to open database file|disk I/O error|database disk image is "
    r"malformed|attempt to write a readonly database)$"
)


def _identifier(pattern: str, message: str) -> str:
    match = re.search(pattern, message)
    return f" {match.group(1)}" if match else ""


def _code(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def lost_connection(exc: BaseException) -> bool:
    """Did ``exc`` lose the connection (or find the server too busy for one)? Then nothing
    the statement did was kept, and a read may be tried again on a fresh connection."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return _code(exc) in LOST


def summarise(exc: BaseException) -> tuple[str, bool]:
    """(a summary that holds no value the driver echoed, is it a connection problem?)."""
    if isinstance(exc, PoolTimeoutError):
        return "every connection this run keeps to the database is in use (waited too long)", True
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        code, message = args[0], str(args[1]) if len(args) > 1 else ""
        if code == SIGNAL:  # a trigger's own message (SIGNAL): the database's words, not ours
            return f"{_scrub(message)} (MySQL error {code}, raised by a trigger)", False
        if code in _CONNECTION_CODES:
            return f"{_CONNECTION_CODES[code]} (MySQL error {code})", True
        if code in _CODES:
            text = _CODES[code].format(
                column=_identifier(r"(?:column|Field) ['`](\w+)['`]", message),
                key=_identifier(r"for key ['`]([\w.]+)['`]", message),
                table=_identifier(r"Table ['`]([\w.]+)['`]", message),
            )
            return f"{text} (MySQL error {code})", False
        return f"MySQL error {code}", False
    message = str(args[0]) if args else ""
    if message == "database is locked":
        return "the SQLite database is locked by another process", True
    if _SQLITE_SAFE.match(message):
        return message, "unable to open" in message
    if type(orig).__name__ == "IntegrityError" and message:  # RAISE(ABORT, ...) in a trigger
        return f"{_scrub(message)} (raised by a trigger)", False
    return type(orig).__name__, False


def _scrub(message: str) -> str:
    """A trigger's message, shortened; withheld whole when any of the clinic's secrets occurs
    in it in any form, even touching other letters or digits ('PIN1234')."""
    if contains_secret(message) or any(contains_secret(d) for d in _decoded(message)):
        return "(the message is withheld: it holds a secret value)"
    return redact(message[:200])


def _decoded(message: str) -> list[str]:
    """What hex or base64 runs in ``message`` decode to (a trigger can HEX() or TO_BASE64())."""
    out = []
    for run in re.findall(r"[0-9A-Fa-f]{4,}", message):
        with contextlib.suppress(ValueError):
            out.append(bytes.fromhex(run[: len(run) // 2 * 2]).decode("utf-8", "ignore"))
    for run in re.findall(r"[A-Za-z0-9+/]{4,}={0,2}", message):
        with contextlib.suppress(ValueError, binascii.Error):
            padded = run + "=" * (-len(run) % 4)
            out.append(base64.b64decode(padded).decode("utf-8", "ignore"))
    return out


def translated(exc: SQLAlchemyError, doing: str, attempts: int = 1) -> ReconcilerError:
    """The tool's own error for a driver error met while ``doing`` something (summarised,
    never echoed); ``attempts`` > 1 says how many tries were made."""
    summary, connection = summarise(exc)
    if summary.startswith("the SQLite database is locked"):
        return RefusedError(
            f"{summary} (another apply?); nothing was written. Try again when it finishes."
        )
    tries = f", {attempts} attempts" if attempts > 1 else ""
    cls = EMRConnectionError if connection else AdapterError
    return cls(f"OSCAR database error while {doing}: {summary}{tries}")


@contextmanager
def translate(doing: str) -> Iterator[None]:
    """Driver errors -> AdapterError, summarised; the tool's own errors pass through."""
    try:
        yield
    except ReconcilerError:
        raise
    except SQLAlchemyError as exc:
        raise translated(exc, doing) from None
