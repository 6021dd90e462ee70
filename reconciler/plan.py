"""Changes and plans: the one object that plan, apply and every renderer share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from reconciler.exitcodes import ExitCode
from reconciler.fleet import Shard
from reconciler.model import Clinic
from reconciler.secrets import REDACTED


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    GRANT = "grant"
    REVOKE = "revoke"
    STEP = "step"

    @property
    def symbol(self) -> str:
        return {"create": "+", "grant": "+", "update": "~", "delete": "-", "revoke": "-"}.get(
            self.value, "*"
        )


class Mode(StrEnum):
    AUTOMATIC = "automatic"  # the adapter makes the change itself
    MANUAL = "manual"  # a person makes it, from the steps given


class SafetyRule(StrEnum):
    """Changes that remove access; each is refused unless ``--allow RULE`` names it."""

    DELETE_LOGIN = "delete-login"
    DELETE_PROVIDER = "delete-provider"
    REVOKE_ROLE = "revoke-role"


class ClinicStatus(StrEnum):
    IN_SYNC = "in_sync"
    CHANGES = "changes"
    ERROR = "error"


ABSENT = "absent"  # the fingerprint of an object that does not exist


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    before: Any
    after: Any
    sensitive: bool = False

    def shown(self) -> tuple[Any, Any]:
        """(before, after) as they may be displayed: a sensitive value never is."""
        if self.sensitive:
            return (REDACTED if self.before is not None else None, REDACTED)
        return (self.before, self.after)


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one live object, identified by a stable ``address``."""

    address: str
    resource: str
    action: Action
    mode: Mode
    fields: tuple[FieldChange, ...] = ()
    impact: str = ""
    steps: tuple[str, ...] = ()
    fingerprint: str = ABSENT
    safety_rule: SafetyRule | None = None
    order: int = 0

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.order, self.address)

    def side(self, which: int) -> dict[str, Any] | None:
        """``before`` (0) or ``after`` (1) as a mapping of displayable values."""
        if (which == 0 and self.action is Action.CREATE) or (
            which == 1 and self.action is Action.DELETE
        ):
            return None
        if self.action in (Action.GRANT, Action.REVOKE):  # a manual grid row says both sides
            shown = [f.shown()[which] for f in self.fields]
            if not any(v is not None for v in shown):
                return None
        if self.action is Action.STEP and not self.fields:
            return None
        return {f.name: f.shown()[which] for f in self.fields}

    def identity(self) -> dict[str, Any]:
        """What must match between a saved plan and a fresh one for apply to proceed."""
        return {
            "address": self.address,
            "action": self.action.value,
            "mode": self.mode.value,
            "before": _jsonable(self.side(0)),
            "after": _jsonable(self.side(1)),
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class ClinicPlan:
    clinic: Clinic
    changes: tuple[Change, ...] = ()
    error: str | None = None
    error_exit: ExitCode = ExitCode.EMR_FAILED  # REFUSED when another run holds the clinic
    notes: tuple[str, ...] = ()
    """What the plan rests on, for a person (``12 cells verified by the API, 30 only
    confirmed``); not part of the plan's identity."""
    observed: Mapping[str, Any] | None = field(default=None, compare=False)
    """What the report draws (its EMR's :attr:`~reconciler.emr.contract.EmrPackage.observed`:
    a grid of states, desired vs live), saved with the plan; not part of its identity."""

    @property
    def status(self) -> ClinicStatus:
        if self.error is not None:
            return ClinicStatus.ERROR
        return ClinicStatus.CHANGES if self.changes else ClinicStatus.IN_SYNC

    @property
    def automatic(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.mode is Mode.AUTOMATIC)

    @property
    def manual(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.mode is Mode.MANUAL)


@dataclass(frozen=True, slots=True)
class Summary:
    clinics: int
    in_sync: int
    with_changes: int
    errors: int
    changes: int
    automatic: int
    manual: int


@dataclass(frozen=True)
class Plan:
    clinics: tuple[ClinicPlan, ...]
    config_commit: str | None = None
    shard: Shard | None = None
    """The ``--shard I/N`` the plan was made with (None: the whole fleet, or all its shards
    combined); saved with the plan, so combining shards can tell when one is missing."""

    @property
    def summary(self) -> Summary:
        changes = [c for cp in self.clinics for c in cp.changes]
        return Summary(
            clinics=len(self.clinics),
            in_sync=sum(cp.status is ClinicStatus.IN_SYNC for cp in self.clinics),
            with_changes=sum(cp.status is ClinicStatus.CHANGES for cp in self.clinics),
            errors=sum(cp.status is ClinicStatus.ERROR for cp in self.clinics),
            changes=len(changes),
            automatic=sum(c.mode is Mode.AUTOMATIC for c in changes),
            manual=sum(c.mode is Mode.MANUAL for c in changes),
        )

    @property
    def has_changes(self) -> bool:
        return any(cp.changes for cp in self.clinics)

    @property
    def has_errors(self) -> bool:
        return any(cp.error is not None for cp in self.clinics)

    @property
    def error_exit(self) -> ExitCode:
        """The exit code the clinics' errors call for (OK when there are none)."""
        return max(
            (cp.error_exit for cp in self.clinics if cp.error is not None), default=ExitCode.OK
        )

    @cached_property
    def plan_id(self) -> str:
        """Stable for the same clinics, desired state, live fingerprints and changes
        (worked out once: every renderer shows it)."""
        return plan_digest(
            [
                {
                    "id": cp.clinic.id,
                    "desired": cp.clinic.desired_hash(),
                    "error": cp.error,
                    "changes": [c.identity() for c in cp.changes],
                }
                for cp in self.clinics
            ]
        )


def plan_digest(body: list[dict[str, Any]]) -> str:
    """The plan id of ``body`` (per clinic: id, desired hash, error, change identities), so a
    saved plan's id can be checked against what it holds."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def jsonable(value: Any) -> Any:
    """Plain JSON data for ``value`` (dates and enums become strings)."""
    return _jsonable(value)
