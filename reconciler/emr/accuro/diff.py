"""Accuro's pure diff: the Provider Permissions grid as a checklist (seeds 000-002). No I/O."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.emr.accuro.spec import ALL_PERMISSIONS, AccuroSpec, Permission, UndeclaredPolicy
from reconciler.plan import Action, Change, Mode

_GRID = [p.value.capitalize() if p is not Permission.EMR else "EMR" for p in Permission]


def _columns(perms: frozenset[Permission]) -> str:
    return ", ".join(col for col, p in zip(_GRID, Permission, strict=True) if p in perms)


def diff_accuro(spec: AccuroSpec, live: Any = None) -> Iterator[Change]:
    """The Provider Permissions grid is not in Accuro's API: give it to a person (seed 000).

    ``live`` is what the adapter read; the manual adapter reads nothing (None).
    """
    user = spec.ocean_api_user.username
    revoke = spec.ocean_api_user.undeclared_providers is UndeclaredPolicy.REVOKE
    for index, office in enumerate(spec.ocean_api_user.offices):
        lines = [
            "In Accuro: Users > Manage Security > Users; select the user "
            f"'{user}'; open the 'Provider Permissions' tab.",
            f"Office '{office.name}':",
        ]
        for grant in office.providers:
            who = grant.name if grant.name else f"provider id {grant.provider_id}"
            line = f"  {who}: check {_columns(grant.permissions)}"
            if grant.permissions != ALL_PERMISSIONS:
                line += f"; uncheck {_columns(ALL_PERMISSIONS - grant.permissions)}"
            lines.append(line + ".")
        if revoke:
            lines.append("  Every other provider in this office: uncheck all six columns.")
        lines.append("Press 'Save'.")
        yield Change(
            f"accuro.provider_permissions[{user}/{office.name}]",
            "accuro.provider_permissions",
            Action.STEP,
            Mode.MANUAL,
            impact="Without these permissions providers go missing from Ocean's Patients "
            "page, bookings miss the Day Sheet and reminders are not sent.",
            steps=tuple(lines),
            order=100 + index,
        )
    if spec.full_schedule_sync:
        yield Change(
            "ocean.full_schedule_sync",
            "ocean.full_schedule_sync",
            Action.STEP,
            Mode.MANUAL,
            impact="Ocean picks up the new permissions only after a full schedule sync.",
            steps=(
                "In Ocean Cloud Connect (Site Admin): under 'Sync Status', open the menu right "
                "of 'Sync Recent Appointments' and choose 'Sync Full Schedule'.",
                "Wait until the status bar turns from green back to blue.",
                "Refresh Ocean's Patients page and check that the providers appear.",
            ),
            order=10_000,
        )
