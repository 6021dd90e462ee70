"""Accuro's pure diff: the OceanAPI user's Provider Permissions, cell by cell. No I/O.

Each cell (office x provider x column) gets one :class:`CellState` from three sources:
what the clinic file wants, what the API shows (:mod:`reconciler.emr.accuro.live`), and
what a person confirmed (``state/<clinic>.yaml``):

- observed as wanted                          -> VERIFIED (in sync)
- not observable, confirmed as wanted         -> CONFIRMED (in sync, only a person's word)
- observed otherwise, though confirmed        -> CONTRADICTED (drift: a grant or revoke again)
- anything else                               -> MISSING (to grant) or EXTRA (to clear)

An unverified cell is never in sync: until it is observed or confirmed it is a manual
change. Each office-and-provider row that needs a change is one manual ``grant``,
``revoke`` or ``update`` at ``accuro.provider_permissions[<user>/<office>/<providerId>]``,
whose fields are the columns to set (``scheduling: unverified -> granted``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.emr.accuro.live import AccuroLive, Observed
from reconciler.emr.accuro.spec import (
    AccuroSpec,
    Permission,
    ProviderGrant,
    UndeclaredPolicy,
)
from reconciler.model import NO_CONFIRMATIONS, Confirmation, Confirmations
from reconciler.plan import Action, Change, FieldChange, Mode

RESOURCE = "accuro.provider_permissions"
GRANTED, CLEARED = "granted", "cleared"
COLUMN = {p: ("EMR" if p is Permission.EMR else p.value.capitalize()) for p in Permission}
ORDER_USER, ORDER_OFFICE, ORDER_ROWS, ORDER_SYNC = 10, 50, 100, 10_000

# What people at the clinic see when the OceanAPI user lacks a column (seeds 000-002), and
# what the API refuses Ocean without it (FACTS.md §3); columns with one symptom share it.
SYMPTOMS: tuple[tuple[frozenset[Permission], str], ...] = (
    (
        frozenset({Permission.PATIENT, Permission.VISIBLE}),
        "{who} goes missing from Ocean's Patients page",
    ),
    (
        frozenset({Permission.SCHEDULING}),
        "bookings at {office} miss the Day Sheet, reminder emails are not sent and patients "
        "cannot confirm appointments from a reminder",
    ),
    (frozenset({Permission.EMR}), "'Save for Ocean' attachments fail (seed 002)"),
    (
        frozenset({Permission.BILLING, Permission.LABS}),
        "Ocean is refused data its setup articles require for every provider schedule",
    ),
)


def symptoms(missing: Sequence[Permission], who: str, office: str) -> str:
    """What people see without ``missing``, each symptom followed by its columns."""
    parts = [
        f"{text.format(who=who, office=office)} ({_columns(sorted(group & set(missing)))})"
        for group, text in SYMPTOMS
        if group & set(missing)
    ]
    return "; ".join(parts)


class CellState(StrEnum):
    VERIFIED = "verified"
    CONFIRMED = "confirmed"
    MISSING = "missing"
    EXTRA = "extra"
    CONTRADICTED = "contradicted"

    @property
    def in_sync(self) -> bool:
        return self is CellState.VERIFIED or self is CellState.CONFIRMED


@dataclass(frozen=True, slots=True)
class Cell:
    """One box of the grid, and what is known of it."""

    address: str  # the row's change address
    office: str
    provider: str  # "Last, First" (or the file's name when nothing was read)
    provider_id: int | None
    permission: Permission
    wanted: bool
    observed: Observed | None
    confirmation: Confirmation | None
    state: CellState

    @property
    def target(self) -> str:
        return GRANTED if self.wanted else CLEARED

    def before(self) -> str:
        """What is known now, in a few words (a plan's ``before``)."""
        conf = self.confirmation
        if self.state is CellState.CONTRADICTED and conf is not None and self.observed:
            return f"observed {self.observed.value}, though {_by(conf)} confirmed it {self.target}"
        if self.observed is not None:
            return f"observed {self.observed.value}"
        if conf is not None:
            return f"{_by(conf)} confirmed it {conf.done[self.permission.value]}"
        return "unverified"


def _by(conf: Confirmation) -> str:
    return f"{conf.by} ({conf.at.date().isoformat()})"


def row_address(user: str, office: str, provider: int | str) -> str:
    return f"{RESOURCE}[{user}/{office}/{provider}]"


def _state(
    wanted: bool, observed: Observed | None, conf: Confirmation | None, perm: str
) -> CellState:
    target = GRANTED if wanted else CLEARED
    confirmed = conf is not None and conf.done.get(perm) == target
    if observed is not None:
        if observed is (Observed.GRANTED if wanted else Observed.NONE):
            return CellState.VERIFIED
        if confirmed:
            return CellState.CONTRADICTED
    elif confirmed:
        return CellState.CONFIRMED
    return CellState.MISSING if wanted else CellState.EXTRA


def _row(
    user: str,
    office: str,
    office_id: int | None,
    provider: str,
    provider_id: int | None,
    key: int | str,
    wanted: frozenset[Permission],
    live: AccuroLive | None,
    confirmed: Confirmations,
) -> list[Cell]:
    address = row_address(user, office, key)
    cells = []
    for perm, name in _PERMISSIONS:
        observed = None
        if perm is Permission.SCHEDULING and live is not None and office_id is not None:
            observed = live.scheduling(office_id, provider_id) if provider_id else None
        conf = confirmed.latest(address, name)
        want = perm in wanted
        state = _state(want, observed, conf, name)
        cells.append(
            Cell(address, office, provider, provider_id, perm, want, observed, conf, state)
        )
    return cells


_PERMISSIONS = tuple((p, p.value) for p in Permission)


_last = threading.local()  # the last grid worked out in this thread, and from what


def cells(
    spec: AccuroSpec, live: AccuroLive | None, confirmed: Confirmations = NO_CONFIRMATIONS
) -> list[Cell]:
    """Every cell the clinic file governs, office by office, in the file's order (then the
    office's undeclared providers, when ``undeclared_providers: revoke``).

    Planning a clinic asks for its grid three times (diff, notes, what a report draws),
    from the same objects: the last grid worked out in this thread is kept for them."""
    key = (spec, live, confirmed)
    last = getattr(_last, "grid", None)
    if last is not None and all(a is b for a, b in zip(last[0], key, strict=True)):
        return list(last[1])
    grid = _cells(spec, live, confirmed)
    _last.grid = (key, tuple(grid))
    return grid


def _cells(spec: AccuroSpec, live: AccuroLive | None, confirmed: Confirmations) -> list[Cell]:
    user = spec.ocean_api_user.username
    revoke = spec.ocean_api_user.undeclared_providers is UndeclaredPolicy.REVOKE
    out: list[Cell] = []
    for office in spec.ocean_api_user.offices:
        lo = live.office(office.name) if live is not None else None
        names = {p.provider_id: p.name for p in lo.providers} if lo else {}
        declared: set[int] = set()
        for grant in office.providers:
            pid = lo.declared_ids[grant.key] if lo else grant.provider_id
            if pid is not None:
                declared.add(pid)
            name = names.get(pid, "") if pid is not None else ""
            out += _row(
                user,
                office.name,
                lo.office_id if lo else None,
                name or _file_name(grant),
                pid,
                pid if lo and pid is not None else grant.key,
                grant.permissions,
                live,
                confirmed,
            )
        if revoke and lo is not None:
            for p in lo.providers:
                if p.provider_id not in declared:
                    out += _row(
                        user, office.name, lo.office_id, p.name, p.provider_id,
                        p.provider_id, frozenset(), live, confirmed,
                    )  # fmt: skip
    return out


def _file_name(grant: ProviderGrant) -> str:
    return grant.name if grant.name else _file_name_of(grant.provider_id)


def _file_name_of(provider_id: int | None) -> str:
    return f"provider id {provider_id}"


def _columns(perms: Iterable[Permission]) -> str:
    return ", ".join(COLUMN[p] for p in sorted(perms, key=list(Permission).index))


def _fingerprint(row: Sequence[Cell]) -> str:
    """What the row was planned from: its observations and the confirmations used."""
    body = [
        [
            c.permission.value,
            c.observed.value if c.observed else None,
            [c.confirmation.by, c.confirmation.at.isoformat()] if c.confirmation else None,
        ]
        for c in row
    ]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()[:16]


def row_change(row: Sequence[Cell], index: int) -> Change | None:
    """The manual change that brings one office-and-provider row to the file, if any."""
    todo = [c for c in row if not c.state.in_sync]
    if not todo:
        return None
    first = row[0]
    check = [c.permission for c in todo if c.wanted]
    clear = [c.permission for c in todo if not c.wanted]
    action = Action.UPDATE if check and clear else Action.GRANT if check else Action.REVOKE
    who = first.provider
    if first.provider_id is not None and first.provider != _file_name_of(first.provider_id):
        who += f" (id {first.provider_id})"
    step = f"Office '{first.office}', {who}:"
    step += f" check {_columns(check)}" if check else ""
    step += (";" if check else "") + f" clear {_columns(clear)}" if clear else ""
    impacts = [symptoms(check, first.provider, f"'{first.office}'")] if check else []
    if clear:
        impacts.append(
            f"the OceanAPI user holds {_columns(clear)} for {first.provider}, which the clinic "
            "file does not grant"
        )
    contradicted = [c for c in todo if c.state is CellState.CONTRADICTED]
    if contradicted:
        impacts.append(
            "Accuro contradicts what was confirmed for "
            + _columns([c.permission for c in contradicted])
        )
    impact = "; ".join(impacts)
    return Change(
        first.address,
        RESOURCE,
        action,
        Mode.MANUAL,
        fields=tuple(FieldChange(c.permission.value, c.before(), c.target) for c in todo),
        impact=impact[:1].upper() + impact[1:] + ".",
        steps=(step + ".",),
        fingerprint=_fingerprint(row),
        order=ORDER_ROWS + index,
    )


def _user_changes(spec: AccuroSpec, live: AccuroLive) -> Iterator[Change]:
    user = live.user
    name = spec.ocean_api_user.username
    fields = []
    if not user.active:
        fields.append(FieldChange("active", False, True))
    if user.locked:
        fields.append(FieldChange("locked", True, False))
    if user.system_admin:
        fields.append(FieldChange("system_admin", True, False))
    if fields:
        yield Change(
            f"accuro.user[{name}]",
            "accuro.user",
            Action.UPDATE,
            Mode.MANUAL,
            fields=tuple(fields),
            impact="An inactive or locked OceanAPI user stops Ocean's integration entirely; a "
            "System Admin one holds far more than the Provider Permissions this file declares.",
            steps=(
                "In Accuro: Users > Manage Security > Users; select the user "
                f"'{name}'; "
                + "; ".join(
                    {
                        "active": "make the user active",
                        "locked": "unlock the user",
                        "system_admin": "clear System Admin",
                    }[f.name]
                    for f in fields
                )
                + "; Save.",
            ),
            fingerprint=hashlib.sha256(repr(user).encode()).hexdigest()[:16],
            order=ORDER_USER,
        )
    if live.user_office_ids is None:
        return
    for index, office in enumerate(live.offices):
        if office.office_id not in live.user_office_ids:
            yield Change(
                f"accuro.user_office[{name}/{office.declared}]",
                "accuro.user_office",
                Action.GRANT,
                Mode.MANUAL,
                impact=f"The OceanAPI user has no access to the office '{office.declared}' at "
                "all: none of its providers reach Ocean.",
                steps=(
                    "In Accuro: Users > Manage Security > Users; select the user "
                    f"'{name}' and give it access to the office '{office.declared}'; Save.",
                ),
                fingerprint=",".join(map(str, sorted(live.user_office_ids))),
                order=ORDER_OFFICE + index,
            )


def full_schedule_sync() -> Change:
    return Change(
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
        order=ORDER_SYNC,
    )


def diff_accuro(
    spec: AccuroSpec, live: AccuroLive | None, confirmed: Confirmations = NO_CONFIRMATIONS
) -> Iterator[Change]:
    """The changes that take Accuro to the file: the user, its offices, the grid rows,
    then Ocean's "Sync Full Schedule" when anything is to be granted."""
    if live is not None:
        yield from _user_changes(spec, live)
    rows: dict[str, list[Cell]] = {}
    for cell in cells(spec, live, confirmed):
        rows.setdefault(cell.address, []).append(cell)
    grants = False
    for index, row in enumerate(rows.values()):
        change = row_change(row, index)
        if change is not None:
            grants = grants or change.action in (Action.GRANT, Action.UPDATE)
            yield change
    if grants and spec.full_schedule_sync:
        yield full_schedule_sync()


def notes_accuro(
    spec: AccuroSpec, live: AccuroLive | None, confirmed: Confirmations = NO_CONFIRMATIONS
) -> tuple[str, ...]:
    """How much of the grid rests on the API and how much on a person's word."""
    grid = cells(spec, live, confirmed)
    count = Counter(c.state for c in grid)
    off = [c for c in grid if c.state is CellState.MISSING or c.state is CellState.EXTRA]
    unverified = sum(1 for c in off if c.observed is None and c.confirmation is None)
    observed = sum(1 for c in off if c.observed is not None)
    parts = [f"{count[CellState.VERIFIED]} verified by Accuro's API"]
    parts.append(f"{count[CellState.CONFIRMED]} only confirmed by a person")
    if count[CellState.CONTRADICTED]:
        parts.append(f"{count[CellState.CONTRADICTED]} contradicted by the API")
    if observed:
        parts.append(f"{observed} observed not as the file wants")
    if unverified:
        parts.append(f"{unverified} unverified")
    people = [c.confirmation for c in grid if c.state is CellState.CONFIRMED and c.confirmation]
    latest = max(people, key=lambda r: r.at) if people else None
    line = f"Provider Permissions, {len(grid)} cells: " + ", ".join(parts)
    line += f" (latest confirmation: {_by(latest)})." if latest else "."
    if live is None:
        return (line, "Accuro's API was not read: nothing is observed.")
    return (line,)


# --- what the report draws (EmrPackage.observed) ---------------------------------------------

NOT_DECLARED = "-"


def cell_code(cell: Cell) -> str:
    """The cell's one-letter state for the report (see ``EmrPackage.observed``): ``V``
    verified, ``C`` confirmed, ``D`` contradicted, ``M``/``X`` known missing/extra (observed,
    or confirmed otherwise), ``U`` unverified (neither observed nor confirmed); upper case
    where the file grants the box, lower case where it clears it."""
    if cell.state is CellState.VERIFIED:
        code = "V"
    elif cell.state is CellState.CONFIRMED:
        code = "C"
    elif cell.state is CellState.CONTRADICTED:
        code = "D"
    elif cell.observed is None and cell.confirmation is None:
        code = "U"
    else:
        code = "M" if cell.wanted else "X"
    return code if cell.wanted else code.lower()


def _grid_row(codes: str, provider_id: int | None, name: str) -> str:
    return f"{codes} {provider_id if provider_id is not None else NOT_DECLARED} {name}"


def observed_accuro(
    spec: AccuroSpec, live: AccuroLive | None, confirmed: Confirmations = NO_CONFIRMATIONS
) -> dict[str, Any]:
    """The grid as the report draws it: per office, one row per provider (declared, then the
    providers the API lists that the file does not declare), one state code per column;
    and the OceanAPI user's own set-up, desired vs live."""
    user = spec.ocean_api_user.username
    groups: dict[str, list[str]] = {o.name: [] for o in spec.ocean_api_user.offices}
    rows: dict[str, list[Cell]] = {}
    for cell in cells(spec, live, confirmed):
        rows.setdefault(cell.address, []).append(cell)
    shown: dict[str, set[int]] = {name: set() for name in groups}
    for row in rows.values():
        first = row[0]
        groups[first.office].append(
            _grid_row("".join(cell_code(c) for c in row), first.provider_id, first.provider)
        )
        if first.provider_id is not None:
            shown[first.office].add(first.provider_id)
    if live is not None:
        for office in live.offices:
            groups[office.declared] += [
                _grid_row(NOT_DECLARED * len(Permission), p.provider_id, p.name)
                for p in office.providers
                if p.provider_id not in shown[office.declared]
            ]
    drawn: dict[str, Any] = {
        "grid": {
            "title": f"Provider Permissions of {user}",
            "group": "Office",
            "row": "Provider",
            "columns": [COLUMN[p] for p in Permission],
            "groups": [{"name": name, "rows": listed} for name, listed in groups.items()],
        }
    }
    if live is not None:
        drawn["compare"] = _user_rows(user, live)
    return drawn


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _user_rows(name: str, live: AccuroLive) -> list[list[str]]:
    section = f"OceanAPI user {name}"
    u = live.user
    out = [
        [section, field, _yes(want), _yes(have), "same" if want == have else "different"]
        for field, want, have in (
            ("active", True, u.active),
            ("locked", False, u.locked),
            ("System Admin", False, u.system_admin),
        )
    ]
    for office in live.offices:
        field = f"access to office '{office.declared}'"
        if live.user_office_ids is None:
            out.append([section, field, "yes", "not known", "unknown"])
        else:
            has = office.office_id in live.user_office_ids
            out.append([section, field, "yes", _yes(has), "same" if has else "missing"])
    return out
