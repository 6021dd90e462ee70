"""The OSCAR adapter's connections, shared by many clinics and threads.

One engine per MySQL/MariaDB server and credentials, shared by every clinic there, each piece
of work selecting its clinic's database on the connection it checks out; never more
connections than the network allows, however many threads ask; one engine per SQLite file;
what the adapter learns of a database's tables is what SQLAlchemy's reflection would say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import Pool

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario
from reconciler.emr.oscar.sql import OscarSqlAdapter, mysql_facts
from reconciler.emr.oscar.tables import REQUIRED_TABLES, inspect_database
from reconciler.emr.oscar.writes import AUDIT_TABLES
from reconciler.fleet import Network
from reconciler.model import Clinic
from reconciler.plan import Action
from tests.conftest import OC_PASSWORD, OC_PIN, ROOT, OscarDB, doc

Make = Callable[..., OscarDB]


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)


def clinic_on(db: OscarDB, monkeypatch: pytest.MonkeyPatch, index: int, url: str = "") -> Clinic:
    """Clinic ``index`` of a fleet, on ``db`` (its URL in a variable of its own)."""
    data = doc("oscar", clinic__id=f"clinic-{index}")
    data["emr"]["database"]["url"] = {"env": f"T_POOL_URL_{index}"}
    data["ocean_connect"]["login"]["username"] = db.username
    monkeypatch.setenv(f"T_POOL_URL_{index}", url or db.url)
    return build_clinic(YamlDocument("t.yaml", data), ROOT / "t.yaml")


class Checkouts:
    """Connections opened, and checked out at once, by every pool while installed."""

    def __init__(self) -> None:
        self.opened = 0
        self.out = 0
        self.peak = 0
        self._lock = threading.Lock()

    def _connect(self, *args: Any) -> None:
        with self._lock:
            self.opened += 1

    def _checkout(self, *args: Any) -> None:
        with self._lock:
            self.out += 1
            self.peak = max(self.peak, self.out)

    def _checkin(self, *args: Any) -> None:
        with self._lock:
            self.out -= 1

    def __enter__(self) -> Checkouts:
        event.listen(Pool, "connect", self._connect)
        event.listen(Pool, "checkout", self._checkout)
        event.listen(Pool, "checkin", self._checkin)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Pool, "connect", self._connect)
        event.remove(Pool, "checkout", self._checkout)
        event.remove(Pool, "checkin", self._checkin)


@pytest.fixture
def three_databases(make_oscar_db: Make) -> list[OscarDB]:
    """Three OSCARs on the one MariaDB server, each in another state."""
    dbs = [make_oscar_db("mariadb", lineage) for lineage in Lineage]
    for db, scenario in zip(dbs, (Scenario.FRESH, Scenario.DRIFT, Scenario.IN_SYNC), strict=True):
        db.seed(scenario)
    return dbs


def expected_actions(db: OscarDB) -> list[Action]:
    """What a plan of the clinic on ``db`` holds (fresh: everything; drift; in sync)."""
    return {
        Lineage.LEGACY: [Action.CREATE, Action.GRANT, Action.CREATE, Action.CREATE],
        Lineage.PBKDF2: [Action.CREATE, Action.UPDATE],
        Lineage.OPENO: [],
    }[db.lineage]


@pytest.mark.mariadb
def test_clinics_on_one_server_share_one_engine_each_reading_its_own_database(
    three_databases: list[OscarDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection (the network allows one) hops between three databases, from six
    threads at once: each read sees its own clinic's database, never the last one used."""
    clinics = [clinic_on(db, monkeypatch, i) for i, db in enumerate(three_databases)]
    adapter = OscarSqlAdapter(Network(database_connections=1))
    seen: list[tuple[int, list[Action]]] = []
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(5):
                i = (worker + round_) % len(clinics)
                actions = [ch.action for ch in diff(clinics[i], adapter.read(clinics[i]))]
                seen.append((i, actions))
        except BaseException as exc:
            failures.append(exc)

    try:
        with Checkouts() as pool:
            threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert failures == []
        assert len({id(adapter._engine(c)) for c in clinics}) == 1  # one engine for the server
    finally:
        adapter.close()
    assert len(seen) == 30
    for i, actions in seen:
        assert actions == expected_actions(three_databases[i]), (i, actions)
    assert pool.opened == 1 and pool.peak == 1


@pytest.mark.mariadb
def test_no_more_connections_than_the_network_allows_however_many_threads_ask(
    make_oscar_db: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve threads, twelve clinics (on two databases), three connections: the others wait
    for one; all are read."""
    dbs = [make_oscar_db("mariadb", Lineage.PBKDF2) for _ in range(2)]
    for db in dbs:
        db.seed(Scenario.DRIFT)
    clinics = [clinic_on(dbs[i % 2], monkeypatch, i) for i in range(12)]
    adapter = OscarSqlAdapter(Network(database_connections=3))
    start = threading.Barrier(len(clinics))
    done: list[str] = []

    def read(c: Clinic) -> None:
        start.wait()
        adapter.read(c)
        done.append(c.id)

    try:
        with Checkouts() as pool:
            threads = [threading.Thread(target=read, args=(c,)) for c in clinics]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        adapter.close()
    assert sorted(done) == sorted(c.id for c in clinics)
    assert pool.peak == 3 and pool.opened == 3


@pytest.mark.mariadb
def test_different_credentials_on_one_server_share_its_limit_and_keep_nothing_idle(
    make_oscar_db: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    name = db.url.rsplit("/", 1)[1]
    user = f"{name[-20:]}_u"
    db.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'Other-Pw-9'")
    try:
        db.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'%'")
        first = clinic_on(db, monkeypatch, 0)
        other_url = f"mysql+pymysql://{user}:Other-Pw-9@127.0.0.1:3306/{name}"
        second = clinic_on(db, monkeypatch, 1, url=other_url)
        adapter = OscarSqlAdapter(Network(database_connections=2))
        try:
            adapter.read(first)  # one server, one engine: its connection kept for later
            assert open_connections(db, user, (1, 0)) == (1, 0)
            adapter.read(second)  # a second engine there: the first's idle one is closed
            assert adapter._engine(first) is not adapter._engine(second)
            assert open_connections(db, user, (0, 0)) == (0, 0)
            adapter.read(first)
            assert open_connections(db, user, (0, 0)) == (0, 0)
        finally:
            adapter.close()
    finally:
        db.execute(f"DROP USER '{user}'@'%'")


def open_connections(db: OscarDB, user: str, settles_at: tuple[int, int]) -> tuple[int, int]:
    """(root's connections to ``db``'s database, ``user``'s), the server's count (less the
    connection asking), once it ``settles_at`` that or after 2 s: a connection the client
    closed leaves the list a moment later."""
    name = db.url.rsplit("/", 1)[1]
    for _ in range(200):
        rows = db.execute(
            "SELECT USER, COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE (DB = :db OR USER = :u) AND ID <> CONNECTION_ID() GROUP BY USER",
            db=name,
            u=user,
        )
        counts = {str(u): int(n) for u, n in rows}  # type: ignore[call-overload]
        found = counts.get("root", 0), counts.get(user, 0)
        if found == settles_at:
            break
        time.sleep(0.01)
    return found


def test_one_sqlite_file_is_one_engine_however_its_url_is_written(
    make_oscar_db: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    db = make_oscar_db("sqlite", Lineage.PBKDF2)
    db.seed(Scenario.DRIFT)
    path = db.url.removeprefix("sqlite:///")
    (tmp_path / "link.db").symlink_to(path)
    other = make_oscar_db("sqlite", Lineage.PBKDF2)
    other.seed(Scenario.IN_SYNC)
    a = clinic_on(db, monkeypatch, 0)
    b = clinic_on(db, monkeypatch, 1, url=f"sqlite:///{tmp_path}/link.db")
    c = clinic_on(other, monkeypatch, 2)
    adapter = OscarSqlAdapter()
    try:
        assert [len(diff(x, adapter.read(x))) for x in (a, b, c)] == [2, 2, 0]
        assert adapter._engine(a) is adapter._engine(b)
        assert adapter._engine(a) is not adapter._engine(c)
    finally:
        adapter.close()


ODD_TABLE = (
    "CREATE TABLE log (id int PRIMARY KEY, a enum('x','it''s'), b set('p','qq'), c bit(3), "
    "d binary(4), e varbinary(7), f blob, g year, h decimal(5,2), i double, j mediumtext, "
    "k char(3) CHARACTER SET latin1, l varchar(9) CHARACTER SET utf8mb3, m json, n time, "
    "o tinyint(1), p text)"
)


@pytest.fixture
def any_lineage_db(request: pytest.FixtureRequest, make_oscar_db: Make) -> Iterator[OscarDB]:
    db = make_oscar_db("mariadb", request.param)
    db.seed(Scenario.DRIFT)
    yield db


@pytest.mark.mariadb
@pytest.mark.parametrize("any_lineage_db", list(Lineage), indirect=True)
def test_information_schema_says_what_reflection_says(any_lineage_db: OscarDB) -> None:
    """The adapter learns a MySQL database's tables from information_schema (SQLAlchemy's
    reflection would list the tables of whichever database its engine first connected to);
    it must learn exactly what reflection does, also for column types OSCAR's tables may
    have beyond the simulator's."""
    db = any_lineage_db
    wanted = REQUIRED_TABLES + AUDIT_TABLES
    if db.lineage is Lineage.LEGACY:  # every odd type, in a table the adapter reads
        db.execute("DROP TABLE log")
        db.execute(ODD_TABLE)
        db.execute("DROP TABLE IF EXISTS recyclebin")
        db.execute("CREATE VIEW recyclebin AS SELECT 1 AS x")  # a view is not a table
    engine = create_engine(db.url)
    try:
        with engine.connect() as conn:
            reflected = inspect_database(conn, wanted)
            learnt = mysql_facts(conn, wanted)
    finally:
        engine.dispose()
    assert learnt == reflected
    if db.lineage is Lineage.LEGACY:
        assert "recyclebin" not in learnt.tables
        assert learnt.column("log", "a") is not None
        assert learnt.column("log", "a").length == 4  # type: ignore[union-attr]


@pytest.mark.mariadb
def test_a_connection_hands_the_next_clinic_its_own_database_not_a_stale_one(
    three_databases: list[OscarDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the last user of a pooled connection selected, the next clinic's work runs
    on its own database."""
    fresh, drift, _ = three_databases
    a, b = clinic_on(fresh, monkeypatch, 0), clinic_on(drift, monkeypatch, 1)
    adapter = OscarSqlAdapter(Network(database_connections=1))
    try:
        adapter.read(a)
        with adapter._engine(a).connect() as conn:
            assert conn.execute(text("SELECT DATABASE()")).scalar() == fresh.url.rsplit("/")[-1]
        assert [ch.action for ch in diff(b, adapter.read(b))] == expected_actions(drift)
        with adapter._engine(b).connect() as conn:
            assert conn.execute(text("SELECT DATABASE()")).scalar() == drift.url.rsplit("/")[-1]
    finally:
        adapter.close()
