"""The engine with test-double adapters: verification, saved plans, safety, one unit per clinic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.emr.contract import Adapter
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.engine import (
    ChangeReport,
    Result,
    Verified,
    apply_plan,
    check_safety,
    check_saved_plan,
    make_plan,
)
from reconciler.errors import (
    AdapterError,
    AuditLogError,
    RefusedError,
    StalePlanError,
    UnsafeChangeError,
)
from reconciler.exitcodes import ExitCode
from reconciler.fleet import SEQUENTIAL
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

    def __init__(
        self,
        live: OscarLive,
        *,
        sticks: bool = True,
        fail: bool = False,
        raises: BaseException | None = None,
        read_raises: BaseException | None = None,
    ) -> None:
        self.live, self.sticks, self.fail = live, sticks, fail
        self.raises, self.read_raises = raises, read_raises
        self.applied: list[str] = []

    def read(self, clinic: Clinic) -> OscarLive:
        if self.read_raises is not None:
            raise self.read_raises
        return self.live

    def apply(self, clinic: Clinic, changes: Sequence[Any]) -> None:
        if self.fail:
            raise AdapterError("the database went away")
        if self.raises is not None:
            raise self.raises
        self.applied += [c.address for c in changes]
        if self.sticks:
            self.live = GOOD


def test_applied_and_verified() -> None:
    fake = FakeAdapter(DRIFT)
    plan = make_plan([clinic()], lambda c: fake)
    report = apply_plan(plan, lambda c: fake, allow=[SafetyRule.REVOKE_ROLE])
    assert report.exit_code is ExitCode.OK
    (outcome,) = report.outcomes
    assert outcome.converged and {r.outcome for r in outcome.results} == {Result.APPLIED}
    assert fake.applied == ["oscar.role[999990/admin]", "oscar.primary_role[999990]"]


def test_a_change_that_does_not_stick_is_a_failure() -> None:
    fake = FakeAdapter(DRIFT, sticks=False)
    plan = make_plan([clinic()], lambda c: fake)
    report = apply_plan(plan, lambda c: fake, allow=[SafetyRule.REVOKE_ROLE])
    assert report.exit_code is ExitCode.EMR_FAILED
    (outcome,) = report.outcomes
    assert not outcome.converged and "did not converge" in (outcome.error or "")
    assert {r.outcome for r in outcome.results} == {Result.FAILED}
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
    assert {r.outcome for r in first.results} == {Result.FAILED}
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


# --- issue 8: one clinic's failure is its own; results say what verification found --------


def two(fakes: dict[str, FakeAdapter]) -> tuple[Any, Any]:
    clinics = [clinic(clinic__id=cid) for cid in fakes]
    return clinics, lambda c: fakes[c.id]


@pytest.mark.parametrize(
    "exc", [ValueError("bad port 'notaport' in mysql://u:pw@h"), KeyError("x"), RecursionError()]
)
def test_an_unexpected_exception_while_reading_is_the_clinics_error(exc: Exception) -> None:
    broken, fine = FakeAdapter(DRIFT, read_raises=exc), FakeAdapter(DRIFT)
    clinics, pick = two({"a-clinic": broken, "b-clinic": fine})
    plan = make_plan(clinics, pick)
    a, b = plan.clinics
    assert a.error is not None and b.error is None and b.changes
    assert f"internal error ({type(exc).__name__} at test_engine.py:" in a.error
    assert "notaport" not in a.error and "pw" not in a.error  # never the exception's text
    assert plan.error_exit is ExitCode.EMR_FAILED


def test_an_adapter_that_cannot_be_made_is_the_clinics_error() -> None:
    fine = FakeAdapter(DRIFT)

    def adapters(c: Clinic) -> Adapter:
        if c.id == "a-clinic":
            raise OSError("driver missing")
        return fine

    plan = make_plan([clinic(clinic__id="a-clinic"), clinic(clinic__id="b-clinic")], adapters)
    assert "no adapter could be made: internal error (OSError" in (plan.clinics[0].error or "")
    assert plan.clinics[1].changes


def test_a_refusal_while_reading_or_applying_is_exit_4() -> None:
    held = FakeAdapter(DRIFT, read_raises=RefusedError("another run holds this clinic"))
    plan = make_plan([clinic()], lambda c: held)
    assert plan.error_exit is ExitCode.REFUSED
    racing = FakeAdapter(DRIFT, raises=RefusedError("another apply is writing"))
    fine = FakeAdapter(DRIFT)
    clinics, pick = two({"a-clinic": racing, "b-clinic": fine})
    report = apply_plan(make_plan(clinics, pick), pick, allow=[SafetyRule.REVOKE_ROLE])
    assert report.exit_code is ExitCode.REFUSED
    assert report.outcomes[0].exit_code is ExitCode.REFUSED and report.outcomes[1].ok
    assert {r.outcome for r in report.outcomes[0].results} == {Result.NOT_ATTEMPTED}
    assert report.outcomes[0].error == "another apply is writing"


def test_an_unexpected_exception_while_applying_is_verified_and_the_others_go_on() -> None:
    broken = FakeAdapter(DRIFT, raises=TypeError("secret-ish detail"))
    fine = FakeAdapter(DRIFT)
    clinics, pick = two({"a-clinic": broken, "b-clinic": fine})
    report = apply_plan(make_plan(clinics, pick), pick, allow=[SafetyRule.REVOKE_ROLE])
    first, second = report.outcomes
    assert report.exit_code is ExitCode.EMR_FAILED and second.ok
    assert "internal error (TypeError at test_engine.py:" in (first.error or "")
    assert "secret-ish" not in (first.error or "")
    assert {(r.attempt, r.verified, r.outcome) for r in first.results} == {
        (Result.FAILED, Verified.NOT_CONVERGED, Result.FAILED)
    }


def test_verification_after_a_failure_tells_the_end_state() -> None:
    class FailsAfterWriting(FakeAdapter):
        def apply(self, clinic: Clinic, changes: Sequence[Any]) -> None:
            self.live = GOOD  # it wrote, then the connection dropped before it could say so
            raise AdapterError("lost the connection")

    fake = FailsAfterWriting(DRIFT)
    report = apply_plan(
        make_plan([clinic()], lambda c: fake), lambda c: fake, [SafetyRule.REVOKE_ROLE]
    )
    (outcome,) = report.outcomes
    assert {(r.attempt, r.verified) for r in outcome.results} == {
        (Result.FAILED, Verified.CONVERGED)
    }


def test_a_change_that_cannot_be_verified_is_unverified_not_applied() -> None:
    class Vanishes(FakeAdapter):
        def apply(self, clinic: Clinic, changes: Sequence[Any]) -> None:
            self.read_raises = AdapterError("the database went away")

    fake = Vanishes(DRIFT)
    report = apply_plan(
        make_plan([clinic()], lambda c: fake), lambda c: fake, [SafetyRule.REVOKE_ROLE]
    )
    (outcome,) = report.outcomes
    assert {r.outcome for r in outcome.results} == {Result.UNVERIFIED}
    assert outcome.error == "could not verify: the database went away"
    assert report.exit_code is ExitCode.EMR_FAILED


class Sink:
    """An audit log that takes ``ok`` clinics, then fails."""

    def __init__(self, ok: int) -> None:
        self.ok, self.lines = ok, []  # type: list[tuple[str, ChangeReport]]

    def record(self, clinic: Clinic, results: Sequence[ChangeReport], plan_id: str) -> None:
        if self.ok == 0:
            raise AuditLogError("cannot write the audit log /dev/full (No space left on device)")
        self.ok -= 1
        self.lines += [(clinic.id, r) for r in results]


def test_an_audit_log_that_fails_stops_apply_before_the_next_clinic() -> None:
    fakes = {cid: FakeAdapter(DRIFT) for cid in ("a-clinic", "b-clinic", "c-clinic")}
    clinics, pick = two(fakes)
    sink = Sink(ok=1)
    report = apply_plan(
        make_plan(clinics, pick), pick, [SafetyRule.REVOKE_ROLE], audit=sink, limits=SEQUENTIAL
    )
    assert report.exit_code is ExitCode.EMR_FAILED
    assert report.stopped is not None and "the results of b-clinic are not in it" in report.stopped
    assert fakes["a-clinic"].applied and fakes["b-clinic"].applied
    assert fakes["c-clinic"].applied == []  # no later clinic is written
    assert {r.outcome for r in report.outcomes[2].results} == {Result.NOT_ATTEMPTED}
    assert [cid for cid, _ in report.written()] == ["a-clinic", "a-clinic", "b-clinic", "b-clinic"]
    assert [cid for cid, _ in sink.lines] == ["a-clinic", "a-clinic"]


def test_the_audit_record_holds_attempt_and_verification() -> None:
    fake = FakeAdapter(DRIFT, sticks=False)
    sink = Sink(ok=5)
    apply_plan(
        make_plan([clinic()], lambda c: fake), lambda c: fake, [SafetyRule.REVOKE_ROLE], sink
    )
    assert {(r.attempt, r.verified, r.outcome, r.detail) for _, r in sink.lines} == {
        (
            Result.APPLIED,
            Verified.NOT_CONVERGED,
            Result.FAILED,
            "reported applied but did not stick",
        )
    }
