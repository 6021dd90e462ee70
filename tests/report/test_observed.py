"""What each EMR package gives the report (``EmrPackage.observed``), and how plans keep it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from reconciler.combine import load_plans
from reconciler.emr.accuro.diff import observed_accuro, row_address
from reconciler.emr.accuro.spec import Permission, UndeclaredPolicy
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.emr.oscar.observed import observed_oscar
from reconciler.emr.oscar.spec import OscarBackend
from reconciler.errors import PlanFileError
from reconciler.model import Confirmations
from reconciler.plan import ClinicPlan, Plan
from reconciler.planfile import write_plan
from reconciler.render.json_ import content_digest, dump
from tests.emr.accuro.test_diff_cells import ALL, USER, confirm, live, spec
from tests.test_render import DRIFT, IN_SYNC, clinic


def test_accuro_rows_carry_one_code_per_column_then_id_and_name() -> None:
    s = spec(("A", [(1, ALL - {Permission.BILLING}), (3, ALL)]), ("B", [(2, ALL)]))
    a1, a3 = row_address(USER, "A", 1), row_address(USER, "A", 3)
    confirmed = Confirmations(
        (
            confirm(a1, patient="granted", billing="cleared", emr="cleared"),
            confirm(a3, scheduling="granted"),
        )
    )
    lv = live({"A": (10, [1, 3, 7]), "B": (20, [2])}, read={1, 2}, write={1})
    drawn = observed_accuro(s, lv, confirmed)
    grid = drawn["grid"]
    assert grid["columns"] == ["Patient", "Scheduling", "Billing", "EMR", "Labs", "Visible"]
    assert grid["title"] == f"Provider Permissions of {USER}"
    a, b = grid["groups"]
    # 1: patient confirmed, scheduling observed Full, billing cleared as confirmed (lower
    #    case: the file clears it), emr confirmed the opposite (missing), labs and visible
    #    unknown. 3: scheduling confirmed but the API shows none (contradicted).
    # 7: listed by the API, not declared by the file.
    assert a == {
        "name": "A",
        "rows": ["CVcMUU 1 Doc1, A", "UDUUUU 3 Doc3, A", "------ 7 Doc7, A"],
    }
    # 2 is read but not written: read-only scheduling is missing Full access.
    assert b == {"name": "B", "rows": ["UMUUUU 2 Doc2, A"]}
    assert drawn["compare"][:3] == [
        [f"OceanAPI user {USER}", "active", "yes", "yes", "same"],
        [f"OceanAPI user {USER}", "locked", "no", "no", "same"],
        [f"OceanAPI user {USER}", "System Admin", "no", "no", "same"],
    ]
    assert drawn["compare"][3:] == [
        [f"OceanAPI user {USER}", "access to office 'A'", "yes", "yes", "same"],
        [f"OceanAPI user {USER}", "access to office 'B'", "yes", "yes", "same"],
    ]


def test_accuro_extra_and_revoked_undeclared_rows_and_an_office_without_access() -> None:
    s = spec(("A", [(1, frozenset())]), undeclared=UndeclaredPolicy.REVOKE)
    lv = live({"A": (10, [1, 5])}, read={1, 5}, write={1, 5}, user_offices=set())
    drawn = observed_accuro(s, lv)
    # The file clears every box of 1; the API cannot attribute scheduling (no office of the
    # user lists it), so nothing is observed; 5 is undeclared and revoked: lower case.
    assert drawn["grid"]["groups"][0]["rows"] == ["uuuuuu 1 Doc1, A", "uuuuuu 5 Doc5, A"]
    assert drawn["compare"][-1][-1] == "missing"
    lv = live({"A": (10, [1])}, read={1}, write={1})
    assert observed_accuro(s, lv)["grid"]["groups"][0]["rows"] == ["uxuuuu 1 Doc1, A"]


def test_accuro_with_nothing_read_is_all_unverified() -> None:
    drawn = observed_accuro(spec(("A", [(1, ALL)])), None)
    assert drawn == {
        "grid": {
            "title": f"Provider Permissions of {USER}",
            "group": "Office",
            "row": "Provider",
            "columns": ["Patient", "Scheduling", "Billing", "EMR", "Labs", "Visible"],
            "groups": [{"name": "A", "rows": ["UUUUUU 1 provider id 1"]}],
        }
    }


def test_oscar_desired_vs_live_never_holds_a_secret_value() -> None:
    c = clinic()
    drawn = observed_oscar(c.spec, DRIFT)
    rows = {(r[0], r[1]): r[2:] for r in drawn["compare"]}
    assert rows[("Roles", "admin")] == ["not granted", "granted", "extra"]
    assert rows[("Primary role", "role")] == ["doctor", "none", "missing"]
    assert rows[("Login OceanConnect", "Pin(local)")] == ["no", "yes", "different"]
    assert rows[("Login OceanConnect", "PIN")] == [
        "{env: T_OC_PIN}",
        "does not verify",
        "different",
    ]
    assert rows[("Login OceanConnect", "password")][1:] == ["verifies", "same"]
    assert {r[-1] for r in observed_oscar(c.spec, IN_SYNC)["compare"]} == {"same"}


def test_oscar_unread_fresh_and_absent() -> None:
    c = clinic()
    manual = observed_oscar(c.spec, None)["compare"]
    assert {r[3] for r in manual} == {"not read"} and {r[4] for r in manual} == {"unknown"}
    fresh = OscarLive(provider=None, roles=frozenset(), primary_role=None, login=None)
    rows = observed_oscar(c.spec, fresh)["compare"]
    assert [r[1] for r in rows] == ["status", "doctor", "role", "login record"]
    assert {r[4] for r in rows} == {"missing"}
    gone = clinic(ocean_connect__ensure="absent")
    rows = observed_oscar(gone.spec, DRIFT)["compare"]
    states = {(r[0], r[1]): r[4] for r in rows}
    assert states[("Provider 999990", "status")] == "extra"
    assert (
        states[("Roles", "doctor")] == "extra"
        and states[("Login OceanConnect", "login record")] == "extra"
    )
    inactive = OscarLive(
        provider=OscarProviderRow("999990", "Connect", "Ocean", "doctor", active=False),
        roles=frozenset(),
        primary_role=None,
        login=None,
    )
    assert {r[4] for r in observed_oscar(gone.spec, inactive)["compare"]} == {"same"}
    assert OscarBackend.SQL is c.spec.backend


def test_oscar_15_and_open_o_rows() -> None:
    row = OscarLoginRow(
        "OceanConnect", "999990", True, False, False, date(2030, 1, 1), True, True, 1, True
    )
    lv = OscarLive(DRIFT.provider, frozenset({"doctor"}), "doctor", row, primary_role_rows=2)
    rows = {(r[0], r[1]): r[2:] for r in observed_oscar(clinic().spec, lv)["compare"]}
    assert rows[("Login OceanConnect", "storageVersion")] == ["2", "1", "different"]
    assert rows[("Login OceanConnect", "MFA")] == ["no", "yes", "different"]
    assert rows[("Login OceanConnect", "expires")] == ["none", "2030-01-01", "different"]
    assert rows[("Primary role", "program_provider rows")] == ["1", "2", "different"]


def _saved(tmp_path: Path) -> Path:
    c = clinic()
    plan = Plan((ClinicPlan(c, observed=observed_oscar(c.spec, IN_SYNC)),))
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    return path


def test_a_saved_plan_keeps_what_the_report_draws(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    (loaded,) = load_plans([path])
    (cp,) = loaded.plan.clinics
    assert cp.observed == json.loads(path.read_text())["clinics"][0]["observed"]
    assert cp.observed is not None and cp.observed["compare"][0][0] == "Provider 999990"


@pytest.mark.parametrize(
    "observed",
    [
        {"grid": {"columns": ["A"]}},
        {"compare": [["a", "b", "c", "d", "maybe"]]},
        {"compare": [["a", "b", "c", "d"]]},
        {"pictures": []},
        {"grid": {"columns": [], "groups": [{"name": "x", "rows": [1]}]}},
    ],
)
def test_a_saved_plan_with_a_malformed_observed_is_refused(tmp_path: Path, observed: dict) -> None:
    path = _saved(tmp_path)
    data = json.loads(path.read_text())
    data["clinics"][0]["observed"] = observed
    data["digest"] = content_digest(data)
    path.write_text(dump(data))
    with pytest.raises(PlanFileError, match="observed"):
        load_plans([path])


def test_the_digest_covers_observed(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    data = json.loads(path.read_text())
    data["clinics"][0]["observed"]["compare"][0][3] = "inactive"
    path.write_text(dump(data))
    with pytest.raises(PlanFileError, match="edited"):
        load_plans([path])
