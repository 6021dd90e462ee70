"""The engine: plan (read + pure diff), and apply the same Plan object, then verify.

Apply is all-or-nothing where it can be: every safety rule and every saved-plan check is
made for every clinic before anything is written, and each clinic's automatic changes go to
its adapter as one unit (one database transaction, where the EMR has transactions).

Clinics are planned and applied concurrently within :class:`~reconciler.fleet.Limits`
(with ``parallelism`` 1, one after another in this thread). Results, audit lines and
printed outcomes come out in plan order whatever order clinics finish in.

One clinic's failure, expected or not, is that clinic's error: the others are still planned
and applied. After every attempt the clinic's live state is read again, so each result says
what was attempted and what verification found; an audit log that cannot be written stops
apply before the next clinic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from reconciler.diff import diff, notes, observed
from reconciler.emr.contract import Adapter
from reconciler.errors import (
    AuditLogError,
    ReconcilerError,
    RefusedError,
    StalePlanError,
    UnsafeChangeError,
    describe_unexpected,
)
from reconciler.exitcodes import ExitCode
from reconciler.fleet import LOCAL, Limits, Progress, Site, run_bounded
from reconciler.interrupt import Interrupted, as_interrupted, interruptible, pending
from reconciler.model import Clinic
from reconciler.plan import Change, ClinicPlan, Mode, Plan, SafetyRule
from reconciler.planfile import SavedPlan
from reconciler.secrets import secret_scope

AdapterFor = Callable[[Clinic], Adapter]
SiteFor = Callable[[Clinic], Site]
log = logging.getLogger("reconciler.engine")


def _error_exit(exc: ReconcilerError) -> ExitCode:
    """The error's own exit code: 4 refused, 3 the EMR failed, 1 this clinic's input (a
    secret that is missing or unusable)."""
    return exc.exit_code


def _unexpected(exc: Exception, doing: str) -> str:
    """One line for a bug: its type and where, never its message (which may quote a secret);
    the traceback goes to the debug log, which ``--debug`` shows."""
    log.debug("%s", doing, exc_info=exc)
    return (
        f"{doing}: internal error ({describe_unexpected(exc)}); re-run with --debug for the "
        "traceback and report it"
    )


def plan_clinic(clinic: Clinic, adapter: Adapter) -> ClinicPlan:
    """Read one clinic's live state and diff it; any failure becomes the clinic's error."""
    with secret_scope(clinic.id):
        try:
            live = adapter.read(clinic)
            changes = tuple(_route(c, adapter) for c in diff(clinic, live))
            found = notes(clinic, live)
            drawn = observed(clinic, live)
        except ReconcilerError as exc:
            return ClinicPlan(clinic, error=str(exc), error_exit=_error_exit(exc))
        except Exception as exc:
            doing = f"the {adapter.name} adapter failed while reading"
            return ClinicPlan(clinic, error=_unexpected(exc, doing))
    return ClinicPlan(clinic, changes=changes, notes=found, observed=drawn)


def _adapter(clinic: Clinic, adapters: AdapterFor) -> Adapter | ClinicPlan:
    """The clinic's adapter, or the clinic's error when none can be made."""
    try:
        return adapters(clinic)
    except ReconcilerError as exc:
        return ClinicPlan(clinic, error=str(exc), error_exit=_error_exit(exc))
    except Exception as exc:
        return ClinicPlan(clinic, error=_unexpected(exc, "no adapter could be made"))


def _route(change: Change, adapter: Adapter) -> Change:
    """A change the adapter cannot write itself becomes a step for a person."""
    if change.mode is Mode.MANUAL or change.resource in adapter.writes:
        return change
    fields = "; ".join(f"{f.name}: {f.shown()[0]} -> {f.shown()[1]}" for f in change.fields)
    step = f"By hand ({adapter.name} cannot write {change.resource}): {change.action.value} "
    step += f"{change.address}" + (f" ({fields})" if fields else "") + "."
    return replace(change, mode=Mode.MANUAL, steps=(*change.steps, step))


def _nowhere(clinic: Clinic) -> Site:
    return LOCAL


def make_plan(
    clinics: Iterable[Clinic],
    adapters: AdapterFor,
    config_commit: str | None = None,
    *,
    limits: Limits | None = None,
    sites: SiteFor = _nowhere,
    progress: Progress | None = None,
) -> Plan:
    """Plan every clinic, concurrently within ``limits``; one clinic's failure does not stop
    the others. The plan lists clinics in the order given."""
    todo = list(clinics)

    def work(clinic: Clinic) -> ClinicPlan:
        adapter = _adapter(clinic, adapters)
        cp = adapter if isinstance(adapter, ClinicPlan) else plan_clinic(clinic, adapter)
        if progress is not None:
            progress.finished(cp.error is None)
        return cp

    plans: dict[int, ClinicPlan] = dict(run_bounded(todo, sites, work, limits or Limits()))
    return Plan(tuple(plans[i] for i in range(len(todo))), config_commit=config_commit)


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


class Result(StrEnum):
    APPLIED = "applied"  # the adapter wrote it, and re-reading found it in effect
    FAILED = "failed"  # the adapter failed, or it reported success but it did not stick
    UNVERIFIED = "unverified"  # the adapter wrote it, but live state could not be re-read
    NOT_ATTEMPTED = "not attempted"
    MANUAL = "manual"  # left to a person: listed as a checklist


class Verified(StrEnum):
    CONVERGED = "converged"  # re-reading found no change needed there any more
    NOT_CONVERGED = "not converged"  # re-reading found the change still needed
    NOT_VERIFIED = "not verified"  # live state could not be re-read


@dataclass(frozen=True, slots=True)
class ChangeReport:
    """One change: what the adapter reported, and what re-reading live state found."""

    change: Change
    attempt: Result
    verified: Verified | None = None  # None: live state was not re-read for it
    detail: str = ""

    @property
    def outcome(self) -> Result:
        """The end result: applied only when the adapter reported it and verification
        found it in effect."""
        if self.attempt is not Result.APPLIED:
            return self.attempt
        if self.verified is Verified.CONVERGED:
            return Result.APPLIED
        return Result.FAILED if self.verified is Verified.NOT_CONVERGED else Result.UNVERIFIED


@dataclass(slots=True)
class ClinicOutcome:
    clinic_id: str
    results: list[ChangeReport] = field(default_factory=list)
    error: str | None = None
    error_exit: ExitCode = ExitCode.EMR_FAILED
    converged: bool = True
    pending_after: tuple[Change, ...] = ()
    interrupted: Interrupted | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.converged

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else self.error_exit

    @property
    def attempted(self) -> list[ChangeReport]:
        """The automatic changes apply handed, or meant to hand, to the adapter."""
        return [r for r in self.results if r.change.mode is Mode.AUTOMATIC]


@dataclass(slots=True)
class ApplyReport:
    outcomes: list[ClinicOutcome] = field(default_factory=list)
    stopped: str | None = None
    """Why apply stopped before the remaining clinics (the audit log could not be written,
    an interrupt)."""
    interrupted: Interrupted | None = None

    @property
    def exit_code(self) -> int:
        """128 + the signal after an interrupt (130 SIGINT, 143 SIGTERM), else the highest
        of the clinics' codes (3 when apply stopped on the audit log)."""
        if self.interrupted is not None:
            return self.interrupted.exit_code
        codes = [o.exit_code for o in self.outcomes]
        if self.stopped is not None:
            codes.append(ExitCode.EMR_FAILED)
        return max(codes, default=ExitCode.OK)

    def written(self) -> list[tuple[str, ChangeReport]]:
        """(clinic, change) for every change the adapter reported written, whatever was
        verified since."""
        return [
            (o.clinic_id, r)
            for o in self.outcomes
            for r in o.results
            if r.attempt is Result.APPLIED
        ]

    def cut_short(self) -> list[tuple[str, ChangeReport]]:
        """(clinic, change) for every change an interrupt cut short while the adapter was
        writing it: rolled back, unless the write had already committed."""
        return [
            (o.clinic_id, r)
            for o in self.outcomes
            for r in o.results
            if r.detail.startswith(_CUT_SHORT)
        ]


class AuditSink(Protocol):
    def record(self, clinic: Clinic, results: Sequence[ChangeReport], plan_id: str) -> None:
        """Append one line per result; raises AuditLogError when it cannot."""


def apply_plan(
    plan: Plan,
    adapters: AdapterFor,
    allow: Sequence[SafetyRule] = (),
    audit: AuditSink | None = None,
    on_outcome: Callable[[ClinicOutcome], None] | None = None,
    *,
    limits: Limits | None = None,
    sites: SiteFor = _nowhere,
    progress: Progress | None = None,
) -> ApplyReport:
    """Apply ``plan`` (already checked against a saved plan, if any), then verify each clinic.

    Clinics are applied concurrently within ``limits``. Each clinic's results go to
    ``audit``, then to ``on_outcome`` and ``report.outcomes``, in plan order once it is
    verified; if the log cannot take them (for any reason), no further clinic starts (those
    already writing finish, and are recorded if the log takes them). An interrupt (see
    :mod:`reconciler.interrupt`) starts no further clinic; in this thread (``parallelism``
    1) it also cuts short an adapter writing or re-reading a clinic. Every clinic is still
    recorded, and ``report.interrupted`` says which signal it was.
    """
    check_safety(plan, allow)
    report = ApplyReport()
    skipped: set[int] = set()

    def may_start() -> bool:
        if report.stopped is None and (interrupt := pending()) is not None:
            _stop_for(report, interrupt)
        return report.stopped is None

    def work(cp: ClinicPlan) -> ClinicOutcome:
        try:
            outcome = _apply_clinic(cp, adapters)
        except KeyboardInterrupt as exc:  # before the adapter was handed anything
            outcome = _not_attempted(cp, "interrupted before anything was written")
            outcome.interrupted = as_interrupted(exc)
        if progress is not None:
            progress.finished(outcome.ok)
        return outcome

    def skip(cp: ClinicPlan) -> ClinicOutcome:
        skipped.add(id(cp))
        return _not_attempted(cp, f"apply stopped before this clinic ({report.stopped})")

    clinics = plan.clinics
    done: dict[int, ClinicOutcome] = {}
    for index, finished in run_bounded(
        clinics,
        lambda cp: sites(cp.clinic),
        work,
        limits or Limits(),
        may_start=may_start,
        skipped=skip,
    ):
        if finished.interrupted is not None:
            _stop_for(report, finished.interrupted)
        done[index] = finished
        while len(report.outcomes) in done:  # in plan order, from here on
            cp = clinics[len(report.outcomes)]
            outcome = done.pop(len(report.outcomes))
            if audit is not None and outcome.attempted and id(cp) not in skipped:
                _record(report, audit, cp, outcome, plan.plan_id)
            _emit(report, cp, outcome, on_outcome)
    return report


def _emit(
    report: ApplyReport,
    cp: ClinicPlan,
    outcome: ClinicOutcome,
    on_outcome: Callable[[ClinicOutcome], None] | None,
) -> None:
    report.outcomes.append(outcome)
    if on_outcome:
        try:
            on_outcome(outcome)
        except Exception as exc:  # its results are recorded; stop before writing more
            if report.stopped is None:
                report.stopped = _unexpected(exc, f"reporting {cp.clinic.id} failed")


def _stop_for(report: ApplyReport, interrupt: Interrupted) -> None:
    report.interrupted = report.interrupted or interrupt
    report.stopped = report.stopped or f"interrupted by {interrupt.name}"


def _record(
    report: ApplyReport, audit: AuditSink, cp: ClinicPlan, outcome: ClinicOutcome, plan_id: str
) -> None:
    """Hand the clinic's results to the audit log; whatever goes wrong there stops apply,
    and the report says what was written."""
    try:
        audit.record(cp.clinic, outcome.attempted, plan_id)
    except AuditLogError as exc:
        report.stopped = f"{exc}: the results of {cp.clinic.id} are not in it"
    except Exception as exc:
        doing = f"the audit log failed for {cp.clinic.id}"
        report.stopped = f"{_unexpected(exc, doing)}; its results are not in it"


def _not_attempted(cp: ClinicPlan, why: str) -> ClinicOutcome:
    outcome = ClinicOutcome(cp.clinic.id, error=cp.error or why, error_exit=cp.error_exit)
    outcome.results = [ChangeReport(c, Result.NOT_ATTEMPTED, detail=why) for c in cp.automatic]
    outcome.results += [ChangeReport(c, Result.MANUAL) for c in cp.manual]
    return outcome


def _apply_clinic(cp: ClinicPlan, adapters: AdapterFor) -> ClinicOutcome:
    if cp.error is not None:
        return _not_attempted(cp, "the clinic could not be planned")
    outcome = ClinicOutcome(cp.clinic.id)
    manual = [ChangeReport(c, Result.MANUAL) for c in cp.manual]
    automatic = cp.automatic
    if not automatic:
        outcome.results = manual
        return outcome
    adapter = _adapter(cp.clinic, adapters)
    if isinstance(adapter, ClinicPlan):
        failed = replace(cp, error=adapter.error, error_exit=adapter.error_exit)
        return _not_attempted(failed, "no adapter could be made")
    attempt, detail = Result.APPLIED, ""
    with secret_scope(cp.clinic.id):
        try:
            with interruptible():
                adapter.apply(cp.clinic, automatic)
        except KeyboardInterrupt as exc:
            if isinstance(exc, Interrupted) and not exc.during:
                raise  # noted before the adapter was handed anything: not attempted
            outcome.interrupted = as_interrupted(exc)
            attempt = Result.FAILED
            detail = f"{_CUT_SHORT} by {outcome.interrupted.name}: rolled back unless it had "
            detail += "already committed; plan again to see"
            outcome.error = detail
        except ReconcilerError as exc:
            refused = isinstance(exc, RefusedError)  # a stale plan, another run's lock
            attempt = Result.NOT_ATTEMPTED if refused else Result.FAILED
            detail, outcome.error, outcome.error_exit = str(exc), str(exc), _error_exit(exc)
        except Exception as exc:
            doing = f"the {adapter.name} adapter failed while applying"
            attempt, detail = Result.FAILED, _unexpected(exc, doing)
            outcome.error = detail
    if outcome.interrupted is not None:
        verified = {c.address: Verified.NOT_VERIFIED for c in automatic}
        problem: str | None = None
    else:
        try:
            with interruptible():
                verified, problem = _verify(cp, adapter)
        except KeyboardInterrupt as exc:
            outcome.interrupted = as_interrupted(exc)
            verified = {c.address: Verified.NOT_VERIFIED for c in automatic}
            problem = f"interrupted by {outcome.interrupted.name} before live state was re-read"
    outcome.results = [
        ChangeReport(
            c, attempt, verified[c.address], detail or _note(attempt, verified[c.address], problem)
        )
        for c in automatic
    ] + manual
    outcome.converged = all(v is Verified.CONVERGED for v in verified.values())
    outcome.pending_after = tuple(
        c for c in automatic if verified[c.address] is Verified.NOT_CONVERGED
    )
    if outcome.error is None and problem is not None:
        outcome.error = problem
    elif outcome.error is None and outcome.pending_after:
        outcome.error = "did not converge: " + ", ".join(c.address for c in outcome.pending_after)
    return outcome


_CUT_SHORT = "interrupted while writing"


def _note(attempt: Result, verified: Verified, problem: str | None) -> str:
    if attempt is Result.APPLIED and verified is Verified.NOT_CONVERGED:
        return "reported applied but did not stick"
    return problem or ""


def _verify(cp: ClinicPlan, adapter: Adapter) -> tuple[dict[str, Verified], str | None]:
    """Re-read live state: which of the clinic's automatic changes are now in effect."""
    after = plan_clinic(cp.clinic, adapter)
    if after.error is not None:
        return {c.address: Verified.NOT_VERIFIED for c in cp.automatic}, (
            f"could not verify: {after.error}"
        )
    still = {c.address for c in after.changes}
    return {
        c.address: Verified.NOT_CONVERGED if c.address in still else Verified.CONVERGED
        for c in cp.automatic
    }, None


__all__ = [
    "ApplyReport",
    "AuditSink",
    "ChangeReport",
    "ClinicOutcome",
    "Result",
    "Verified",
    "apply_plan",
    "check_safety",
    "check_saved_plan",
    "make_plan",
    "plan_clinic",
]
