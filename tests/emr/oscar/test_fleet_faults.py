"""Faults while a fleet runs, on a real MariaDB: a connection the server drops in the middle of
an apply transaction, or of a read, or a server that never answers.

A write that lost its connection leaves the database exactly as it was (the server rolled the
transaction back), fails its clinic with exit 3 and a clear message, and running apply again
converges. A read that lost its connection is tried again on a fresh one.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Connection, text

from reconciler.cli import cli
from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario
from reconciler.emr.oscar.sql import OscarSqlAdapter
from reconciler.emr.oscar.writes import Writer
from reconciler.errors import EMRConnectionError
from reconciler.fleet import Network
from reconciler.model import Clinic
from reconciler.plan import Change
from tests.conftest import OC_PASSWORD, OC_PIN, ROOT, OscarDB, WriteClinic, doc

Make = Callable[..., OscarDB]
Point = Callable[[OscarDB], None]
Run = Callable[..., Result]
WRITE = Writer.write


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def dump(db: OscarDB) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table: what "exactly as it was" is compared on."""
    tables = [str(t) for (t,) in db.execute("SHOW TABLES")]
    return {t: sorted(db.execute(f"SELECT * FROM `{t}`"), key=repr) for t in tables}


def connection_id(conn: Connection) -> int:
    return int(conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())


def kill(db: OscarDB, conn: int) -> None:
    """KILL CONNECTION from a second session, and wait until the server has ended it."""
    db.execute(f"KILL CONNECTION {conn}")
    for _ in range(200):
        if not db.execute("SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = :i", i=conn):
            return
        time.sleep(0.01)
    raise AssertionError(f"connection {conn} outlived KILL")


def kill_writer_after(monkeypatch: pytest.MonkeyPatch, db: OscarDB, writes: int) -> list[int]:
    """Let the apply transaction make ``writes`` writes, then kill its connection."""
    original = WRITE
    done: list[int] = []
    killed: list[int] = []

    def write(self: Writer, change: Change) -> None:
        original(self, change)
        done.append(1)
        if len(done) == writes and not killed:
            killed.append(connection_id(self.conn))
            kill(db, killed[0])

    monkeypatch.setattr(Writer, "write", write)
    return killed


@pytest.fixture
def fresh_clinic(
    make_oscar_db: Make, oscar_env: Point, write_clinic: WriteClinic
) -> Iterator[tuple[OscarDB, Path]]:
    """A MariaDB OSCAR that needs four changes (provider, role, primary role, login)."""
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.FRESH)
    oscar_env(db)
    yield db, write_clinic(doc("oscar"), "riverside.yaml")


@pytest.mark.mariadb
def test_a_connection_killed_between_two_writes_leaves_the_database_as_it_was(
    run: Run, fresh_clinic: tuple[OscarDB, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, path = fresh_clinic
    before = dump(db)
    killed = kill_writer_after(monkeypatch, db, writes=1)
    result = run("apply", str(path), "--auto-approve")
    assert killed, "the hook never ran"
    assert result.exit_code == 3, result.output
    assert (
        "OSCAR database error while applying changes (rolled back, nothing written): "
        in result.output
    )
    assert "(MySQL error 2013)" in result.output or "(MySQL error 1927)" in result.output
    assert "Traceback" not in result.output and OC_PASSWORD not in result.output
    assert dump(db) == before  # not one row of the first write survived
    monkeypatch.setattr(Writer, "write", WRITE)  # the connection stays up from now on
    run_again = run("apply", str(path), "--auto-approve")
    assert run_again.exit_code == 0, run_again.output
    assert "verified: live state matches the clinic file" in run_again.output
    plan = run("plan", str(path), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output


@pytest.mark.mariadb
def test_a_connection_killed_before_commit_says_the_outcome_is_for_a_plan_to_tell(
    run: Run, fresh_clinic: tuple[OscarDB, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the last write: the COMMIT itself finds the connection gone. The server
    rolled back, but from the client's side that cannot be told from a lost answer to a
    COMMIT that took, so the message says so, and the next plan shows which it was."""
    db, path = fresh_clinic
    before = dump(db)
    kill_writer_after(monkeypatch, db, writes=4)
    result = run("apply", str(path), "--auto-approve")
    assert result.exit_code == 3, result.output
    assert "while committing changes (the server may or may not have committed them" in (
        result.output
    )
    assert dump(db) == before
    monkeypatch.setattr(Writer, "write", WRITE)
    assert run("apply", str(path), "--auto-approve").exit_code == 0


def clinic_for(db: OscarDB, monkeypatch: pytest.MonkeyPatch) -> Clinic:
    monkeypatch.setenv("T_OSCAR_DB_URL", db.url)
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)
    return build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")


@pytest.mark.mariadb
def test_a_read_whose_connection_is_killed_is_tried_again_on_a_fresh_one(
    make_oscar_db: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    c = clinic_for(db, monkeypatch)
    slept: list[float] = []
    adapter = OscarSqlAdapter(Network(attempts=3), sleep=slept.append)
    expected = diff(c, adapter.read(c))  # warm: the pool holds one connection now
    original = OscarSqlAdapter._snapshot
    used: list[int] = []

    def snapshot(self: OscarSqlAdapter, conn: Connection, *args: Any, **kwargs: Any) -> Any:
        used.append(connection_id(conn))
        if len(used) == 1:  # the server drops it between two of the read's queries
            kill(db, used[0])
        return original(self, conn, *args, **kwargs)

    monkeypatch.setattr(OscarSqlAdapter, "_snapshot", snapshot)
    try:
        assert diff(c, adapter.read(c)) == expected
    finally:
        adapter.close()
    assert len(used) == 2 and used[0] != used[1]  # a second attempt, on a new connection
    assert len(slept) == 1 and 0 < slept[0] <= OscarSqlAdapter.backoff


@pytest.mark.mariadb
def test_an_idle_pooled_connection_the_server_dropped_is_never_handed_out(
    make_oscar_db: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    c = clinic_for(db, monkeypatch)
    slept: list[float] = []
    adapter = OscarSqlAdapter(Network(attempts=1), sleep=slept.append)  # no second try
    try:
        adapter.read(c)
        with adapter._engine(c).connect() as conn:  # the pooled connection the read used
            idle = connection_id(conn)
        kill(db, idle)  # the server drops it while it sits in the pool (wait_timeout, restart)
        adapter.read(c)  # pinged, found dead, replaced: the read does not fail
        with adapter._engine(c).connect() as conn:
            assert connection_id(conn) != idle
    finally:
        adapter.close()
    assert slept == []


def black_hole() -> tuple[socket.socket, int]:
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server, server.getsockname()[1]


def test_a_silent_server_is_given_the_runs_read_timeout_and_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's timeouts apply (not a fixed 30 s), a URL's own ``read_timeout`` wins, and a
    read that timed out is tried ``attempts`` times in all, on a new connection each time."""
    server, port = black_hole()
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)
    c = build_clinic(YamlDocument("t.yaml", doc("oscar")), ROOT / "t.yaml")
    slept: list[float] = []
    try:
        monkeypatch.setenv("T_OSCAR_DB_URL", f"mysql+pymysql://u:S3cretPw@127.0.0.1:{port}/db")
        adapter = OscarSqlAdapter(Network(read_timeout=0.2, attempts=3), sleep=slept.append)
        started = time.monotonic()
        with pytest.raises(EMRConnectionError) as info:
            adapter.read(c)
        took = time.monotonic() - started
        adapter.close()
        assert "lost the connection to the database server (MySQL error 2013), 3 attempts" in (
            str(info.value)
        )
        assert "S3cretPw" not in str(info.value) and str(port) not in str(info.value)
        assert len(slept) == 2 and took < 3 * 0.2 + 1.5
        monkeypatch.setenv(
            "T_OSCAR_DB_URL", f"mysql+pymysql://u:S3cretPw@127.0.0.1:{port}/db?read_timeout=1"
        )
        adapter = OscarSqlAdapter(Network(read_timeout=0.2, attempts=1))
        started = time.monotonic()
        with pytest.raises(EMRConnectionError):
            adapter.read(c)
        assert time.monotonic() - started >= 0.9  # the URL's 1 s, not the run's 0.2 s
        adapter.close()
    finally:
        server.close()
