"""The simulator's admin API under ``/_sim``: **not part of Accuro**.

It plays the person at Accuro's screens (ticking Provider Permissions boxes, deactivating
the OceanAPI user) and the harness around the simulator (faults, token lifetimes, the
request log), for the demo, the tests and the benchmark when the simulator runs in another
process. It takes no credentials: keep the simulator on a loopback address.

    GET    /_sim/grid/{user}                                   the user's rows
    GET    /_sim/grid/{user}/offices/{o}/providers/{p}         one row, every column
    PATCH  /_sim/grid/{user}/offices/{o}/providers/{p}         {"scheduling": "full", ...}
    PUT    (same)                                              the whole row (others cleared)
    DELETE (same)                                              clear the row
    GET    /_sim/users/{user}      PATCH {"active", "externalAccess", "systemAdmin",
                                          "lockedDate"}
    GET    /_sim/faults            POST {"status": 429|5xx, "retry_after",
                                         "retry_after_date" (send it as an HTTP-date),
                                         "latency", "reset" (close the connection, no
                                         answer), "count" (null: until cleared),
                                         "fraction", "path_prefix", "tenant" (null: all)}
                                   DELETE: clear all
    POST   /_sim/tokens/expire     expire every issued token now
    PUT    /_sim/tokens/lifetime   {"seconds": N}: the expires_in of tokens issued from now
    GET    /_sim/requests          the request log (no header values)    DELETE: clear it
    GET    /_sim/stats             tenants, connections accepted and open (and the most at
                                   once), requests in flight (and the most at once)
    GET    /_sim/tenants           the tenants served: tenant, uuid, the OceanAPI user

The grid and user endpoints act on the primary (first) tenant, or on ``?tenant=NAME``.
A cell's level is ``"full"``, ``"read_only"`` or ``true`` (Full); ``false`` or ``null``
clears it. Columns: patient, scheduling, billing, emr, labs, visible.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from reconciler.emr.accuro import sim_dto as dto
from reconciler.emr.accuro.sim_dto import Reply
from reconciler.emr.accuro.sim_state import Fault, SimState, TenantState
from reconciler.emr.accuro.spec import Permission

_ROW = re.compile(r"/_sim/grid/([^/]+)/offices/(\d+)/providers/(\d+)")
_USER_FIELDS = {
    "active": "active",
    "externalAccess": "external_access",
    "systemAdmin": "system_admin",
    "lockedDate": "locked_date",
}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise Reply(400, dto.error("the body is not JSON")) from None


def _known_user(state: TenantState, username: str) -> None:
    if state.user_named(username) is None:
        raise Reply(404, dto.error(f"no user {username}"))


def _tenant(state: SimState, query: dict[str, str] | None) -> TenantState:
    name = (query or {}).get("tenant")
    found = state.find_tenant(name) if name else state.primary
    if found is None:
        raise Reply(404, dto.error(f"no tenant {name}"))
    return found


def admin(
    state: SimState, method: str, path: str, body: bytes, query: dict[str, str] | None = None
) -> None:
    """Answer one ``/_sim`` request (always by raising :class:`Reply`)."""
    if m := re.fullmatch(r"/_sim/grid/([^/]+)", path):
        tenant = _tenant(state, query)
        _known_user(tenant, m[1])
        raise Reply(200, [dto.grid_row(o, p, c) for o, p, c in tenant.grid_rows(m[1])])
    if m := _ROW.fullmatch(path):
        _grid_row(_tenant(state, query), method, m[1], int(m[2]), int(m[3]), body)
    if m := re.fullmatch(r"/_sim/users/([^/]+)", path):
        _user(_tenant(state, query), method, m[1], body)
    if path == "/_sim/faults":
        _faults(state, method, body)
    if path == "/_sim/stats" and method == "GET":
        raise Reply(200, state.stats())
    if path == "/_sim/tenants" and method == "GET":
        raise Reply(200, [_tenant_summary(t) for t in state.tenants.values()])
    if path == "/_sim/tokens/expire" and method == "POST":
        raise Reply(200, {"expired": state.expire_tokens()})
    if path == "/_sim/tokens/lifetime" and method == "PUT":
        seconds = _json(body).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise Reply(400, dto.error("send {seconds: N}, N >= 0"))
        with state.lock:
            state.token_lifetime = float(seconds)
        raise Reply(200, {"seconds": seconds})
    if path == "/_sim/requests":
        if method == "DELETE":
            with state.lock:
                state.requests.clear()
            raise Reply(204, {})
        with state.lock:
            raise Reply(200, [asdict(r) for r in state.requests])
    raise Reply(404, dto.error(f"no admin endpoint {method} {path}"))


def _tenant_summary(tenant: TenantState) -> dict[str, Any]:
    seed = tenant.seed
    users = sorted({c.service_user for c in seed.clients if c.service_user})
    return {"tenant": seed.tenant, "uuid": seed.uuid, "service_users": users}


def _grid_row(
    state: TenantState, method: str, username: str, office_id: int, provider_id: int, body: bytes
) -> None:
    _known_user(state, username)
    if method == "GET":
        row = state.row(username, office_id, provider_id)
        raise Reply(200, dto.grid_row(office_id, provider_id, row))
    if method == "DELETE":
        cells: dict[Permission, Any] = dict.fromkeys(Permission, None)
    elif method in ("PUT", "PATCH"):
        cells = _cells(_json(body), replace_all=method == "PUT")
    else:
        raise Reply(405, dto.error("use GET, PUT, PATCH or DELETE"))
    row = state.set_cells(username, office_id, provider_id, cells)
    raise Reply(200, dto.grid_row(office_id, provider_id, row))


def _cells(data: Any, *, replace_all: bool) -> dict[Permission, Any]:
    if not isinstance(data, dict):
        raise Reply(400, dto.error("send {column: level}"))
    cells: dict[Permission, Any] = dict.fromkeys(Permission, None) if replace_all else {}
    for name, level in data.items():
        try:
            column = Permission(str(name).lower())
        except ValueError:
            raise Reply(400, dto.error(f"unknown column {name}")) from None
        if level not in (None, False, True, "full", "read_only"):
            raise Reply(400, dto.error(f"{name}: use full, read_only, true or false"))
        cells[column] = level
    return cells


def _user(state: TenantState, method: str, username: str, body: bytes) -> None:
    _known_user(state, username)
    if method == "PATCH":
        data = _json(body)
        if not isinstance(data, dict) or not set(data) <= set(_USER_FIELDS):
            raise Reply(400, dto.error(f"fields: {', '.join(_USER_FIELDS)}"))
        state.set_user(username, **{_USER_FIELDS[k]: v for k, v in data.items()})
    elif method != "GET":
        raise Reply(405, dto.error("use GET or PATCH"))
    user = state.user_named(username)
    assert user is not None
    shown = dto.user(user)
    assert isinstance(shown, dict)
    raise Reply(200, {**shown, "externalAccess": user.external_access})


def _faults(state: SimState, method: str, body: bytes) -> None:
    if method == "DELETE":
        state.clear_faults()
        raise Reply(204, {})
    if method == "POST":
        fault = _fault(_json(body))
        state.add_fault(fault)
        raise Reply(201, fault.describe())
    with state.lock:
        raise Reply(200, [f.describe() for f in state.faults])


def _fault(data: Any) -> Fault:
    if not isinstance(data, dict):
        raise Reply(400, dto.error("send a fault object"))
    try:
        fault = Fault(
            status=int(data["status"]) if data.get("status") is not None else None,
            latency=float(data.get("latency", 0.0)),
            retry_after=int(data.get("retry_after", 1)),
            count=None if data.get("count", 1) is None else int(data.get("count", 1)),
            fraction=float(data.get("fraction", 1.0)),
            path_prefix=str(data.get("path_prefix", "/")),
            tenant=str(data["tenant"]) if data.get("tenant") is not None else None,
            reset=bool(data.get("reset", False)),
            retry_after_date=bool(data.get("retry_after_date", False)),
        )
    except (TypeError, ValueError):
        raise Reply(400, dto.error("bad fault")) from None
    if fault.status is None and not fault.latency and not fault.reset:
        raise Reply(400, dto.error("a fault needs a status, a latency or a reset"))
    if fault.reset and fault.status is not None:
        raise Reply(400, dto.error("a reset answers nothing: no status with it"))
    if fault.status is not None and not (fault.status == 429 or 500 <= fault.status <= 599):
        raise Reply(400, dto.error("status: 429 or 5xx"))
    return fault
