"""The engine: plan (read + pure diff), and apply the same Plan object, then verify.

Apply is all-or-nothing where it can be: every safety rule and every saved-plan check is
made for every clinic before anything is written, and each clinic's automatic changes go to
its adapter as one unit (one database transaction, where the EMR has transactions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from reconciler.audit import AuditLog
from reconciler.diff import diff
from reconciler.emr.contract import Adapter, ChangeResult, Outcome
from reconciler.errors import (
    AdapterError,
    ReconcilerError,
    SecretError,
    StalePlanError,
    UnsafeChangeError,
)
from reconciler.exitcodes import ExitCode
from reconciler.model import Clinic
from reconciler.plan import Change, ClinicPlan, Mode, Plan, SafetyRule
from reconciler.planfile import SavedPlan
from reconciler.secrets import redact

AdapterFor = Callable[[Clinic], Adapter]


def plan_clinic(clinic: Clinic, adapter: Adapter) -> ClinicPlan:
    """Read one clinic's live state and diff it; a failure becomes the clinic's error."""
    try:
        live = adapter.read(clinic)
    except (AdapterError, SecretError) as exc:
        return ClinicPlan(clinic, error=redact(str(exc)))
    changes = tuple(_route(c, adapter) for c in diff(clinic, live))
    return ClinicPlan(clinic, changes=changes)


def _route(change: Change, adapter: Adapter) -> Change:
    """A change the adapter cannot write itself becomes a step for a person."""
    if change.mode is Mode.MANUAL or change.resource in adapter.writes:
        return change
    fields = "; ".join(f"{f.name}: {f.shown()[0]} -> {f.shown()[1]}" for f in change.fields)
    step = f"By hand ({adapter.name} cannot write {change.resource}): {change.action.value} "
    step += f"{change.address}" + (f" ({fields})" if fields else "") + "."
    return replace(change, mode=Mode.MANUAL, steps=(*change.steps, step))


def make_plan(
    clinics: Iterable[Clinic], adapters: AdapterFor, config_commit: str | None = None
) -> Plan:
    """Plan every clinic; one clinic's failure does not stop the others."""
    return Plan(tuple(plan_clinic(c, adapters(c)) for c in clinics), config_commit=config_commit)


def unsafe_changes(plan: Plan, allow: Iterable[SafetyRule]) -> list[tuple[str, Change]]:
    allowed = set(allow)
    return [
        (cp.clinic.id, c)
        for cp in plan.clinics
        for c in cp.automatic
        if c.safety_rule is not None and c.safety_rule not in allowed
    ]


def check_safety(plan: Plan, allow: Iterable[SafetyRule]) -> None:
    """Refuse (exit 4) when a change removes access and its rule was not allowed."""
    refused = unsafe_changes(plan, allow)
    if not refused:
        return
    rules = sorted({c.safety_rule.value for _, c in refused if c.safety_rule})
    lines = [f"  {cid}: {c.action.value} {c.address} (rule {c.safety_rule})" for cid, c in refused]
    raise UnsafeChangeError(
        "refusing changes that remove access:\n" + "\n".join(lines) + "\n"
        f"Review them, then re-run with {' '.join(f'--allow {r}' for r in rules)}"
    )


def check_saved_plan(saved: SavedPlan, fresh: Plan) -> Plan:
    """The fresh plan, cut to exactly the saved plan's changes; refuse if anything moved."""
    by_id = {cp.clinic.id: cp for cp in fresh.clinics}
    problems: list[str] = []
    kept: list[ClinicPlan] = []
    for saved_clinic in saved.clinics:
        cid = saved_clinic.id
        cp = by_id.get(cid)
        if cp is None:
            problems.append(f"{cid}: the clinic is no longer in the clinic files given")
            continue
        if cp.clinic.desired_hash() != saved_clinic.desired_hash:
            problems.append(
                f"{cid}: its clinic file ({cp.clinic.source.file}) changed since the plan"
            )
            continue
        if cp.error is not None:
            problems.append(f"{cid}: cannot be read now: {cp.error}")
            continue
        fresh_changes = {c.address: c for c in cp.changes}
        for identity in saved_clinic.changes:
            current = fresh_changes.get(identity["address"])
            if current is None:
                problems.append(
                    f"{cid}: {identity['address']} changed since the plan "
                    "(no change is needed there any more)"
                )
            elif current.identity() != identity:
                problems.append(f"{cid}: {identity['address']} changed since the plan")
        extra = set(fresh_changes) - {i["address"] for i in saved_clinic.changes}
        problems += [
            f"{cid}: {a} changed since the plan (a new change is needed)" for a in sorted(extra)
        ]
        kept.append(cp)
    if problems:
        raise StalePlanError(
            f"the saved plan {saved.plan_id} is stale; nothing was applied:\n  "
            + "\n  ".join(problems)
            + "\nRun `reconcile plan` again and review the new plan."
        )
    return Plan(tuple(kept), config_commit=fresh.config_commit)


@dataclass(slots=True)
class ClinicOutcome:
    clinic_id: str
    results: list[ChangeResult] = field(default_factory=list)
    error: str | None = None
    converged: bool = True
    pending_after: tuple[Change, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and self.converged


@dataclass(slots=True)
class ApplyReport:
    outcomes: list[ClinicOutcome] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if all(o.ok for o in self.outcomes) else ExitCode.EMR_FAILED


def apply_plan(
    plan: Plan,
    adapters: AdapterFor,
    allow: Sequence[SafetyRule] = (),
    audit: AuditLog | None = None,
    on_outcome: Callable[[ClinicOutcome], None] | None = None,
) -> ApplyReport:
    """Apply ``plan`` (already checked against a saved plan, if any), then verify each clinic."""
    check_safety(plan, allow)
    report = ApplyReport()
    for cp in plan.clinics:
        outcome = _apply_clinic(cp, adapters(cp.clinic), audit)
        report.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return report


def _apply_clinic(cp: ClinicPlan, adapter: Adapter, audit: AuditLog | None) -> ClinicOutcome:
    outcome = ClinicOutcome(cp.clinic.id)
    if cp.error is not None:
        outcome.error = cp.error
        outcome.results = [ChangeResult(c, Outcome.NOT_ATTEMPTED) for c in cp.changes]
        return outcome
    automatic = cp.automatic
    try:
        adapter.apply(cp.clinic, automatic)
    except ReconcilerError as exc:
        message = redact(str(exc))
        outcome.error = message
        outcome.results = [ChangeResult(c, Outcome.FAILED, message) for c in automatic]
        if isinstance(exc, StalePlanError):
            outcome.results = [ChangeResult(c, Outcome.NOT_ATTEMPTED, message) for c in automatic]
    else:
        outcome.results = [ChangeResult(c, Outcome.APPLIED) for c in automatic]
    outcome.results += [ChangeResult(c, Outcome.MANUAL) for c in cp.manual]
    if audit:
        for result in outcome.results:
            if result.change.mode is Mode.AUTOMATIC:
                audit.record(cp.clinic.id, result)
    if automatic and outcome.error is None:
        _verify(cp, adapter, outcome)
    return outcome


def _verify(cp: ClinicPlan, adapter: Adapter, outcome: ClinicOutcome) -> None:
    """Re-read live state: an applied change that did not stick is a failure."""
    after = plan_clinic(cp.clinic, adapter)
    if after.error is not None:
        outcome.converged = False
        outcome.error = f"could not verify: {after.error}"
        return
    applied = {c.address for c in cp.automatic}
    still = tuple(c for c in after.automatic if c.address in applied)
    if still:
        outcome.converged = False
        outcome.pending_after = still
        outcome.error = "did not converge: " + ", ".join(c.address for c in still)
        failed = {c.address for c in still}
        outcome.results = [
            ChangeResult(r.change, Outcome.FAILED, "reported applied but did not stick")
            if r.change.address in failed
            else r
            for r in outcome.results
        ]


__all__ = [
    "ApplyReport",
    "ClinicOutcome",
    "apply_plan",
    "check_safety",
    "check_saved_plan",
    "make_plan",
    "plan_clinic",
]
