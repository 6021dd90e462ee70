"""OSCAR as OSCAR's own code behaves (``LoginCheckLoginBean``, its admin screens), on SQLite and
MariaDB, in every lineage: what the adapter verifies is what OSCAR will accept, and what it
writes is what OSCAR's screens write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff
from reconciler.emr.oscar.passwords import (
    Lineage,
    Scheme,
    legacy_sha1,
    pbkdf2,
    verify_password,
    verify_pin,
)
from reconciler.emr.oscar.simulator import Scenario
from reconciler.emr.oscar.sql import OscarSqlAdapter
from reconciler.errors import AdapterError, ClinicInputError, ConflictError, SecretValueError
from reconciler.model import Clinic
from reconciler.plan import Action, Change
from tests.conftest import OC_PASSWORD, OC_PIN, ROOT, OscarDB, doc

Point = Callable[[OscarDB], None]
Make = Callable[..., OscarDB]
BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


def clinic_for(db: OscarDB, **changes: Any) -> Clinic:
    changes.setdefault("ocean_connect__login__username", db.username)
    data = doc("oscar", **changes)
    return build_clinic(YamlDocument("t.yaml", data), ROOT / "t.yaml")


@pytest.fixture
def adapter() -> Iterator[OscarSqlAdapter]:
    a = OscarSqlAdapter()
    yield a
    a.close()


def plan(adapter: OscarSqlAdapter, c: Clinic) -> tuple[Change, ...]:
    return diff(c, adapter.read(c))


def login_change(changes: tuple[Change, ...]) -> Change:
    return next(ch for ch in changes if ch.resource == "oscar.login")


def security(db: OscarDB, *columns: str) -> tuple[object, ...]:
    (row,) = db.execute(
        f"SELECT {', '.join(columns)} FROM security WHERE user_name = :u", u=db.username
    )
    return row


@pytest.fixture(params=BACKENDS)
def pbkdf2_db(request: pytest.FixtureRequest, make_oscar_db: Make, oscar_env: Point) -> OscarDB:
    db = make_oscar_db(request.param, Lineage.PBKDF2)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    return db


def make_legacy_row(db: OscarDB, password: str = OC_PASSWORD, pin: str = OC_PIN) -> None:
    """The OceanConnect login as a pre-2015 row of an upgraded OSCAR 15+ database."""
    db.execute(
        "UPDATE security SET storageVersion = 1, password = :pw, pin = :pin WHERE user_name = :u",
        pw=legacy_sha1(password),
        pin=pin,
        u=db.username,
    )


# --- 1. password lineage is per row -------------------------------------------------------


def test_a_storage_version_1_row_is_drift_and_is_rewritten_whole(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter
) -> None:
    db = pbkdf2_db
    make_legacy_row(db)
    c = clinic_for(db)
    live = adapter.read(c)
    assert live.login is not None
    # Both secrets are right as OSCAR checks a storageVersion 1 row ...
    assert live.login.password_matches and live.login.pin_matches
    # ... but OSCAR forces a password reset at every login until the row is at 2.
    change = login_change(diff(c, live))
    assert [(f.name, f.before, f.after) for f in change.fields if not f.sensitive] == [
        ("storage_version", 1, 2)
    ]
    assert {f.name for f in change.fields if f.sensitive} == {"password", "pin"}
    assert "forcePasswordResetToUpdateStorage" in change.impact
    adapter.apply(c, (change,))
    pw, pin, version = security(db, "password", "pin", "storageVersion")
    assert version == 2
    assert verify_password(OC_PASSWORD, str(pw), Scheme.PBKDF2)
    assert verify_pin(OC_PIN, str(pin), Scheme.PBKDF2)
    assert plan(adapter, c) == ()


def test_fixing_only_the_pin_rewrites_password_and_pin_together(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pbkdf2_db
    make_legacy_row(db, pin="0000")
    c = clinic_for(db)
    change = login_change(plan(adapter, c))
    assert {f.name for f in change.fields} == {"password", "pin", "storage_version"}
    adapter.apply(c, (change,))
    pw, pin, version = security(db, "password", "pin", "storageVersion")
    assert (version, str(pw)[:5], str(pin)[:5]) == (2, "1000:", "1000:")
    assert verify_pin(OC_PIN, str(pin), Scheme.PBKDF2)


def test_a_pbkdf2_value_in_a_storage_version_1_row_does_not_verify(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter
) -> None:
    """What an earlier adapter wrote: OSCAR compares a v1 PIN as plain text ("Pin-remote
    needed"), so a PBKDF2 PIN there is wrong, however well it hashes."""
    db = pbkdf2_db
    db.execute(
        "UPDATE security SET storageVersion = 1, pin = :pin WHERE user_name = :u",
        pin=pbkdf2(OC_PIN),
        u=db.username,
    )
    live = adapter.read(clinic_for(db))
    assert live.login is not None and live.login.pin_matches is False


def test_a_storage_version_oscar_refuses_is_drift(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter
) -> None:
    db = pbkdf2_db
    db.execute("UPDATE security SET storageVersion = 0 WHERE user_name = :u", u=db.username)
    c = clinic_for(db)
    live = adapter.read(c)
    assert live.login is not None and live.login.password_matches is False
    change = login_change(diff(c, live))
    adapter.apply(c, (change,))
    assert security(db, "storageVersion") == (2,)
    assert plan(adapter, c) == ()


# --- 2, 3. Open-O: usingMfa, user names, PINs ---------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_open_o_login_is_created_with_using_mfa_0(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, backend: str
) -> None:
    db = make_oscar_db(backend, Lineage.OPENO)
    db.seed(Scenario.FRESH)
    oscar_env(db)
    c = clinic_for(db)
    adapter.apply(c, plan(adapter, c))
    assert plan(adapter, c) == ()
    using_mfa, pw, pin = security(db, "usingMfa", "password", "pin")
    assert using_mfa == 0 and str(pw).startswith("{bcrypt}") and pin == OC_PIN


@pytest.mark.parametrize("backend", BACKENDS)
def test_open_o_login_with_mfa_on_is_drift(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, backend: str
) -> None:
    db = make_oscar_db(backend, Lineage.OPENO)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    db.execute("UPDATE security SET usingMfa = 1 WHERE user_name = :u", u=db.username)
    c = clinic_for(db)
    change = login_change(plan(adapter, c))
    assert [(f.name, f.before, f.after) for f in change.fields] == [("using_mfa", True, False)]
    assert "MFA page" in change.impact
    adapter.apply(c, (change,))
    assert security(db, "usingMfa") == (0,)
    assert plan(adapter, c) == ()


def test_open_o_refuses_a_long_user_name_and_a_pin_not_of_4_digits(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_oscar_db("sqlite", Lineage.OPENO)
    db.seed(Scenario.FRESH)
    oscar_env(db)
    with pytest.raises(ConflictError, match="1 to 10 letters and digits") as info:
        adapter.read(clinic_for(db, ocean_connect__login__username="OceanConnect"))
    assert "OceanConnect" in str(info.value)
    monkeypatch.setenv("T_OC_PIN", "24680")
    with pytest.raises(SecretValueError, match="exactly 4 digits") as info:
        adapter.read(clinic_for(db))
    assert "24680" not in str(info.value)


def test_open_o_password_over_72_bytes_is_refused_at_plan(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_oscar_db("sqlite", Lineage.OPENO)
    db.seed(Scenario.FRESH)
    oscar_env(db)
    long_password = "Pässwörd-" * 9  # 99 bytes
    monkeypatch.setenv("T_OC_PASSWORD", long_password)
    with pytest.raises(SecretValueError, match="uses only the first 72 bytes") as info:
        adapter.read(clinic_for(db))
    assert long_password not in str(info.value)


# --- 4. roles: every row counts, names compared as OSCAR compares them ----------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_inactive_role_row_is_granted_and_revoked_by_deleting_it(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, backend: str
) -> None:
    db = make_oscar_db(backend, Lineage.PBKDF2)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    db.execute("UPDATE secUserRole SET activeyn = 0 WHERE provider_no = '999990'")
    db.execute(
        "INSERT INTO secUserRole (provider_no, role_name, orgcd, activeyn, lastUpdateDate) "
        "VALUES ('999990', 'admin', 'R0000001', 0, '2026-01-01 00:00:00')"
    )
    c = clinic_for(db)
    changes = plan(adapter, c)  # doctor (inactive) counts as granted; admin (inactive) too
    assert [(ch.address, ch.action) for ch in changes] == [
        ("oscar.role[999990/admin]", Action.REVOKE)
    ]
    adapter.apply(c, changes)
    assert db.execute("SELECT role_name FROM secUserRole WHERE provider_no='999990'") == [
        ("doctor",)
    ]
    (recycled,) = db.execute("SELECT table_name, keyword, table_content FROM recyclebin")
    assert recycled == (
        "secUserRole",
        "999990|admin",
        "<provider_no>999990</provider_no><role_name>admin</role_name>",
    )
    # ensure: absent leaves no row behind, whatever its activeyn
    gone = clinic_for(db, ocean_connect__ensure="absent")
    adapter.apply(gone, [ch for ch in plan(adapter, gone) if ch.resource == "oscar.role"])
    assert db.execute("SELECT * FROM secUserRole WHERE provider_no='999990'") == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_role_row_with_a_trailing_space_is_not_the_role_and_converges(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, backend: str
) -> None:
    """OSCAR's privilege checks compare role names exactly (Java), while MariaDB's '=' ignores
    trailing spaces: 'doctor ' gives no doctor privileges, and a revoke by name would delete
    the real row too. The adapter revokes the odd row by id and grants the real one."""
    db = make_oscar_db(backend, Lineage.PBKDF2)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    db.execute("UPDATE secUserRole SET role_name = 'doctor ' WHERE provider_no = '999990'")
    c = clinic_for(db)
    changes = plan(adapter, c)
    assert [(ch.address, ch.action) for ch in changes] == [
        ("oscar.role[999990/doctor]", Action.GRANT),
        ("oscar.role[999990/doctor ]", Action.REVOKE),
    ]
    adapter.apply(c, changes)
    assert db.execute(
        "SELECT role_name, activeyn, orgcd FROM secUserRole WHERE provider_no='999990'"
    ) == [("doctor", 1, None)]  # as OSCAR's providerRole screen writes it
    assert plan(adapter, c) == ()


# --- 5. PINs and values OSCAR refuses ---------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "rule"),
    [
        ("12", "4 to 6 digits"),
        ("1234567", "4 to 6 digits"),
        ("12a4", "digits only"),
        ("\uff11\uff12\uff13\uff14", "digits only"),  # full-width: isdigit(), not for OSCAR
        ("9" * 300, "4 to 6 digits"),
    ],
)
def test_a_pin_oscar_refuses_is_an_error_before_any_write(
    pbkdf2_db: OscarDB,
    adapter: OscarSqlAdapter,
    monkeypatch: pytest.MonkeyPatch,
    pin: str,
    rule: str,
) -> None:
    before = pbkdf2_db.execute("SELECT * FROM security ORDER BY security_no")
    monkeypatch.setenv("T_OC_PIN", pin)
    with pytest.raises(SecretValueError, match=rule) as info:
        adapter.read(clinic_for(pbkdf2_db))
    assert pin not in str(info.value) and "{env: T_OC_PIN}" in str(info.value)
    assert pbkdf2_db.execute("SELECT * FROM security ORDER BY security_no") == before


def test_a_password_with_a_space_is_refused(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_OC_PASSWORD", "correct horse")
    with pytest.raises(SecretValueError, match="spaces in a password into backspaces"):
        adapter.read(clinic_for(pbkdf2_db))


@pytest.mark.mariadb
def test_a_value_the_column_cannot_hold_is_an_error_before_any_write(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2, charset="latin1")
    db.seed(Scenario.FRESH)
    oscar_env(db)
    with pytest.raises(AdapterError, match=r"provider\.first_name \(latin1\) cannot store"):
        adapter.read(clinic_for(db, ocean_connect__provider__first_name="Ocean🌊"))
    db.execute("ALTER TABLE provider MODIFY last_name varchar(8) NOT NULL DEFAULT ''")
    adapter.close()  # the schema is learnt once per run
    with pytest.raises(AdapterError, match=r"provider\.last_name holds 8"):
        adapter.read(clinic_for(db, ocean_connect__provider__last_name="Connector"))
    assert db.execute("SELECT * FROM provider WHERE provider_no = '999990'") == []


@pytest.mark.mariadb
def test_a_name_a_lax_server_mangled_is_ours_not_someone_elses(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    """A non-strict server stored 'Ocean?' for 'Ocean🌊': the next run must not call our own
    row another provider's; it says the name cannot be stored."""
    db = make_oscar_db("mariadb", Lineage.PBKDF2, charset="latin1")
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    db.execute("UPDATE provider SET first_name = 'Ocean?' WHERE provider_no = '999990'")
    with pytest.raises(AdapterError) as info:
        adapter.read(clinic_for(db, ocean_connect__provider__first_name="Ocean🌊"))
    assert "cannot store" in str(info.value) and "belongs to" not in str(info.value)


@pytest.mark.mariadb
def test_the_adapter_session_is_strict_on_any_server(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter
) -> None:
    db = make_oscar_db("mariadb", Lineage.PBKDF2)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    c = clinic_for(db)
    adapter.read(c)
    engine = adapter._engine(c)
    with engine.connect() as conn:
        from sqlalchemy import text

        mode = str(conn.execute(text("SELECT @@SESSION.sql_mode")).scalar())
        conn.execute(text("SET SESSION sql_mode = ''"))  # a lax server, as many OSCARs run
    assert "STRICT_ALL_TABLES" in mode
    with engine.connect() as conn:  # a new connection is made strict again
        conn.invalidate()
    with engine.connect() as conn:
        assert "STRICT_ALL_TABLES" in str(conn.execute(text("SELECT @@SESSION.sql_mode")).scalar())


# --- 6. OSCAR's own records of a change --------------------------------------------------------


def log_rows(db: OscarDB) -> list[tuple[object, ...]]:
    return db.execute("SELECT provider_no, action, content, contentId, data FROM log ORDER BY id")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lineage", list(Lineage))
def test_creating_writes_oscars_own_records(
    make_oscar_db: Make,
    oscar_env: Point,
    adapter: OscarSqlAdapter,
    backend: str,
    lineage: Lineage,
) -> None:
    db = make_oscar_db(backend, lineage)
    db.seed(Scenario.FRESH)
    oscar_env(db)
    c = clinic_for(db, emr__database__update_user="999998")
    adapter.apply(c, plan(adapter, c))
    (security_no,) = db.execute(
        "SELECT security_no FROM security WHERE user_name=:u", u=db.username
    )[0]
    expected = [
        ("999998", "add", "adminAddUser", None, "reconciler"),
        ("999998", "add", "role", "999990|doctor", "reconciler"),
    ]
    if lineage is Lineage.PBKDF2:  # OSCAR 15+ saves through its SecurityManager
        expected.append(
            (
                "999998",
                "SecurityManager.saveNewSecurityRecord",
                None,
                None,
                f"id={security_no} (reconciler)",
            )
        )
    expected.append(("999998", "add", "securityRecord", db.username, "reconciler"))
    assert log_rows(db) == expected
    assert security(db, "lastUpdateUser") == ("999998",)
    assert db.execute("SELECT lastUpdateUser FROM provider WHERE provider_no='999990'") == [
        ("999998",)
    ]
    assert db.execute("SELECT COUNT(*) FROM SecurityArchive") == [(0,)]  # none on create


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lineage", list(Lineage))
def test_updating_a_login_archives_it_where_oscar_does(
    make_oscar_db: Make,
    oscar_env: Point,
    adapter: OscarSqlAdapter,
    backend: str,
    lineage: Lineage,
) -> None:
    db = make_oscar_db(backend, lineage)
    db.seed(Scenario.DRIFT)
    oscar_env(db)
    c = clinic_for(db)
    (old_pin, security_no) = security(db, "pin", "security_no")
    adapter.apply(c, plan(adapter, c))
    archived = db.execute("SELECT security_no, user_name, pin FROM SecurityArchive")
    if lineage is Lineage.PBKDF2:
        assert archived == [(security_no, db.username, old_pin)]
    else:  # OSCAR 2019 and Open-O's security screen write no archive
        assert archived == []
    actions = [(a, content, cid) for _, a, content, cid, _ in log_rows(db)]
    assert ("update", "securityRecord", f"{security_no}->{db.username}") in actions
    assert security(db, "lastUpdateUser") == ("-1",)  # OSCAR's own system provider


# --- 9. program_provider rows --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_primary_role_row_with_no_role_is_updated_in_place(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, backend: str
) -> None:
    db = make_oscar_db(backend, Lineage.PBKDF2)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    db.execute("UPDATE program_provider SET role_id = NULL WHERE provider_no = '999990'")
    c = clinic_for(db)
    (change,) = plan(adapter, c)
    assert (change.address, change.action) == ("oscar.primary_role[999990]", Action.UPDATE)
    adapter.apply(c, (change,))
    assert plan(adapter, c) == ()
    assert db.execute("SELECT role_id FROM program_provider WHERE provider_no = '999990'") == [(2,)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicate_primary_role_rows_collapse_to_one(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, backend: str
) -> None:
    db = make_oscar_db(backend, Lineage.PBKDF2)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    for role_id in (3, 2):
        db.execute(
            "INSERT INTO program_provider (program_id, provider_no, role_id) "
            "VALUES (10034, '999990', :r)",
            r=role_id,
        )
    c = clinic_for(db)
    (change,) = plan(adapter, c)
    assert [(f.name, f.before, f.after) for f in change.fields] == [("rows", 3, 1)]
    adapter.apply(c, (change,))
    assert plan(adapter, c) == ()
    assert db.execute("SELECT role_id FROM program_provider WHERE provider_no = '999990'") == [(2,)]


# --- 7. what the plan says about expiry, per lineage ------------------------------------------


def test_expiry_impact_says_what_this_login_row_does(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter
) -> None:
    db = pbkdf2_db
    db.execute(
        "UPDATE security SET b_ExpireSet = 1, date_ExpireDate = '2025-01-01' WHERE user_name=:u",
        u=db.username,
    )
    c = clinic_for(db)
    assert "only warns" in login_change(plan(adapter, c)).impact  # storageVersion 2
    make_legacy_row(db)
    assert "refuses this login" in login_change(plan(adapter, c)).impact  # storageVersion 1


# --- what the hostile review found ------------------------------------------------------------


@pytest.mark.parametrize("value", [2, -1])
def test_java_booleans_other_than_1_are_true(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter, value: int
) -> None:
    """OSCAR reads forcePasswordReset as a Java boolean: 2 or -1 sends Ocean to the reset page."""
    db = pbkdf2_db
    db.execute(
        "UPDATE security SET forcePasswordReset = :v WHERE user_name = :u", v=value, u=db.username
    )
    c = clinic_for(db)
    change = login_change(plan(adapter, c))
    assert [(f.name, f.before, f.after) for f in change.fields] == [
        ("force_password_reset", True, False)
    ]
    adapter.apply(c, (change,))
    assert security(db, "forcePasswordReset") == (0,)


def test_a_provider_whose_status_is_null_is_active(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter
) -> None:
    pbkdf2_db.execute("UPDATE provider SET status = NULL WHERE provider_no = '999990'")
    assert plan(adapter, clinic_for(pbkdf2_db)) == ()  # OSCAR refuses only status '0'


def test_an_expiry_that_has_come_is_that_clinics_error_at_plan(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter
) -> None:
    today = date.today().isoformat()
    with pytest.raises(ClinicInputError, match=f"expires {today} has come"):
        adapter.read(clinic_for(pbkdf2_db, ocean_connect__login__expires=today))


def test_expiry_on_with_no_date_is_drift(pbkdf2_db: OscarDB, adapter: OscarSqlAdapter) -> None:
    db = pbkdf2_db
    db.execute(
        "UPDATE security SET b_ExpireSet = 1, date_ExpireDate = NULL WHERE user_name = :u",
        u=db.username,
    )
    c = clinic_for(db)
    change = login_change(plan(adapter, c))
    assert ("expires", "expiry on, no date", None) in [
        (f.name, f.before, f.after) for f in change.fields
    ]
    adapter.apply(c, (change,))
    assert plan(adapter, c) == ()


def test_pro_auth_reports_what_oscar_does_with_pro_supports_login(
    pbkdf2_db: OscarDB, adapter: OscarSqlAdapter
) -> None:
    """The tool never writes Pro Support's login, but a forced reset, an expiry or a
    storageVersion 1 row still stops Ocean: a step for a person, not "in sync"."""
    db = pbkdf2_db
    make_legacy_row(db)
    db.execute(
        "UPDATE security SET forcePasswordReset = 1, b_ExpireSet = 1, "
        "date_ExpireDate = '2020-01-01' WHERE user_name = :u",
        u=db.username,
    )
    pro = clinic_for(
        db, emr__edition="pro", ocean_connect__pro_auth=True, ocean_connect__login__expires=None
    )
    (step,) = plan(adapter, pro)
    assert (step.resource, step.mode) == ("oscar.integration_credentials", "manual")
    names = {f.name for f in step.fields}
    assert {"force_password_reset", "expires", "storage_version"} <= names
    assert any(
        "Ask OSCAR Pro Support" in s and "force_password_reset false" in s for s in step.steps
    )
    before = db.execute("SELECT * FROM security WHERE user_name = :u", u=db.username)
    adapter.apply(pro, ())
    assert db.execute("SELECT * FROM security WHERE user_name = :u", u=db.username) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_long_role_name_is_revoked_its_recycle_keyword_cut_as_oscar_does(
    make_oscar_db: Make, oscar_env: Point, adapter: OscarSqlAdapter, backend: str
) -> None:
    db = make_oscar_db(backend, Lineage.LEGACY)
    db.seed(Scenario.IN_SYNC)
    oscar_env(db)
    role = "r" * 58
    db.execute("INSERT INTO secRole (role_name, description) VALUES (:r, 'long')", r=role)
    db.execute(
        "INSERT INTO secUserRole (provider_no, role_name, orgcd, activeyn, lastUpdateDate) "
        "VALUES ('999990', :r, 'R0000001', 1, '2026-01-01 00:00:00')",
        r=role,
    )
    c = clinic_for(db)
    adapter.apply(c, plan(adapter, c))
    assert plan(adapter, c) == ()
    ((keyword, content),) = db.execute("SELECT keyword, table_content FROM recyclebin")
    assert keyword == f"999990|{role}"[:50] and role in str(content)


def test_a_zero_date_is_archived_as_oscar_rounds_it() -> None:
    from reconciler.emr.oscar.writes import _rounded

    assert _rounded("0000-00-00") == "0001-01-01"
    assert _rounded("0000-00-00 00:00:00") == "0001-01-01 00:00:00"
    assert _rounded("2026-01-01") == "2026-01-01" and _rounded(None) is None
