"""The Accuro simulator's seed: one clinic's Accuro (a tenant), or several on one host, read
from a YAML or JSON file. One tenant is a mapping:

    tenant: LAKESIDE                       # the ACRON the token endpoint is asked for
    uuid: 3f1c8f2e-...                     # the database UUID every /rest call must carry
    token_lifetime_seconds: 3600           # expires_in (Okta's 1 h, FACTS §1a)
    clients:                               # partner OAuth clients (client credentials)
      - client_id: {env: NAME}             # a literal id is allowed: it is not a secret
        client_secret: {env: NAME}         # secrets only ever from the environment
        service_user: OceanAPI12345        # the Service User its tokens act as (FACTS §1a)
        scopes: [user/provider.User.read, ...]   # what it may request; default: all known
    subscription_keys: [{env: NAME}]       # keys the gateway accepts
    require_login_office: false            # true: the password grant must send office=
    offices:   [{officeId, name, active?, abbreviation?, facilityNumber?}]
    providers: [{providerId, firstName, lastName, offices: [officeId...], statusId?, ...}]
    users:     [{userId, username, password?, active?, systemAdmin?, lockedDate?,
                 externalAccess?, offices?: [officeId...], providerId?, firstName?, lastName?}]
    grid:                                  # Provider Permissions, per user
      OceanAPI12345:
        - {office: 1, provider: 1001, permissions: [patient, scheduling, ...]}   # all Full
        - {office: 1, provider: 1002, permissions: {scheduling: read_only, visible: true}}

Several tenants on one host (the multi-tenant API: the token endpoint's ``?tenant=`` picks
one, the token then carries it) are a list of such mappings under ``tenants``; what the
list's mapping gives besides (``token_lifetime_seconds``, ``province``, ...) is every
tenant's default. Each tenant needs its own ``tenant`` and ``uuid``::

    token_lifetime_seconds: 3600
    tenants:
      - {tenant: LAKESIDE, uuid: ..., clients: [...], subscription_keys: [...], ...}
      - {tenant: HARBOUR, uuid: ..., ...}

A synthetic fleet of any size is made in code instead (``sim_fleet.fleet_seed``).

A value written ``{env: NAME}`` is read from the environment when the seed is loaded; a
literal client secret or subscription key is refused, so a seed file can be committed. A
user's ``password`` (what the password grant checks; a user without one cannot sign in) is
``{env: NAME}`` too, or, for a throwaway seed in a test, a literal string.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from reconciler.emr.accuro.spec import Permission

KNOWN_SCOPES: tuple[str, ...] = (
    "user/provider.User.read",
    "user/provider.Office.read",
    "user/provider.ProviderPermissions.read",
    "user/provider.Provider.read",
)


class SeedError(ValueError):
    """The seed file is unusable; the message names the field (never a secret's value)."""


class Level(StrEnum):
    """A grid cell's access level (``AccessLevel``: Full satisfies ReadOnly)."""

    FULL = "full"
    READ_ONLY = "read_only"


Cell = dict[Permission, Level]


@dataclass(frozen=True, slots=True)
class SeedOffice:
    office_id: int
    name: str
    active: bool = True
    abbreviation: str | None = None
    facility_number: str | None = None


@dataclass(frozen=True, slots=True)
class SeedProvider:
    provider_id: int
    first_name: str
    last_name: str
    offices: tuple[int, ...]
    status_id: int = 1
    title: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class SeedUser:
    user_id: int
    username: str
    password: str | None = field(default=None, repr=False)  # for the password grant
    active: bool = True
    system_admin: bool = False
    external_access: bool = True  # ExternalAccess.REST
    locked_date: str | None = None
    offices: tuple[int, ...] | None = None  # None: the offices of the user's grid rows
    provider_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True, slots=True)
class SeedClient:
    client_id: str
    client_secret: str = field(repr=False)
    service_user: str | None
    scopes: tuple[str, ...] = KNOWN_SCOPES
    authorized: bool = True  # listed in the clinic's authorized-client table


@dataclass(frozen=True, slots=True)
class Seed:
    """One clinic's Accuro, as the simulator starts it."""

    tenant: str
    uuid: str
    clients: tuple[SeedClient, ...]
    subscription_keys: tuple[str, ...] = field(repr=False)
    offices: tuple[SeedOffice, ...]
    providers: tuple[SeedProvider, ...]
    users: tuple[SeedUser, ...]
    grid: dict[str, dict[tuple[int, int], Cell]]
    token_lifetime_seconds: float = 3600
    province: str = "ON"
    rest_api_module: bool = True  # False: every /rest call is 403 (FACTS §1c.5)
    filter_office_providers: bool = False  # see sim_state.SimState.providers_of_office
    require_login_office: bool = False  # True: the password grant needs office= (FACTS §1b)


def _env(value: Any, where: str, environ: Mapping[str, str], *, literal_ok: bool) -> str:
    if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
        name = value["env"]
        if not environ.get(name):
            raise SeedError(f"{where}: environment variable {name} is not set")
        return environ[name]
    if literal_ok and isinstance(value, str) and value:
        return value
    raise SeedError(f"{where}: must be {{env: NAME}} (a secret is never written in a seed file)")


def _req(data: Mapping[str, Any], key: str, where: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SeedError(f"{where}.{key}: must be a {kind.__name__}")
    return value


def _cell(value: Any, where: str) -> Cell:
    if isinstance(value, list):
        value = dict.fromkeys(value, "full")
    if not isinstance(value, dict):
        raise SeedError(f"{where}: must be a list of columns or a mapping column -> level")
    cell: Cell = {}
    for name, level in value.items():
        try:
            column = Permission(str(name).lower())
        except ValueError:
            raise SeedError(f"{where}: unknown column {name!r}") from None
        if level is False or level is None:
            continue
        try:
            cell[column] = Level.FULL if level is True else Level(str(level))
        except ValueError:
            raise SeedError(f"{where}.{name}: level must be full, read_only or true") from None
    return cell


def _grid(data: Any) -> dict[str, dict[tuple[int, int], Cell]]:
    if not isinstance(data, dict):
        raise SeedError("grid: must map user names to lists of rows")
    grid: dict[str, dict[tuple[int, int], Cell]] = {}
    for username, rows in data.items():
        if not isinstance(rows, list):
            raise SeedError(f"grid.{username}: must be a list of rows")
        user_grid = grid.setdefault(str(username), {})
        for i, row in enumerate(rows):
            where = f"grid.{username}[{i}]"
            office = _req(row, "office", where, int)
            provider = _req(row, "provider", where, int)
            user_grid[(office, provider)] = _cell(row.get("permissions", []), where)
    return grid


def seed_from_dict(data: Any, environ: Mapping[str, str] | None = None) -> Seed:
    """A :class:`Seed` from parsed YAML/JSON; ``{env: NAME}`` values read from ``environ``."""
    env = os.environ if environ is None else environ
    if not isinstance(data, dict):
        raise SeedError("the seed must be a mapping")
    clients = tuple(
        SeedClient(
            client_id=_env(c.get("client_id"), f"clients[{i}].client_id", env, literal_ok=True),
            client_secret=_env(
                c.get("client_secret"), f"clients[{i}].client_secret", env, literal_ok=False
            ),
            service_user=c.get("service_user"),
            scopes=tuple(c.get("scopes", KNOWN_SCOPES)),
            authorized=bool(c.get("authorized", True)),
        )
        for i, c in enumerate(data.get("clients") or [])
    )
    keys = tuple(
        _env(k, f"subscription_keys[{i}]", env, literal_ok=False)
        for i, k in enumerate(data.get("subscription_keys") or [])
    )
    offices = tuple(
        SeedOffice(
            office_id=_req(o, "officeId", f"offices[{i}]", int),
            name=_req(o, "name", f"offices[{i}]", str),
            active=bool(o.get("active", True)),
            abbreviation=o.get("abbreviation"),
            facility_number=o.get("facilityNumber"),
        )
        for i, o in enumerate(data.get("offices") or [])
    )
    providers = tuple(
        SeedProvider(
            provider_id=_req(p, "providerId", f"providers[{i}]", int),
            first_name=_req(p, "firstName", f"providers[{i}]", str),
            last_name=_req(p, "lastName", f"providers[{i}]", str),
            offices=tuple(p.get("offices") or ()),
            status_id=int(p.get("statusId", 1)),
            title=p.get("title"),
            email=p.get("email"),
        )
        for i, p in enumerate(data.get("providers") or [])
    )
    users = tuple(
        SeedUser(
            user_id=_req(u, "userId", f"users[{i}]", int),
            username=_req(u, "username", f"users[{i}]", str),
            password=(
                _env(u["password"], f"users[{i}].password", env, literal_ok=True)
                if u.get("password") is not None
                else None
            ),
            active=bool(u.get("active", True)),
            system_admin=bool(u.get("systemAdmin", False)),
            external_access=bool(u.get("externalAccess", True)),
            locked_date=u.get("lockedDate"),
            offices=tuple(u["offices"]) if "offices" in u else None,
            provider_id=u.get("providerId"),
            first_name=u.get("firstName"),
            last_name=u.get("lastName"),
        )
        for i, u in enumerate(data.get("users") or [])
    )
    seed = Seed(
        tenant=_req(data, "tenant", "seed", str),
        uuid=_req(data, "uuid", "seed", str),
        clients=clients,
        subscription_keys=keys,
        offices=offices,
        providers=providers,
        users=users,
        grid=_grid(data.get("grid") or {}),
        token_lifetime_seconds=float(data.get("token_lifetime_seconds", 3600)),
        province=_req(data, "province", "seed", str) if "province" in data else "ON",
        rest_api_module=bool(data.get("rest_api_module", True)),
        filter_office_providers=bool(data.get("filter_office_providers", False)),
        require_login_office=bool(data.get("require_login_office", False)),
    )
    _check(seed)
    return seed


def _check(seed: Seed) -> None:
    columns: tuple[tuple[str, list[str]], ...] = (
        ("officeId", [str(o.office_id) for o in seed.offices]),
        ("providerId", [str(p.provider_id) for p in seed.providers]),
        ("userId", [str(u.user_id) for u in seed.users]),
        ("username", [u.username for u in seed.users]),
    )
    for what, ids in columns:
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            raise SeedError(f"duplicate {what}: {', '.join(dupes)}")
    usernames = {u.username for u in seed.users}
    for client in seed.clients:
        if client.service_user is not None and client.service_user not in usernames:
            raise SeedError(f"client service_user {client.service_user} is not among users")
    for username in seed.grid:
        if username not in usernames:
            raise SeedError(f"grid.{username}: no such user")


def seeds_from_dict(data: Any, environ: Mapping[str, str] | None = None) -> tuple[Seed, ...]:
    """The tenants of one host from parsed YAML/JSON: a single tenant's mapping, or a
    mapping with ``tenants`` (see the module's docstring)."""
    if not isinstance(data, dict) or "tenants" not in data:
        return (seed_from_dict(data, environ),)
    tenants = data["tenants"]
    if not isinstance(tenants, list) or not tenants:
        raise SeedError("tenants: must be a non-empty list of tenants")
    defaults = {k: v for k, v in data.items() if k != "tenants"}
    seeds: list[Seed] = []
    for i, tenant in enumerate(tenants):
        if not isinstance(tenant, dict):
            raise SeedError(f"tenants[{i}]: must be a mapping")
        try:
            seeds.append(seed_from_dict({**defaults, **tenant}, environ))
        except SeedError as exc:
            raise SeedError(f"tenants[{i}]: {exc}") from None
    check_tenants(seeds)
    return tuple(seeds)


def check_tenants(seeds: Sequence[Seed]) -> None:
    """Tenants of one host need distinct names (case aside) and distinct uuids."""
    for what, values in (
        ("tenant", [s.tenant.upper() for s in seeds]),
        ("uuid", [s.uuid.lower() for s in seeds]),
    ):
        dupes = sorted(v for v, n in Counter(values).items() if n > 1)
        if dupes:
            raise SeedError(f"two tenants have the same {what}: {', '.join(dupes)}")


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def load_seed(path: Path, environ: Mapping[str, str] | None = None) -> Seed:
    """Read a single-tenant seed file (``.json``, else YAML)."""
    return seed_from_dict(_read(path), environ)


def load_seeds(path: Path, environ: Mapping[str, str] | None = None) -> tuple[Seed, ...]:
    """Read a seed file of one tenant or several (``tenants``)."""
    return seeds_from_dict(_read(path), environ)
