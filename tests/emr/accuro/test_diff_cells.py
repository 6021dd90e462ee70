"""The Accuro diff, pure: which state each cell gets from the file, the API and a person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.emr.accuro import api_model as m
from reconciler.emr.accuro.diff import CellState, cells, diff_accuro, notes_accuro, row_address
from reconciler.emr.accuro.live import AccuroLive, LiveOffice, LiveProvider, Observed
from reconciler.emr.accuro.spec import (
    AccuroApi,
    AccuroSpec,
    Grant,
    OceanApiUser,
    OfficeGrant,
    Permission,
    ProviderGrant,
    UndeclaredPolicy,
)
from reconciler.model import Confirmation, Confirmations
from reconciler.plan import Action
from reconciler.secrets import SecretRef

USER = "OceanAPI1"
ALL = frozenset(Permission)


def spec(
    *offices: tuple[str, list[tuple[int, frozenset[Permission]]]],
    undeclared: UndeclaredPolicy = UndeclaredPolicy.REPORT,
) -> AccuroSpec:
    ref = SecretRef.from_document({"env": "X"}, None, "x")  # type: ignore[arg-type]
    return AccuroSpec(
        api=AccuroApi("http://127.0.0.1", "T", "u", ref, ref, ref, Grant.CLIENT_CREDENTIALS),
        ocean_api_user=OceanApiUser(
            USER,
            None,
            tuple(
                OfficeGrant(name, tuple(ProviderGrant(None, pid, perms) for pid, perms in rows))
                for name, rows in offices
            ),
            undeclared,
        ),
        full_schedule_sync=True,
    )


def live(
    offices: dict[str, tuple[int, list[int]]],
    read: set[int] | None,
    write: set[int] | None,
    user_offices: set[int] | None = None,
    **user: object,
) -> AccuroLive:
    los = tuple(
        LiveOffice(
            name,
            oid,
            True,
            tuple(LiveProvider(p, f"Doc{p}, A") for p in providers),
            {f"id:{p}": p for p in providers},
        )
        for name, (oid, providers) in offices.items()
    )
    ids = {o.office_id for o in los}
    return AccuroLive(
        user=m.User(57, USER, bool(user.get("active", True)), bool(user.get("admin", False))),
        offices=los,
        user_office_ids=frozenset(ids if user_offices is None else user_offices),
        read_ids=None if read is None else frozenset(read),
        write_ids=None if write is None else frozenset(write),
    )


def state_of(grid: list, office: str, provider: int, perm: Permission) -> CellState:
    return next(
        c.state
        for c in grid
        if c.office == office and c.provider_id == provider and c.permission is perm
    )


def confirm(address: str, by: str = "Dana", **done: str) -> Confirmation:
    return Confirmation(address, done, by, datetime(2026, 12, 1, 12, tzinfo=UTC))


def test_scheduling_is_observed_only_where_it_can_be_attributed() -> None:
    s = spec(("A", [(1, ALL), (2, ALL), (3, ALL)]), ("B", [(1, ALL)]))
    lv = live({"A": (10, [1, 2, 3]), "B": (20, [1])}, read={1, 2}, write={2})
    grid = cells(s, lv)
    # 1 is listed by both offices: present somewhere, but which? Unverified.
    assert state_of(grid, "A", 1, Permission.SCHEDULING) is CellState.MISSING
    assert next(c for c in grid if c.provider_id == 1 and c.permission is Permission.SCHEDULING
                ).observed is None  # fmt: skip
    # 2 only in A, Full access: verified.
    assert state_of(grid, "A", 2, Permission.SCHEDULING) is CellState.VERIFIED
    # 3 has no appointment access anywhere: observed missing.
    assert state_of(grid, "A", 3, Permission.SCHEDULING) is CellState.MISSING
    # Every other column is never observed.
    assert state_of(grid, "A", 2, Permission.PATIENT) is CellState.MISSING


def test_read_only_scheduling_is_not_what_the_file_wants() -> None:
    s = spec(("A", [(1, ALL)]))
    grid = cells(s, live({"A": (10, [1])}, read={1}, write=set()))
    cell = next(c for c in grid if c.permission is Permission.SCHEDULING)
    assert cell.observed is Observed.READ_ONLY and cell.state is CellState.MISSING


def test_an_office_the_adapter_did_not_read_leaves_scheduling_unverified() -> None:
    s = spec(("A", [(1, ALL)]))
    lv = live({"A": (10, [1])}, read={1}, write={1}, user_offices={10, 99})
    assert next(c for c in cells(s, lv) if c.permission is Permission.SCHEDULING).observed is None


def test_without_a_user_bound_token_nothing_is_observed() -> None:
    s = spec(("A", [(1, ALL)]))
    grid = cells(s, live({"A": (10, [1])}, read=None, write=None))
    assert all(c.observed is None for c in grid)


def test_confirmed_contradicted_and_opposite_confirmations() -> None:
    s = spec(("A", [(1, ALL - {Permission.BILLING}), (3, ALL)]))
    a1, a3 = row_address(USER, "A", 1), row_address(USER, "A", 3)
    confirmed = Confirmations(
        (
            confirm(a1, patient="granted", billing="cleared", emr="cleared"),
            confirm(a3, scheduling="granted"),
        )
    )
    grid = cells(s, live({"A": (10, [1, 3])}, read={1}, write={1}), confirmed)
    assert state_of(grid, "A", 1, Permission.PATIENT) is CellState.CONFIRMED
    assert state_of(grid, "A", 1, Permission.BILLING) is CellState.CONFIRMED  # cleared as wanted
    assert state_of(grid, "A", 1, Permission.EMR) is CellState.MISSING  # confirmed the opposite
    assert state_of(grid, "A", 1, Permission.SCHEDULING) is CellState.VERIFIED
    assert state_of(grid, "A", 3, Permission.SCHEDULING) is CellState.CONTRADICTED


def test_the_latest_confirmation_wins() -> None:
    s = spec(("A", [(1, ALL)]))
    a1 = row_address(USER, "A", 1)
    older = confirm(a1, patient="granted")
    newer = Confirmation(a1, {"patient": "cleared"}, "Sam", datetime(2026, 12, 2, tzinfo=UTC))
    grid = cells(s, live({"A": (10, [1])}, None, None), Confirmations((newer, older)))
    assert state_of(grid, "A", 1, Permission.PATIENT) is CellState.MISSING


def test_rows_become_grant_revoke_or_update_with_a_sync_only_after_grants() -> None:
    s = spec(("A", [(1, ALL), (2, frozenset())]))
    lv = live({"A": (10, [1, 2])}, None, None)
    a1 = row_address(USER, "A", 1)
    done = Confirmations((confirm(a1, **dict.fromkeys((p.value for p in Permission), "granted")),))
    changes = list(diff_accuro(s, lv, done))
    assert [(c.address, c.action) for c in changes] == [(row_address(USER, "A", 2), Action.REVOKE)]
    changes = list(diff_accuro(s, lv))
    assert [c.action for c in changes] == [Action.GRANT, Action.REVOKE, Action.STEP]


def test_undeclared_providers_are_revoked_only_when_asked() -> None:
    lv = live({"A": (10, [1, 5])}, None, None)
    assert not any(c.provider_id == 5 for c in cells(spec(("A", [(1, ALL)])), lv))
    revoking = cells(spec(("A", [(1, ALL)]), undeclared=UndeclaredPolicy.REVOKE), lv)
    assert {c.state for c in revoking if c.provider_id == 5} == {CellState.EXTRA}


@pytest.mark.parametrize(
    ("user", "fields"),
    [
        ({"active": False}, ["active"]),
        ({"admin": True}, ["system_admin"]),
    ],
)
def test_the_users_own_state(user: dict[str, bool], fields: list[str]) -> None:
    lv = live({"A": (10, [1])}, None, None, **user)
    change = next(diff_accuro(spec(("A", [(1, ALL)])), lv))
    assert change.address == f"accuro.user[{USER}]"
    assert [f.name for f in change.fields] == fields


def test_fingerprints_follow_observations_and_confirmations() -> None:
    s = spec(("A", [(1, ALL)]))
    a1 = row_address(USER, "A", 1)
    base = next(diff_accuro(s, live({"A": (10, [1])}, set(), set()))).fingerprint
    observed = next(diff_accuro(s, live({"A": (10, [1])}, {1}, set()))).fingerprint
    labs = Confirmations((confirm(a1, labs="granted"),))
    confirmed = next(diff_accuro(s, live({"A": (10, [1])}, set(), set()), labs)).fingerprint
    assert len({base, observed, confirmed}) == 3


def test_notes_count_each_kind_of_cell() -> None:
    s = spec(("A", [(1, ALL), (2, ALL)]))
    a2 = row_address(USER, "A", 2)
    confirmed = Confirmations((confirm(a2, scheduling="granted", patient="granted"),))
    (note,) = notes_accuro(s, live({"A": (10, [1, 2])}, {1}, {1}), confirmed)
    assert note.startswith("Provider Permissions, 12 cells: 1 verified by Accuro's API, ")
    assert "1 only confirmed by a person, 1 contradicted by the API, 9 unverified" in note
