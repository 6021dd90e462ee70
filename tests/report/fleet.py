"""A small fleet for the report's tests: two Accuro clinics (one drifting, one in sync on a
person's word), three OSCAR clinics (drift, in sync, unreadable by design) and one that
could not be read; planned through the engine with fixed live states, so every clinic's
``observed`` is what a real plan would save."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.emr.accuro import api_model as m
from reconciler.emr.accuro.diff import row_address
from reconciler.emr.accuro.live import AccuroLive, LiveOffice, LiveProvider
from reconciler.emr.contract import Adapter
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.engine import make_plan
from reconciler.errors import EMRConnectionError
from reconciler.model import Clinic, Confirmation, Confirmations
from reconciler.plan import Plan
from tests.conftest import ACCURO_DOC, OSCAR_DOC, ROOT

USER = "OceanAPI12345"
MAIN, WALK_IN = "Main Street Office", "Lakeshore Walk-In Clinic"
EVIL = "<script>alert('x')</script>, Evil"
SIX = ["patient", "scheduling", "billing", "emr", "labs", "visible"]
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def _clinic(data: dict[str, Any]) -> Clinic:
    path = f"clinics/{data['clinic']['id']}.yaml"
    return build_clinic(YamlDocument(path, data), ROOT / "clinics" / "x.yaml")


def accuro_doc(cid: str, name: str) -> dict[str, Any]:
    data = copy.deepcopy(ACCURO_DOC)
    data["clinic"] = {"id": cid, "name": name}
    data["ocean_api_user"]["offices"] = [
        {
            "name": MAIN,
            "providers": [
                {"name": "Smith, Jane"},
                {"name": "Okafor, Chidi"},
                {"id": 1042},
                {"name": "Nguyen, Linh", "permissions": [p for p in SIX if p != "billing"]},
            ],
        },
        {"name": WALK_IN, "providers": [{"name": "Smith, Jane"}, {"name": EVIL}]},
    ]
    return data


def accuro_live(write: set[int], read: set[int] | None = None) -> AccuroLive:
    main = (1001, "Smith, Jane"), (1002, "Okafor, Chidi"), (1042, "Tremblay, Luc")
    main += ((1003, "Nguyen, Linh"), (1009, "Locum, Pat"))
    walk_in = (1001, "Smith, Jane"), (1005, EVIL)

    def office(name: str, oid: int, providers: tuple[tuple[int, str], ...]) -> LiveOffice:
        declared = {f"name:{n}": pid for pid, n in providers} | {"id:1042": 1042}
        return LiveOffice(
            name,
            oid,
            True,
            tuple(LiveProvider(pid, n) for pid, n in providers),
            {k: v for k, v in declared.items() if v in {p for p, _ in providers}},
        )

    return AccuroLive(
        user=m.User(57, USER, True, False),
        offices=(office(MAIN, 1, main), office(WALK_IN, 2, walk_in)),
        user_office_ids=frozenset({1, 2}),
        read_ids=frozenset(write if read is None else read),
        write_ids=frozenset(write),
    )


def _confirm(office: str, provider: int, when: datetime = WHEN, **done: str) -> Confirmation:
    return Confirmation(row_address(USER, office, provider), done, "Dana Ops", when)


def lakeside() -> tuple[Clinic, AccuroLive]:
    """Drift: Okafor and Nguyen lack Scheduling (observed), Smith's Main Street row was
    confirmed but the API contradicts Scheduling, Tremblay is confirmed, the rest unknown."""
    clinic = _clinic(accuro_doc("lakeside-medical", "Lakeside Medical Centre"))
    done = Confirmations(
        (
            _confirm(MAIN, 1001, **dict.fromkeys(SIX, "granted")),
            _confirm(MAIN, 1042, **dict.fromkeys(SIX, "granted")),
            _confirm(MAIN, 1003, billing="cleared", patient="granted"),
        )
    )
    # 1001 is listed by both offices: Scheduling cannot be attributed; 1042 has Full access.
    live = accuro_live(write={1042, 1005}, read={1042, 1005, 1003})
    return replace(clinic, confirmations=done), live


def northgate() -> tuple[Clinic, AccuroLive]:
    """In sync: every box confirmed by a person, Scheduling verified where it can be."""
    clinic = _clinic(accuro_doc("northgate-family", "Northgate Family Practice"))
    records = []
    for office, pid, cleared in (
        (MAIN, 1001, ()),
        (MAIN, 1002, ()),
        (MAIN, 1042, ()),
        (MAIN, 1003, ("billing",)),
        (WALK_IN, 1001, ()),
        (WALK_IN, 1005, ()),
    ):
        done = {p: ("cleared" if p in cleared else "granted") for p in SIX}
        records.append(_confirm(office, pid, **done))
    live = accuro_live(write={1001, 1002, 1042, 1003, 1005})
    return replace(clinic, confirmations=Confirmations(tuple(records))), live


def oscar(cid: str, name: str, **changes: Any) -> Clinic:
    data = copy.deepcopy(OSCAR_DOC)
    data["clinic"] = {"id": cid, "name": name}
    for key, value in changes.items():
        data[key] = value
    return _clinic(data)


DRIFT = OscarLive(
    provider=OscarProviderRow("999990", "Connect", "Ocean", "doctor", active=True),
    roles=frozenset({"doctor", "admin"}),
    primary_role=None,
    login=OscarLoginRow("OceanConnect", "999990", True, True, True, date(2025, 1, 31), True, False),
)
IN_SYNC = OscarLive(
    provider=DRIFT.provider,
    roles=frozenset({"doctor"}),
    primary_role="doctor",
    login=OscarLoginRow("OceanConnect", "999990", True, False, False, None, True, True),
)


class _Fixed(Adapter):
    name = "fixed"
    writes = frozenset({"oscar.provider", "oscar.role", "oscar.primary_role", "oscar.login"})

    def __init__(self, lives: dict[str, Any]) -> None:
        self.lives = lives

    def read(self, clinic: Clinic) -> Any:
        live = self.lives[clinic.id]
        if isinstance(live, Exception):
            raise live
        return live


def fleet() -> Plan:
    """The fleet, planned as ``plan`` would plan it."""
    lake, lake_live = lakeside()
    north, north_live = northgate()
    manual = {"kind": "oscar", "edition": "pro", "backend": "manual"}
    clinics = [
        lake,
        north,
        oscar("riverside-fht", "Riverside Family Health Team"),
        oscar("maple-grove", "Maple Grove Clinic"),
        oscar("harbourview-pro", "Harbourview Clinic", emr=manual),
        oscar("broken-clinic", "Broken Clinic"),
    ]
    lives: dict[str, Any] = {
        lake.id: lake_live,
        north.id: north_live,
        "riverside-fht": DRIFT,
        "maple-grove": IN_SYNC,
        "harbourview-pro": None,
        "broken-clinic": EMRConnectionError(
            "broken-clinic: OSCAR database error while reading: (2003, Can't connect)"
        ),
    }
    adapter = _Fixed(lives)
    return make_plan(clinics, lambda c: adapter, "0123456789abcdef0123456789abcdef01234567")


def audit_lines(path: Path) -> None:
    """An audit log where riverside-fht was applied twice (the later run counts) and
    maple-grove once."""
    lines = [
        '{"time": "2026-10-01T08:00:00+00:00", "run": "aaa", "clinic": "riverside-fht", '
        '"result": "failed"}',
        '{"time": "2026-11-01T08:00:00+00:00", "run": "bbb", "clinic": "riverside-fht", '
        '"result": "applied"}',
        '{"time": "2026-11-01T08:00:01+00:00", "run": "bbb", "clinic": "riverside-fht", '
        '"result": "applied"}',
        "not json at all",
        '{"time": "2026-09-30T10:00:00+00:00", "run": "ccc", "clinic": "maple-grove", '
        '"result": "applied"}',
        '{"time": "2026-09-30T10:00:00+00:00", "run": "ccc", "clinic": "maple-gr',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
