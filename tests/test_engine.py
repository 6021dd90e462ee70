"""The engine with test-double adapters: verification, saved plans, safety, one unit per clinic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.emr.contract import Adapter, Outcome
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.engine import apply_plan, check_safety, check_saved_plan, make_plan
from reconciler.errors import AdapterError, StalePlanError, UnsafeChangeError
from reconciler.exitcodes import ExitCode
from reconciler.model import Clinic
from reconciler.plan import SafetyRule
from reconciler.planfile import read_plan, write_plan
from tests.conftest import ROOT, doc

GOOD = OscarLive(
    provider=OscarProviderRow("999990", "Connect", "Ocean", "doctor", True),
    roles=frozenset({"doctor"}),
    primary_role="doctor",
    login=OscarLoginRow("OceanConnect", "999990", True, False, False, None, True, True),
)
DRIFT = replace(GOOD, primary_role=None, roles=frozenset({"doctor", "admin"}))


def clinic(**changes: Any) -> Clinic:
    return build_clinic(YamlDocument("c.yaml", doc("oscar", **changes)), ROOT / "c.yaml")


class FakeAdapter(Adapter):
    """Serves ``live``; ``apply`` converges it unless told to lie or fail."""

    name = "fake"
    writes = frozenset({"oscar.provider", "oscar.role", "oscar.primary_role", "oscar.login"})

    def __init__(self, live: OscarLive, *, sticks: bool = True, fail: bool = False) -> None:
        self.live, self.sticks, self.fail = live, sticks, fail
        self.applied: list[str] = []

    def read(self, clinic: Clinic) -> OscarLive:
        return self.live

    def apply(self, clinic: Clinic, changes: Sequence[Any]) -> None:
        if self.fail:
            raise AdapterError("the database went away")
        self.applied += [c.address for c in changes]
        if self.sticks:
            self.live = GOOD


def test_applied_and_verified() -> None:
    fake = FakeAdapter(DRIFT)
    plan = make_plan([clinic()], lambda c: fake)
    report = apply_plan(plan, lambda c: fake, allow=[SafetyRule.REVOKE_ROLE])
    assert report.exit_code is ExitCode.OK
    (outcome,) = report.outcomes
    assert outcome.converged and {r.outcome for r in outcome.results} == {Outcome.APPLIED}
    assert fake.applied == ["oscar.role[999990/admin]", "oscar.primary_role[999990]"]


def test_a_change_that_does_not_stick_is_a_failure() -> None:
    fake = FakeAdapter(DRIFT, sticks=False)
    plan = make_plan([clinic()], lambda c: fake)
    report = apply_plan(plan, lambda c: fake, allow=[SafetyRule.REVOKE_ROLE])
    assert report.exit_code is ExitCode.EMR_FAILED
    (outcome,) = report.outcomes
    assert not outcome.converged and "did not converge" in (outcome.error or "")
    assert {r.outcome for r in outcome.results} == {Outcome.FAILED}
    assert all("did not stick" in r.detail for r in outcome.results)


def test_adapter_failure_marks_changes_failed_and_other_clinics_go_on() -> None:
    broken, fine = FakeAdapter(DRIFT, fail=True), FakeAdapter(DRIFT)
    a, b = clinic(clinic__id="a-clinic"), clinic(clinic__id="b-clinic")
    pick = {"a-clinic": broken, "b-clinic": fine}
    plan = make_plan([a, b], lambda c: pick[c.id])
    report = apply_plan(plan, lambda c: pick[c.id], allow=[SafetyRule.REVOKE_ROLE])
    assert report.exit_code is ExitCode.EMR_FAILED
    first, second = report.outcomes
    assert first.error == "the database went away"
    assert {r.outcome for r in first.results} == {Outcome.FAILED}
    assert second.ok


def test_safety_is_checked_for_every_clinic_before_anything_is_written() -> None:
    safe, unsafe = FakeAdapter(replace(DRIFT, roles=frozenset({"doctor"}))), FakeAdapter(DRIFT)
    a, b = clinic(clinic__id="a-clinic"), clinic(clinic__id="b-clinic")
    pick = {"a-clinic": safe, "b-clinic": unsafe}
    plan = make_plan([a, b], lambda c: pick[c.id])
    with pytest.raises(UnsafeChangeError, match=r"b-clinic: revoke oscar\.role"):
        apply_plan(plan, lambda c: pick[c.id])
    assert safe.applied == [] and unsafe.applied == []
    check_safety(plan, [SafetyRule.REVOKE_ROLE])  # allowed: no error


def test_saved_plan_round_trip_and_staleness(tmp_path: Path) -> None:
    fake = FakeAdapter(replace(DRIFT, fingerprints={"oscar.primary_role[999990]": "sha256:a"}))
    c = clinic()
    plan = make_plan([c], lambda _: fake)
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    saved = read_plan(path)
    assert saved.plan_id == plan.plan_id
    assert check_saved_plan(saved, make_plan([c], lambda _: fake)).clinics[0].changes == (
        plan.clinics[0].changes
    )
    fake.live = replace(fake.live, fingerprints={"oscar.primary_role[999990]": "sha256:b"})
    with pytest.raises(StalePlanError, match=r"oscar.primary_role\[999990\] changed"):
        check_saved_plan(saved, make_plan([c], lambda _: fake))
    fake.live = replace(DRIFT, primary_role="doctor")  # someone fixed it by hand
    with pytest.raises(StalePlanError, match="no change is needed there any more"):
        check_saved_plan(saved, make_plan([c], lambda _: fake))
    with pytest.raises(StalePlanError, match="no longer in the clinic files"):
        check_saved_plan(saved, make_plan([], lambda _: fake))


def test_desired_hash_ignores_formatting_but_not_content() -> None:
    assert clinic().desired_hash() == clinic().desired_hash()
    assert (
        clinic().desired_hash() != clinic(ocean_connect__roles=["doctor", "admin"]).desired_hash()
    )


def test_changes_an_adapter_cannot_write_become_steps_for_a_person() -> None:
    class ReadOnly(FakeAdapter):
        writes = frozenset({"oscar.role"})

    fake = ReadOnly(DRIFT)
    plan = make_plan([clinic()], lambda c: fake)
    by_address = {c.address: c for c in plan.clinics[0].changes}
    assert by_address["oscar.role[999990/admin]"].mode == "automatic"
    primary = by_address["oscar.primary_role[999990]"]
    assert primary.mode == "manual"
    assert primary.steps[-1] == (
        "By hand (fake cannot write oscar.primary_role): create oscar.primary_role[999990] "
        "(role: None -> doctor)."
    )
