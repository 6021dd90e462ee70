"""Reaching an OSCAR database: URLs that are wrong in every way a person gets them wrong, driver
errors summarised without the values they echo, and one apply at a time per database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymysql.err import DataError, OperationalError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff
from reconciler.emr.oscar.connection import parse_database_url, summarise
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario
from reconciler.emr.oscar.sql import OscarSqlAdapter
from reconciler.errors import AdapterError, EMRConnectionError, RefusedError, SecretValueError
from reconciler.secrets import SecretRef
from tests.conftest import ROOT, OscarDB, doc

Make = Callable[..., OscarDB]


@pytest.fixture
def adapter() -> Iterator[OscarSqlAdapter]:
    a = OscarSqlAdapter()
    yield a
    a.close()


def url_error(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    monkeypatch.setenv("T_URL", url)
    with pytest.raises(SecretValueError) as info:
        parse_database_url(SecretRef("env", "T_URL"))
    return str(info.value)


@pytest.mark.parametrize(
    ("url", "says", "secret"),
    [
        ("mysql+pymysql://u:dbPW@leak-42@db.example.org/oscar", "more than one '@'", "leak-42"),
        ("mysql+pymysql://u:pw-Zq9@db.example.org:notaport/oscar", "port is a number", "pw-Zq9"),
        ("mysql+pymysql://u:pw-Zq9@db.example.org/oscar?charset=x", "unknown charset", "pw-Zq9"),
        (
            "mysql+pymysql://u:pw-Zq9@db.example.org/oscar?foo=1",
            "unknown query parameter",
            "pw-Zq9",
        ),
        ("postgresql://u:pw-Zq9@db.example.org/oscar", "OSCAR runs on MySQL/MariaDB", "pw-Zq9"),
        ("mysql+mysqldb://u:pw-Zq9@db.example.org/oscar", "use the PyMySQL driver", "pw-Zq9"),
        ("u:pw-Zq9@db.example.org/oscar", "is not a database URL", "pw-Zq9"),
    ],
)
def test_bad_urls_are_clear_and_never_show_the_secret(
    monkeypatch: pytest.MonkeyPatch, url: str, says: str, secret: str
) -> None:
    message = url_error(monkeypatch, url)
    assert says in message and "{env: T_URL}" in message
    assert secret not in message and "u:" not in message


def test_the_host_is_named_only_when_it_is_unambiguous(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "(host db.example.org:notaport)" in url_error(
        monkeypatch, "mysql+pymysql://u:pw@db.example.org:notaport/oscar"
    )
    assert "(host" not in url_error(monkeypatch, "mysql+pymysql://u:p@w@x:notaport/oscar")
    assert "percent-encode" in url_error(monkeypatch, "mysql+pymysql://u:p@w@x/oscar")


def test_driver_errors_are_summarised_without_the_values_they_echo() -> None:
    echo = DataError(
        1366, "Incorrect string value: '\\xF0\\x9F\\x8C\\x8A12' for column `pin` at row 1"
    )
    summary, connection = summarise(DBAPIError("UPDATE security ...", {"pin": "🌊12"}, echo))
    assert (
        summary == "a value cannot be stored in column pin (its character set) (MySQL error 1366)"
    )
    assert "F0" not in summary and not connection
    refused = OperationalError(
        1045, "Access denied for user 'oscar'@'10.0.0.5' (using password: YES)"
    )
    summary, connection = summarise(DBAPIError("connect", None, refused))
    assert connection and "10.0.0.5" not in summary and "oscar'" not in summary
    odd = OperationalError(1234, "something with value 'S3cret!'")
    assert summarise(DBAPIError("x", None, odd)) == ("MySQL error 1234", False)


@pytest.mark.mariadb
def test_a_second_apply_on_the_same_database_is_refused_naming_the_holder(
    make_oscar_db: Make, oscar_env: Callable[[OscarDB], None], adapter: OscarSqlAdapter
) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    oscar_env(db)
    c = build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")
    changes = diff(c, adapter.read(c))
    other = create_engine(db.url)
    name = f"reconciler:{db.url.rsplit('/', 1)[1]}"
    with other.connect() as holder:
        assert holder.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1
        with pytest.raises(RefusedError, match="another reconcile apply") as info:
            adapter.apply(c, changes)
        assert "held by database connection" in str(info.value)
        assert db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [
            (0,)
        ]
    other.dispose()  # the holder's connection ended: the lock went with it
    adapter.apply(c, changes)
    assert diff(c, adapter.read(c)) == ()


@pytest.mark.mariadb
def test_two_applies_racing_one_wins_the_other_is_refused_or_finds_nothing_to_do(
    make_oscar_db: Make, oscar_env: Callable[[OscarDB], None]
) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    oscar_env(db)
    c = build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")
    adapters = [OscarSqlAdapter(), OscarSqlAdapter()]
    plans = [diff(c, a.read(c)) for a in adapters]
    outcomes: list[Any] = [None, None]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait()
        try:
            adapters[i].apply(c, plans[i])
            outcomes[i] = "applied"
        except RefusedError as exc:  # locked, or stale once the winner committed
            outcomes[i] = type(exc).__name__

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in adapters:
        a.close()
    assert sorted(outcomes) == ["RefusedError", "applied"] or sorted(outcomes) == [
        "StalePlanError",
        "applied",
    ]
    assert db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [(1,)]


def test_an_unreachable_server_is_a_connection_error(
    monkeypatch: pytest.MonkeyPatch, adapter: OscarSqlAdapter
) -> None:
    monkeypatch.setenv("T_OSCAR_DB_URL", "mysql+pymysql://root:S3cretDbPw@127.0.0.1:1/oscar")
    monkeypatch.setenv("T_OC_PASSWORD", "x-Passw0rd")
    monkeypatch.setenv("T_OC_PIN", "2468")
    c = build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")
    with pytest.raises(EMRConnectionError, match="cannot connect") as info:
        adapter.read(c)
    assert "S3cretDbPw" not in str(info.value) and "127.0.0.1" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql+pymysql://ocuser:Secret/1@db.example.org:33o6/oscar", "not certain"),
        ("mysql+pymysql://ocuser:Secret/1@[fe80::1/oscar", "not certain"),
        ("mysql+pymysql://ocuser:pa@ssXY9?zz@db.example.org/oscar", "not certain"),
        ("mysql+pymysql://ocuser:Sec#ret@db.example.org/oscar", "not certain"),
        ("mysql+pymysql://u:Secret1@db.example.org/oscar?connect_timeout=abc", "positive number"),
        ("mysql+pymysql://u:Secret1@db.example.org/oscar?read_timeout=-5", "positive number"),
        ("mysql+pymysql://u:Secret1@db.example.org/oscar?ssl_ca=/nonexist/x.pem", "ssl_ca file"),
        ("mysql+pymysql://u:Secret1@db.example.org/oscar?ssl_verify_cert=maybe", "true or false"),
        ("mysql+pymysql://u:Secret1@db.example.org:99999/oscar", "between 1 and 65535"),
        ("sqlite:////tmp/x.db?timeout=abc", "positive number"),
    ],
)
def test_urls_whose_host_or_values_are_wrong_never_show_the_user_or_password(
    monkeypatch: pytest.MonkeyPatch, url: str, says: str
) -> None:
    message = url_error(monkeypatch, url)
    assert says in message
    for piece in ("ocuser", "Secret", "ssXY9", "Sec#ret"):
        assert piece not in message


def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port that accepts the connection and says nothing must not hang the run."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port = server.getsockname()[1]
    monkeypatch.setenv("T_URL", f"mysql+pymysql://u:pw@127.0.0.1:{port}/db?read_timeout=1")
    from reconciler.emr.oscar.connection import make_engine

    engine = make_engine(SecretRef("env", "T_URL"))
    try:
        with pytest.raises(Exception) as info:  # the driver's error, translated by the adapter
            engine.connect()
        assert (
            "timed out" in str(info.value).lower() or "lost connection" in str(info.value).lower()
        )
    finally:
        engine.dispose()
        server.close()


def test_two_applies_on_one_sqlite_database_do_not_both_write(
    make_oscar_db: Make, oscar_env: Callable[[OscarDB], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_oscar_db("sqlite", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    oscar_env(db)
    monkeypatch.setenv("T_OSCAR_DB_URL", db.url + "?timeout=0.3")
    c = build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")
    first, second = OscarSqlAdapter(), OscarSqlAdapter()
    plans = [diff(c, first.read(c)), diff(c, second.read(c))]
    holder = create_engine(db.url).raw_connection()
    try:
        holder.execute("BEGIN IMMEDIATE")  # another run is writing
        with pytest.raises(RefusedError, match="locked by another process"):
            second.apply(c, plans[1])
        holder.rollback()
        first.apply(c, plans[0])
        with pytest.raises(RefusedError):  # the plan it was given no longer holds
            second.apply(c, plans[1])
    finally:
        holder.close()
        first.close()
        second.close()
    assert db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [(1,)]


@pytest.mark.mariadb
def test_a_trigger_message_holding_a_secret_is_withheld(
    make_oscar_db: Make, oscar_env: Callable[[OscarDB], None], adapter: OscarSqlAdapter
) -> None:
    """A trigger that echoes the new PIN, glued to other characters ('PIN2468x')."""
    db = make_oscar_db("mariadb", Lineage.LEGACY)  # the PIN is stored as entered
    db.seed(Scenario.DRIFT)
    oscar_env(db)
    db.execute(
        "CREATE TRIGGER echo BEFORE UPDATE ON security FOR EACH ROW BEGIN "
        "DECLARE msg VARCHAR(128) DEFAULT CONCAT('new pin is PIN', NEW.pin, 'x'); "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg; END"
    )
    c = build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")
    with pytest.raises(AdapterError) as info:
        adapter.apply(c, diff(c, adapter.read(c)))
    assert "withheld" in str(info.value) and "2468" not in str(info.value)


@pytest.mark.mariadb
@pytest.mark.parametrize("encode", ["HEX", "TO_BASE64"])
def test_a_trigger_message_holding_an_encoded_secret_is_withheld(
    make_oscar_db: Make,
    oscar_env: Callable[[OscarDB], None],
    adapter: OscarSqlAdapter,
    encode: str,
) -> None:
    db = make_oscar_db("mariadb", Lineage.LEGACY)
    db.seed(Scenario.DRIFT)
    oscar_env(db)
    db.execute(
        "CREATE TRIGGER echo BEFORE UPDATE ON security FOR EACH ROW BEGIN "
        f"DECLARE msg VARCHAR(128) DEFAULT CONCAT('pin ', {encode}(NEW.pin)); "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg; END"
    )
    c = build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")
    with pytest.raises(AdapterError) as info:
        adapter.apply(c, diff(c, adapter.read(c)))
    assert "withheld" in str(info.value)
    assert "32343638" not in str(info.value) and "MjQ2OA" not in str(info.value)
