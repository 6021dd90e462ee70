"""The OSCAR database adapter against SQLite and a real MariaDB, in every lineage."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff
from reconciler.emr.oscar.passwords import Lineage, Scheme, verify_password, verify_pin
from reconciler.emr.oscar.simulator import Scenario
from reconciler.emr.oscar.sql import OscarSqlAdapter
from reconciler.errors import (
    AdapterError,
    ConflictError,
    EMRConnectionError,
    SecretValueError,
    StalePlanError,
)
from reconciler.model import Clinic
from reconciler.plan import Action, Change
from tests.conftest import OC_PASSWORD, OC_PIN, ROOT, OscarDB, doc

Point = Callable[[OscarDB], None]


def clinic(**changes: Any) -> Clinic:
    return build_clinic(YamlDocument("t.yaml", doc("oscar", **changes)), ROOT / "t.yaml")


@pytest.fixture
def adapter() -> Iterator[OscarSqlAdapter]:
    a = OscarSqlAdapter()
    yield a
    a.close()


def plan_changes(adapter: OscarSqlAdapter, c: Clinic) -> tuple[Change, ...]:
    return diff(c, adapter.read(c))


def other_rows(db: OscarDB) -> list[tuple[object, ...]]:
    """Every row that is not the OceanConnect provider's: the adapter must not touch them."""
    rows: list[tuple[object, ...]] = []
    for table, key in [
        ("provider", "provider_no"),
        ("security", "provider_no"),
        ("secUserRole", "provider_no"),
        ("program_provider", "provider_no"),
    ]:
        rows += db.execute(f"SELECT * FROM {table} WHERE {key} <> '999990' ORDER BY 1")
    rows += db.execute("SELECT * FROM secRole ORDER BY 1")
    return rows


def test_drift_is_planned_applied_and_converges(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    oscar_env(oscar_db)
    c = clinic()
    untouched = other_rows(oscar_db)
    changes = plan_changes(adapter, c)
    assert [(ch.address, ch.action) for ch in changes] == [
        ("oscar.primary_role[999990]", Action.CREATE),
        ("oscar.login[OceanConnect]", Action.UPDATE),
    ]
    login = changes[1]
    # OSCAR 15+: password and PIN are rewritten together (storageVersion 2), as OSCAR's
    # own security screen does, so the plan shows both.
    assert {f.name for f in login.fields} == {
        "pin_local",
        "force_password_reset",
        "password",
        "pin",
    }
    adapter.apply(c, changes)
    assert plan_changes(adapter, c) == ()
    assert other_rows(oscar_db) == untouched
    (row,) = oscar_db.execute(
        "SELECT b_LocalLockSet, b_RemoteLockSet, forcePasswordReset, pin FROM security "
        "WHERE user_name = 'OceanConnect'"
    )
    assert row[:3] == (0, 1, 0)
    assert verify_pin(OC_PIN, str(row[3]), Scheme.PBKDF2) and str(row[3]).startswith("1000:")


def test_fresh_database_creates_everything_in_each_lineage(
    oscar_db_lineage: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    db = oscar_db_lineage
    db.seed(Scenario.FRESH)
    oscar_env(db)
    c = clinic(
        ocean_connect__login__expires="2027-06-30", ocean_connect__login__username=db.username
    )
    changes = plan_changes(adapter, c)
    assert [ch.action for ch in changes] == [
        Action.CREATE,
        Action.GRANT,
        Action.CREATE,
        Action.CREATE,
    ]
    adapter.apply(c, changes)
    assert plan_changes(adapter, c) == ()
    (pw, pin, expire_set, expires) = db.execute(
        "SELECT password, pin, b_ExpireSet, date_ExpireDate FROM security WHERE user_name = :u",
        u=db.username,
    )[0]
    scheme = {Lineage.LEGACY: Scheme.LEGACY, Lineage.PBKDF2: Scheme.PBKDF2}.get(
        db.lineage, Scheme.OPENO
    )
    assert verify_password(OC_PASSWORD, str(pw), scheme) and verify_pin(OC_PIN, str(pin), scheme)
    assert OC_PASSWORD not in str(pw)
    if db.lineage is Lineage.LEGACY:
        assert re.fullmatch(r"(-?\d+)+", str(pw)) and pin == OC_PIN
    elif db.lineage is Lineage.PBKDF2:
        assert re.fullmatch(r"1000:[0-9a-f]{48}:[0-9a-f]{48}", str(pw))
        assert str(pin).startswith("1000:")
        assert db.execute(
            "SELECT storageVersion FROM security WHERE user_name=:u", u=db.username
        ) == [(2,)]
    else:
        assert str(pw).startswith("{bcrypt}$2") and pin == OC_PIN
    assert expire_set == 1 and str(expires).startswith("2027-06-30")
    (status, ptype) = db.execute(
        "SELECT status, provider_type FROM provider WHERE provider_no='999990'"
    )[0]
    assert (status, ptype) == ("1", "doctor")
    assert db.execute("SELECT role_name, activeyn FROM secUserRole WHERE provider_no='999990'") == [
        ("doctor", 1)
    ]
    assert db.execute(
        "SELECT r.role_name FROM program_provider pp JOIN secRole r ON r.role_no = pp.role_id "
        "JOIN program p ON p.id = pp.program_id WHERE p.name='OSCAR' AND pp.provider_no='999990'"
    ) == [("doctor",)]


def test_existing_password_in_any_lineage_verifies_without_change(
    oscar_db_lineage: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    oscar_db_lineage.seed(Scenario.IN_SYNC)
    oscar_env(oscar_db_lineage)
    c = clinic(ocean_connect__login__username=oscar_db_lineage.username)
    assert plan_changes(adapter, c) == ()


def test_wrong_password_is_rewritten_in_the_database_lineage(
    oscar_db_lineage: OscarDB,
    oscar_env: Point,
    adapter: OscarSqlAdapter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = oscar_db_lineage
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    monkeypatch.setenv("T_OC_PASSWORD", "a-new-Passw0rd")
    c = clinic(ocean_connect__login__username=db.username)
    (change,) = plan_changes(adapter, c)
    together = db.lineage is Lineage.PBKDF2  # password and PIN always rewritten together
    assert [f.name for f in change.fields] == (["password", "pin"] if together else ["password"])
    assert change.side(0)["password"] == "(sensitive)"  # type: ignore[index]
    adapter.apply(c, (change,))
    assert plan_changes(adapter, c) == ()
    (pw,) = db.execute("SELECT password FROM security WHERE user_name=:u", u=db.username)[0]
    scheme = {Lineage.LEGACY: Scheme.LEGACY, Lineage.PBKDF2: Scheme.PBKDF2}.get(
        db.lineage, Scheme.OPENO
    )
    assert verify_password("a-new-Passw0rd", str(pw), scheme)


def test_roles_are_granted_and_revoked(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    oscar_env(oscar_db)
    oscar_db.execute("DELETE FROM secUserRole WHERE provider_no = '999990'")
    oscar_db.execute(
        "INSERT INTO secUserRole (provider_no, role_name, orgcd, activeyn, lastUpdateDate) "
        "VALUES ('999990', 'admin', 'R0000001', 1, '2026-01-01 00:00:00')"
    )
    c = clinic()
    changes = plan_changes(adapter, c)
    roles = [
        (ch.address, ch.action, ch.safety_rule) for ch in changes if ch.resource == "oscar.role"
    ]
    assert roles == [
        ("oscar.role[999990/doctor]", Action.GRANT, None),
        ("oscar.role[999990/admin]", Action.REVOKE, "revoke-role"),
    ]
    adapter.apply(c, changes)
    assert plan_changes(adapter, c) == ()
    assert oscar_db.execute(
        "SELECT role_name, activeyn FROM secUserRole WHERE provider_no='999990'"
    ) == [("doctor", 1)]


def test_ensure_absent_deletes_login_revokes_roles_deactivates_provider(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    oscar_env(oscar_db)
    untouched = other_rows(oscar_db)
    c = clinic(ocean_connect__ensure="absent")
    changes = plan_changes(adapter, c)
    assert [(ch.resource, ch.action, ch.safety_rule) for ch in changes] == [
        ("oscar.login", Action.DELETE, "delete-login"),
        ("oscar.role", Action.REVOKE, "revoke-role"),
        ("oscar.provider", Action.DELETE, "delete-provider"),
    ]
    adapter.apply(c, changes)
    assert plan_changes(adapter, c) == ()
    assert oscar_db.execute("SELECT status FROM provider WHERE provider_no='999990'") == [("0",)]
    assert oscar_db.execute("SELECT * FROM security WHERE provider_no='999990'") == []
    assert other_rows(oscar_db) == untouched


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "UPDATE security SET provider_no = '100101' WHERE user_name = 'OceanConnect'",
            "already belongs to provider 100101",
        ),
        (
            "UPDATE provider SET last_name = 'Smith', first_name = 'John' "
            "WHERE provider_no = '999990'; "
            "DELETE FROM security WHERE user_name = 'OceanConnect'",
            "belongs to 'Smith, John'",
        ),
        ("DELETE FROM secRole WHERE role_name = 'doctor'", "do not exist in this OSCAR"),
        ("UPDATE program SET name = 'Old OSCAR' WHERE name = 'OSCAR'", "no program named OSCAR"),
        (
            "UPDATE security SET user_name = 'oc-old' WHERE user_name = 'OceanConnect'",
            "already has the login record 'oc-old'",
        ),
    ],
)
def test_conflicts_are_clear_errors(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter, sql: str, message: str
) -> None:
    oscar_env(oscar_db)
    for statement in sql.split("; "):
        oscar_db.execute(statement)
    with pytest.raises(ConflictError, match=re.escape(message)):
        adapter.read(clinic())


def test_failure_mid_transaction_writes_nothing(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    db = oscar_db
    db.seed(Scenario.FRESH)
    oscar_env(db)
    if db.backend == "sqlite":
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON program_provider "
            "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
        )
    else:
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON program_provider FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'simulated failure'"
        )
    c = clinic()
    changes = plan_changes(adapter, c)
    assert len(changes) == 4
    with pytest.raises(AdapterError, match="rolled back, nothing written") as info:
        adapter.apply(c, changes)
    assert "simulated failure (" in str(info.value) and "trigger" in str(info.value)
    assert db.execute("SELECT * FROM provider WHERE provider_no='999990'") == []
    assert db.execute("SELECT * FROM secUserRole WHERE provider_no='999990'") == []
    assert db.execute("SELECT * FROM security WHERE user_name='OceanConnect'") == []


def test_live_change_between_plan_and_apply_is_refused(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    oscar_env(oscar_db)
    c = clinic()
    changes = plan_changes(adapter, c)
    oscar_db.execute("UPDATE security SET b_RemoteLockSet = 0 WHERE user_name='OceanConnect'")
    with pytest.raises(StalePlanError, match=re.escape("oscar.login[OceanConnect] changed")):
        adapter.apply(c, changes)
    assert oscar_db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [
        (0,)
    ]


def test_expired_login_is_detected(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    oscar_env(oscar_db)
    oscar_db.execute(
        "UPDATE security SET b_ExpireSet = 1, date_ExpireDate = '2025-01-01' "
        "WHERE user_name = 'OceanConnect'"
    )
    live = adapter.read(clinic())
    assert live.login is not None and live.login.expires == date(2025, 1, 1)
    login = next(ch for ch in diff(clinic(), live) if ch.resource == "oscar.login")
    assert ("expires", date(2025, 1, 1), None) in [
        (f.name, f.before, f.after) for f in login.fields
    ]


def test_unreachable_and_wrong_databases(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, adapter: OscarSqlAdapter
) -> None:
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)
    secret_url = "mysql+pymysql://root:S3cretDbPw@127.0.0.1:1/oscar"
    monkeypatch.setenv("T_OSCAR_DB_URL", secret_url)
    with pytest.raises(EMRConnectionError) as info:
        adapter.read(clinic())
    assert "S3cretDbPw" not in str(info.value)
    adapter.close()
    monkeypatch.setenv("T_OSCAR_DB_URL", f"sqlite:///{tmp_path}/missing.db")
    with pytest.raises(EMRConnectionError, match="does not exist"):
        adapter.read(clinic())
    empty = tmp_path / "empty.db"
    empty.touch()
    adapter.close()
    monkeypatch.setenv("T_OSCAR_DB_URL", f"sqlite:///{empty}")
    with pytest.raises(AdapterError, match="does not look like an OSCAR database"):
        adapter.read(clinic())
    adapter.close()
    monkeypatch.setenv("T_OSCAR_DB_URL", "postgresql://u:pw1234@h/db")
    with pytest.raises(SecretValueError, match="OSCAR runs on MySQL/MariaDB") as info2:
        adapter.read(clinic())
    assert "pw1234" not in str(info2.value)
    adapter.close()
    monkeypatch.setenv("T_OSCAR_DB_URL", "not a url at all")
    with pytest.raises(SecretValueError, match="is not a database URL"):
        adapter.read(clinic())


def test_invalid_stored_expiry_date_is_drift_not_a_crash(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    if oscar_db.backend == "mariadb":  # zero dates need a lax session, as old OSCARs ran
        with oscar_db.engine.begin() as conn:
            conn.execute(text("SET SESSION sql_mode = ''"))
            conn.execute(
                text(
                    "UPDATE security SET b_ExpireSet = 1, "
                    "date_ExpireDate = '0000-00-00' WHERE user_name='OceanConnect'"
                )
            )
    else:
        oscar_db.execute(
            "UPDATE security SET b_ExpireSet = 1, date_ExpireDate = '0000-00-00' "
            "WHERE user_name = 'OceanConnect'"
        )
    oscar_env(oscar_db)
    c = clinic()
    changes = plan_changes(adapter, c)
    login = next(ch for ch in changes if ch.resource == "oscar.login")
    assert ("expires", "invalid date 0000-00-00", None) in [
        (f.name, f.before, f.after) for f in login.fields
    ]
    adapter.apply(c, changes)
    assert plan_changes(adapter, c) == ()


def test_pro_auth_login_is_verified_never_written(
    oscar_db: OscarDB,
    oscar_env: Point,
    adapter: OscarSqlAdapter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    oscar_db.seed(Scenario.IN_SYNC)
    oscar_env(oscar_db)
    pro = clinic(
        emr={
            "kind": "oscar",
            "edition": "pro",
            "backend": "sql",
            "database": {"url": {"env": "T_OSCAR_DB_URL"}},
        },
        ocean_connect__pro_auth=True,
    )
    assert plan_changes(adapter, pro) == ()
    monkeypatch.setenv("T_OC_PIN", "9999")
    (step,) = plan_changes(adapter, pro)
    assert (step.address, step.action, step.mode) == (
        "oscar.integration_credentials[OceanConnect]",
        Action.STEP,
        "manual",
    )
    assert [f.name for f in step.fields] == ["pin"]
    assert any("Set Security Record Integration Password" in s for s in step.steps)
    before = oscar_db.execute("SELECT * FROM security WHERE user_name='OceanConnect'")
    adapter.apply(pro, ())  # nothing automatic to write
    assert oscar_db.execute("SELECT * FROM security WHERE user_name='OceanConnect'") == before


def test_our_provider_renamed_in_the_file_is_updated_not_a_conflict(
    oscar_db: OscarDB, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    """Its login is the declared one, so the provider is ours whatever its names say."""
    oscar_env(oscar_db)
    c = clinic(ocean_connect__provider__first_name="OceanCloud")
    changes = plan_changes(adapter, c)
    (provider,) = [ch for ch in changes if ch.resource == "oscar.provider"]
    assert [(f.name, f.before, f.after) for f in provider.fields] == [
        ("first_name", "Ocean", "OceanCloud")
    ]
    adapter.apply(c, changes)
    assert plan_changes(adapter, c) == ()
    assert oscar_db.execute("SELECT first_name FROM provider WHERE provider_no = '999990'") == [
        ("OceanCloud",)
    ]
    assert oscar_db.execute("SELECT first_name FROM providerArchive") == [("Ocean",)]
