"""One apply per OSCAR database at a time: two CI jobs, two people, six at once.

Six applies of one clinic started together, as six threads and as six processes, on SQLite and
on MariaDB: exactly one writes, every other is refused (exit 4) naming the holder. A run killed
(SIGKILL) while it holds the lock does not leave it held: the next apply proceeds. Two clinics
of one run on one database write one after the other, not refused.

Run as a module (``python -m tests.emr.oscar.test_fleet_locks MODE``), this file is the other
process: ``hold`` applies and stops for good after its first write; ``race`` plans, waits for
a go file, then applies.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from reconciler.cli import cli
from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario
from reconciler.emr.oscar.sql import LOCK_SUFFIX, OscarSqlAdapter, lock_name
from reconciler.emr.oscar.writes import Writer
from reconciler.errors import RefusedError
from reconciler.model import Clinic
from reconciler.plan import Change
from tests.conftest import OC_PASSWORD, OC_PIN, ROOT, OscarDB, WriteClinic, doc

Make = Callable[..., OscarDB]
BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
WRITE = Writer.write
HOLD = 0.25  # seconds each write takes in a race: the winner holds the lock ~1 s
APPLIERS = 6


def clinic(**changes: Any) -> Clinic:
    return build_clinic(YamlDocument("t.yaml", doc("oscar", **changes)), ROOT / "t.yaml")


def slow_writes(self: Writer, change: Change) -> None:
    WRITE(self, change)
    time.sleep(HOLD)


def oscar_rows(db: OscarDB) -> tuple[object, ...]:
    """How many of each OceanConnect row there are: one apply's worth, never two."""
    return tuple(
        db.execute(sql)[0][0]
        for sql in (
            "SELECT COUNT(*) FROM provider WHERE provider_no = '999990'",
            "SELECT COUNT(*) FROM secUserRole WHERE provider_no = '999990'",
            "SELECT COUNT(*) FROM program_provider WHERE provider_no = '999990'",
            "SELECT COUNT(*) FROM security WHERE provider_no = '999990'",
            "SELECT COUNT(*) FROM log",
        )
    )


ONE_APPLY = (1, 1, 1, 1, 4)  # the rows one apply of a fresh OSCAR 15+ database writes


@pytest.fixture
def fresh(
    request: pytest.FixtureRequest,
    make_oscar_db: Make,
    oscar_env: Callable[[OscarDB], None],
    monkeypatch: pytest.MonkeyPatch,
) -> OscarDB:
    db = make_oscar_db(request.param, Lineage.PBKDF2)
    db.seed(Scenario.FRESH)
    oscar_env(db)
    return db


def names_the_holder(message: str, backend: str, pids: set[int]) -> bool:
    if not message.startswith("another reconcile apply is writing this OSCAR database ("):
        return False
    if backend == "sqlite":
        host = socket.gethostname()
        return any(f"(pid {pid} on {host} since " in message for pid in pids)
    return "held by database connection " in message and " by root from " in message


def assert_one_wrote(results: list[str], db: OscarDB, pids: set[int]) -> None:
    """Exactly one applied; every other was refused (exit 4), by the lock naming its holder
    (or, if it came after the winner had finished, by its plan being stale)."""
    assert results.count("applied") == 1, results
    losers = [r for r in results if r != "applied"]
    assert all(r.startswith(("RefusedError: ", "StalePlanError: ")) for r in losers), losers
    named = [r for r in losers if names_the_holder(r.split(": ", 1)[1], db.backend, pids)]
    assert named and all(n.startswith("RefusedError") for n in named), losers
    assert oscar_rows(db) == ONE_APPLY


@pytest.mark.parametrize("fresh", BACKENDS, indirect=True)
def test_six_applies_in_threads_exactly_one_writes(
    fresh: OscarDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six runs in one process (six adapters, as six `reconcile apply` would have)."""
    c = clinic()
    adapters = [OscarSqlAdapter() for _ in range(APPLIERS)]
    plans = [diff(c, a.read(c)) for a in adapters]
    monkeypatch.setattr(Writer, "write", slow_writes)
    start = threading.Barrier(APPLIERS)
    results = [""] * APPLIERS

    def apply(i: int) -> None:
        start.wait()
        try:
            adapters[i].apply(c, plans[i])
            results[i] = "applied"
        except RefusedError as exc:
            results[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=apply, args=(i,)) for i in range(APPLIERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in adapters:
        a.close()
    assert_one_wrote(results, fresh, {os.getpid()})
    assert sum(r.startswith("RefusedError") for r in results) >= APPLIERS - 2  # not mere luck


def child(mode: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.emr.oscar.test_fleet_locks", mode, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def env_for(db: OscarDB) -> dict[str, str]:
    return {"T_OSCAR_DB_URL": db.url, "T_OC_PASSWORD": OC_PASSWORD, "T_OC_PIN": OC_PIN}


@pytest.mark.parametrize("fresh", BACKENDS, indirect=True)
def test_six_applies_in_processes_exactly_one_writes(fresh: OscarDB, tmp_path: Path) -> None:
    """Six processes (six CI jobs) plan, then apply at the same moment."""
    go = tmp_path / "go"
    children = [child("race", str(go), env=env_for(fresh)) for _ in range(APPLIERS)]
    try:
        for p in children:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == "ready", (line, p.stderr.read() if p.stderr else "")
        go.touch()
        results = []
        for p in children:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for p in children:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert_one_wrote(results, fresh, {p.pid for p in children})


def wait_for_line(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line, p.stderr.read() if p.stderr else "no output"
    return line.strip()


@pytest.mark.parametrize("fresh", BACKENDS, indirect=True)
def test_a_run_killed_while_holding_the_lock_does_not_leave_it_held(
    fresh: OscarDB, write_clinic: WriteClinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = fresh
    before = oscar_rows(db)
    path = write_clinic(doc("oscar"), "riverside.yaml")
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))

    def apply() -> Result:
        return CliRunner().invoke(cli, ["apply", str(path), "--auto-approve"])

    holder = child("hold", env=env_for(db))
    try:
        said = wait_for_line(holder)  # "holding <connection id>": mid-transaction, lock held
        assert said.startswith("holding "), said
        refused = apply()
        assert refused.exit_code == 4, refused.output
        if db.backend == "sqlite":
            who = f"(pid {holder.pid} on {socket.gethostname()} since "
            assert Path(db.url.removeprefix("sqlite:///") + LOCK_SUFFIX).exists()
        else:
            who = f"(held by database connection {said.split()[1]} by root from 127.0.0.1)"
        assert f"another reconcile apply is writing this OSCAR database {who}" in refused.output
        assert "Try again when it finishes." in refused.output
    finally:
        holder.send_signal(signal.SIGKILL)  # no finally, no atexit, no goodbye to the server
        holder.communicate()
    if db.backend == "mariadb":
        name = lock_name(db.url.rsplit("/", 1)[1])
        for _ in range(500):
            if db.execute("SELECT IS_FREE_LOCK(:n)", n=name) == [(1,)]:
                break
            time.sleep(0.01)
    assert oscar_rows(db) == before  # the killed run's first write was rolled back
    applied = apply()
    assert applied.exit_code == 0, applied.output
    assert "verified: live state matches the clinic file" in applied.output
    assert oscar_rows(db) == ONE_APPLY
    if db.backend == "sqlite":  # a finished apply removes its lock file (the dead one's too)
        assert not Path(db.url.removeprefix("sqlite:///") + LOCK_SUFFIX).exists()


@pytest.mark.parametrize("fresh", BACKENDS, indirect=True)
def test_two_clinics_of_one_run_on_one_database_write_one_after_the_other(
    fresh: OscarDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clinic files on one OSCAR database (two OceanConnect providers): within one run
    the second waits for the first rather than being refused."""
    first = clinic()
    second = clinic(
        clinic__id="riverside-east",
        ocean_connect__provider__number="999991",
        ocean_connect__login__username="OceanEast",
    )
    adapter = OscarSqlAdapter()
    plans = {c.id: diff(c, adapter.read(c)) for c in (first, second)}
    monkeypatch.setattr(Writer, "write", slow_writes)
    errors: list[BaseException] = []

    def apply(c: Clinic) -> None:
        try:
            adapter.apply(c, plans[c.id])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=apply, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert diff(first, adapter.read(first)) == () and diff(second, adapter.read(second)) == ()
    finally:
        adapter.close()


@pytest.mark.mariadb
def test_the_named_lock_goes_with_its_connection_not_with_the_pool(
    make_oscar_db: Make, oscar_env: Callable[[OscarDB], None]
) -> None:
    """A pooled connection that held the lock for one apply holds nothing when it is handed
    to the next clinic: every apply releases it before giving the connection back."""
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    oscar_env(db)
    c = clinic()
    adapter = OscarSqlAdapter()
    try:
        adapter.apply(c, diff(c, adapter.read(c)))
        name = lock_name(db.url.rsplit("/", 1)[1])
        assert db.execute("SELECT IS_FREE_LOCK(:n)", n=name) == [(1,)]
        with adapter._engine(c).connect() as conn:  # the very connection the apply used
            assert conn.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar() is None
    finally:
        adapter.close()


def test_lock_names_stay_within_64_characters_and_apart() -> None:
    assert lock_name("oscar_clinic") == "reconciler:oscar_clinic"
    long_a, long_b = "x" * 60 + "a", "x" * 60 + "b"
    assert len(lock_name(long_a)) == 64 and lock_name(long_a) != lock_name(long_b)


# --- the other process ------------------------------------------------------------------


def _hold() -> None:
    """Apply, and stop for good after the first write: the lock and the transaction held."""
    c = clinic()
    adapter = OscarSqlAdapter()
    changes = diff(c, adapter.read(c))

    def write(self: Writer, change: Change) -> None:
        WRITE(self, change)
        held_by = "file"
        if self.conn.dialect.name != "sqlite":
            held_by = str(self.conn.execute(text("SELECT CONNECTION_ID()")).scalar())
        print(f"holding {held_by}", flush=True)
        while True:
            time.sleep(60)

    Writer.write = write  # type: ignore[method-assign]
    adapter.apply(c, changes)


def _race(go: Path) -> None:
    """Plan; when ``go`` appears, apply (each write a little slow); print what happened."""
    c = clinic()
    adapter = OscarSqlAdapter()
    changes = diff(c, adapter.read(c))
    Writer.write = slow_writes  # type: ignore[method-assign]
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.001)
    try:
        adapter.apply(c, changes)
        result = "applied"
    except RefusedError as exc:
        result = f"{type(exc).__name__}: {exc}"
    finally:
        adapter.close()
    print(json.dumps(result), flush=True)


def _main(argv: list[str]) -> None:
    if argv[0] == "hold":
        _hold()
    elif argv[0] == "race":
        _race(Path(argv[1]))


if __name__ == "__main__":
    _main(sys.argv[1:])
