"""The Accuro simulator's live state: what the API reads, the grid, tokens and faults.

One :class:`SimState` is one simulated API host: it serves one or many tenants (clinics,
each a :class:`TenantState`: its own ``tenant``, uuid, clients, subscription keys, users,
offices, providers and grid), and holds what belongs to the host rather than to a clinic:
the issued tokens (each names its tenant), injected faults, the request log and connection
counts. Every method takes the host's one lock, so the HTTP threads, the admin endpoint and
a test holding the handle see one consistent Accuro. The first tenant is the *primary* one:
the methods that take ``tenant=None`` act on it, so a single-tenant seed reads as before.

Filtering follows FACTS.md §2-§4:

- offices: never filtered (``OfficeManager`` has no authorization context);
- providers of an office: not filtered by default (unverified in the public source); a seed
  may set ``filter_office_providers`` to list only providers the user holds any enforced
  permission for at that office;
- users, a user's offices: not filtered by the grid;
- ``accessible-providers``: the Scheduling column. READ_APPOINTMENTS is Scheduling at
  ReadOnly or Full in any office, WRITE_APPOINTMENTS Scheduling Full [I];
- Visible is stored and shown by the admin endpoint but enforced nowhere.
"""

from __future__ import annotations

import hmac
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.emr.accuro.sim_seed import Cell, Level, Seed, SeedOffice, SeedProvider, SeedUser
from reconciler.emr.accuro.spec import Permission

ENFORCED = frozenset(Permission) - {Permission.VISIBLE}


@dataclass(frozen=True, slots=True)
class Token:
    """An issued access token (opaque here; Okta's are JWTs carrying the same claims)."""

    client_id: str
    service_user: str | None  # the ``service_user_id`` claim, as a user name
    tenant: str  # ``requested_acron``, without an ``ACRON-`` prefix
    scopes: tuple[str, ...]
    expires_at: float
    grant: str = "client_credentials"  # or "password": then service_user signed in itself
    office: int | None = None  # the password grant's office=, if sent


@dataclass(slots=True)
class Fault:
    """An injected failure at the gateway, for every tenant of the host unless ``tenant``
    names one: latency (then the rest, if any), and a status (429 with ``Retry-After``,
    in seconds or, with ``retry_after_date``, as an HTTP-date; or a 5xx), or ``reset``: the
    connection is closed (reset) mid-request, with no answer at all.

    ``count`` requests (None: until cleared) whose path starts with ``path_prefix``, each
    hit with probability ``fraction``. A request's tenant is its ``?tenant=`` at the token
    endpoint, its bearer token's under ``/rest``."""

    status: int | None = None
    latency: float = 0.0
    retry_after: int = 1
    count: int | None = 1
    fraction: float = 1.0
    path_prefix: str = "/"
    tenant: str | None = None
    reset: bool = False
    retry_after_date: bool = False

    def describe(self) -> dict[str, Any]:
        """The fault as the admin endpoint shows it."""
        return {
            "status": self.status,
            "latency": self.latency,
            "retry_after": self.retry_after,
            "count": self.count,
            "fraction": self.fraction,
            "path_prefix": self.path_prefix,
            "tenant": self.tenant,
            "reset": self.reset,
            "retry_after_date": self.retry_after_date,
        }

    def hits(self, path: str, tenant: str | None) -> bool:
        """Whether the fault applies to a request (before ``fraction`` and ``count``)."""
        if not path.startswith(self.path_prefix):
            return False
        return self.tenant is None or (tenant or "").upper() == self.tenant.upper()


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the simulator answered (no header values are kept)."""

    method: str
    path: str
    query: dict[str, str]
    subscription_key_sent: bool
    status: int = 0  # 0: no answer (the connection was reset)
    tenant: str | None = None  # ?tenant= at the token endpoint, the token's under /rest
    received: float = 0.0  # time.monotonic() when the request had been read
    answered: float = 0.0  # ... when its answer was about to be sent (or the reset)
    connection: int = 0  # which TCP connection, numbered from 1 as accepted


class TenantState:
    """One tenant (one clinic's Accuro) of a simulated host; its data behind the host's
    lock."""

    def __init__(self, seed: Seed, lock: threading.RLock) -> None:
        self.seed = seed
        self.lock = lock
        self.users: dict[int, SeedUser] = {u.user_id: u for u in seed.users}
        self.grid: dict[str, dict[tuple[int, int], Cell]] = {
            u: {k: dict(v) for k, v in rows.items()} for u, rows in seed.grid.items()
        }
        self._offices = {o.office_id: o for o in seed.offices}

    def __repr__(self) -> str:
        return f"TenantState({self.seed.tenant!r})"

    @property
    def name(self) -> str:
        return self.seed.tenant

    # -- reference data -----------------------------------------------------------------
    @property
    def offices(self) -> tuple[SeedOffice, ...]:
        return self.seed.offices

    def office(self, office_id: int) -> SeedOffice | None:
        return self._offices.get(office_id)

    def user_named(self, username: str) -> SeedUser | None:
        """The user whose ``username`` is exactly ``username``."""
        with self.lock:
            return next((u for u in self.users.values() if u.username == username), None)

    def set_user(self, username: str, **changes: Any) -> SeedUser:
        """Change a user (``active``, ``external_access``, ``locked_date``, ``password``,
        ...)."""
        with self.lock:
            user = self.user_named(username)
            if user is None:
                raise KeyError(username)
            self.users[user.user_id] = replace(user, **changes)
            return self.users[user.user_id]

    def check_password(self, username: str, password: str) -> SeedUser | None:
        """The user named exactly ``username`` if ``password`` is theirs; None for an unknown
        user, a user without a password or a wrong password. The password is compared with
        ``hmac.compare_digest``, and compared whether or not the user exists."""
        with self.lock:
            user = self.user_named(username)
            stored = user.password if user is not None else None
        same = hmac.compare_digest((stored or "").encode(), password.encode())
        return user if same and stored else None

    # -- the grid -----------------------------------------------------------------------
    def row(self, username: str, office_id: int, provider_id: int) -> Cell:
        """One office-and-provider row of a user's Provider Permissions."""
        with self.lock:
            return dict(self.grid.get(username, {}).get((office_id, provider_id), {}))

    def set_cells(
        self, username: str, office_id: int, provider_id: int, cells: Mapping[Permission, Any]
    ) -> Cell:
        """Tick or clear boxes: each column to a :class:`Level`, ``True`` (Full) or a false
        value (cleared); columns not named keep their value. Returns the row."""
        with self.lock:
            if self.user_named(username) is None:
                raise KeyError(username)
            row = self.grid.setdefault(username, {}).setdefault((office_id, provider_id), {})
            for column, level in cells.items():
                if not level:
                    row.pop(column, None)
                else:
                    row[column] = Level.FULL if level is True else Level(level)
            return dict(row)

    def grid_rows(self, username: str) -> list[tuple[int, int, Cell]]:
        """A user's rows, ordered by office then provider."""
        with self.lock:
            rows = self.grid.get(username, {})
            return [(o, p, dict(rows[(o, p)])) for o, p in sorted(rows)]

    def _user_offices(self, user: SeedUser) -> list[int]:
        if user.offices is not None:
            return sorted(set(user.offices))
        return sorted({o for o, _ in self.grid.get(user.username, {})})

    def user_offices(self, user_id: int) -> list[SeedOffice]:
        """The offices a user belongs to, ordered by officeId."""
        with self.lock:
            user = self.users.get(user_id)
            ids = self._user_offices(user) if user else []
            return [o for o in self.seed.offices if o.office_id in ids]

    def providers_of_office(self, username: str | None, office_id: int) -> list[SeedProvider]:
        """The office's providers; only those with any enforced permission there when the
        seed sets ``filter_office_providers`` (a user-less token then sees none)."""
        with self.lock:
            found = [p for p in self.seed.providers if office_id in p.offices]
            if not self.seed.filter_office_providers:
                return found
            rows = self.grid.get(username or "", {})
            return [p for p in found if set(rows.get((office_id, p.provider_id), {})) & ENFORCED]

    def accessible_providers(self, username: str | None, write: bool) -> list[int]:
        """Provider ids with Scheduling (Full for ``write``) in any office, sorted."""
        with self.lock:
            found = set()
            for (office_id, provider_id), cell in self.grid.get(username or "", {}).items():
                level = cell.get(Permission.SCHEDULING)
                if level is None or self.office(office_id) is None:
                    continue
                if not write or level is Level.FULL:
                    found.add(provider_id)
            return sorted(found)

    def users_page(
        self, user_name: str | None, starting_id: int | None, page_size: int
    ) -> tuple[list[SeedUser], int]:
        """One page of users (exact ``userName``), ordered by userId, and the total."""
        with self.lock:
            matching = sorted(
                (u for u in self.users.values() if user_name is None or u.username == user_name),
                key=lambda u: u.user_id,
            )
            after = [u for u in matching if starting_id is None or u.user_id > starting_id]
            return after[:page_size], len(matching)


def _as_seeds(seed: Seed | Sequence[Seed]) -> tuple[Seed, ...]:
    seeds = (seed,) if isinstance(seed, Seed) else tuple(seed)
    if not seeds:
        raise ValueError("a simulated host needs at least one tenant")
    names = [s.tenant.upper() for s in seeds]
    if len(set(names)) != len(names):
        raise ValueError("two tenants of one host have the same name")
    return seeds


class SimState:
    """One simulated Accuro host, serving one tenant or many; thread-safe.

    ``SimState(seed)`` serves one tenant, ``SimState([seed, ...])`` several (the first is
    the primary one). The grid and user methods act on the tenant named by ``tenant=``, the
    primary one by default. ``options`` set attributes (``now``, ``rng``, ...)."""

    seeds: tuple[Seed, ...]
    token_lifetime: float
    tenants: dict[str, TenantState]
    tokens: dict[str, Token]
    faults: list[Fault]
    requests: list[RequestRecord]
    now: Callable[[], float]  # token expiry is wall-clock time
    rng: random.Random
    stopping: threading.Event
    lock: threading.RLock
    connections: int  # TCP connections accepted
    open_connections: int
    max_open_connections: int
    in_flight: int  # requests being handled now
    max_in_flight: int
    subscription_keys: frozenset[str]  # every tenant's: what the gateway accepts at all

    def __init__(self, seed: Seed | Sequence[Seed], **options: Any) -> None:
        self.seeds = _as_seeds(seed)
        self.token_lifetime = self.seeds[0].token_lifetime_seconds
        self.lock = threading.RLock()
        self.tenants = {s.tenant.upper(): TenantState(s, self.lock) for s in self.seeds}
        self.tokens, self.faults, self.requests = {}, [], []
        self.now = time.time
        self.rng = random.Random(0)
        self.stopping = threading.Event()
        self.connections = self.open_connections = self.max_open_connections = 0
        self.in_flight = self.max_in_flight = 0
        self.subscription_keys = frozenset(k for s in self.seeds for k in s.subscription_keys)
        for name, value in options.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"SimState({len(self.tenants)} tenant(s), primary {self.seeds[0].tenant!r})"

    # -- tenants --------------------------------------------------------------------------
    @property
    def primary(self) -> TenantState:
        return self.tenants[self.seeds[0].tenant.upper()]

    @property
    def seed(self) -> Seed:
        """The primary tenant's seed."""
        return self.seeds[0]

    @property
    def users(self) -> dict[int, SeedUser]:
        """The primary tenant's users."""
        return self.primary.users

    def find_tenant(self, name: str | None) -> TenantState | None:
        """The tenant called ``name`` (case and an ``ACRON-`` prefix aside), or None."""
        if not name:
            return None
        return self.tenants.get(name.upper().removeprefix("ACRON-"))

    def tenant(self, name: str | None = None) -> TenantState:
        """The tenant called ``name``; the primary one for None. KeyError if unknown."""
        if name is None:
            return self.primary
        found = self.find_tenant(name)
        if found is None:
            raise KeyError(name)
        return found

    # -- the primary tenant (or ``tenant=``), as a single-tenant simulator had it ----------
    @property
    def offices(self) -> tuple[SeedOffice, ...]:
        return self.primary.offices

    def office(self, office_id: int, *, tenant: str | None = None) -> SeedOffice | None:
        return self.tenant(tenant).office(office_id)

    def user_named(self, username: str, *, tenant: str | None = None) -> SeedUser | None:
        return self.tenant(tenant).user_named(username)

    def set_user(self, username: str, *, tenant: str | None = None, **changes: Any) -> SeedUser:
        return self.tenant(tenant).set_user(username, **changes)

    def check_password(
        self, username: str, password: str, *, tenant: str | None = None
    ) -> SeedUser | None:
        return self.tenant(tenant).check_password(username, password)

    def row(
        self, username: str, office_id: int, provider_id: int, *, tenant: str | None = None
    ) -> Cell:
        return self.tenant(tenant).row(username, office_id, provider_id)

    def set_cells(
        self,
        username: str,
        office_id: int,
        provider_id: int,
        cells: Mapping[Permission, Any],
        *,
        tenant: str | None = None,
    ) -> Cell:
        return self.tenant(tenant).set_cells(username, office_id, provider_id, cells)

    def grid_rows(self, username: str, *, tenant: str | None = None) -> list[tuple[int, int, Cell]]:
        return self.tenant(tenant).grid_rows(username)

    def user_offices(self, user_id: int, *, tenant: str | None = None) -> list[SeedOffice]:
        return self.tenant(tenant).user_offices(user_id)

    def providers_of_office(
        self, username: str | None, office_id: int, *, tenant: str | None = None
    ) -> list[SeedProvider]:
        return self.tenant(tenant).providers_of_office(username, office_id)

    def accessible_providers(
        self, username: str | None, write: bool, *, tenant: str | None = None
    ) -> list[int]:
        return self.tenant(tenant).accessible_providers(username, write)

    def users_page(
        self,
        user_name: str | None,
        starting_id: int | None,
        page_size: int,
        *,
        tenant: str | None = None,
    ) -> tuple[list[SeedUser], int]:
        return self.tenant(tenant).users_page(user_name, starting_id, page_size)

    # -- tokens -------------------------------------------------------------------------
    def issue_token(
        self,
        client_id: str,
        service_user: str | None,
        tenant: str,
        scopes: tuple[str, ...],
        *,
        grant: str = "client_credentials",
        office: int | None = None,
    ) -> tuple[str, int]:
        """A new access token and its ``expires_in``."""
        with self.lock:
            value = secrets.token_urlsafe(32)
            lifetime = max(0, int(self.token_lifetime))
            self.tokens[value] = Token(
                client_id, service_user, tenant, scopes, self.now() + lifetime, grant, office
            )
            return value, lifetime

    def token(self, value: str) -> tuple[Token | None, bool]:
        """The token and whether it has expired (``None`` if never issued)."""
        with self.lock:
            token = self.tokens.get(value)
            return token, token is not None and self.now() >= token.expires_at

    def expire_tokens(self) -> int:
        """Expire every issued token now (as if an hour had passed); returns how many."""
        with self.lock:
            now = self.now()
            for value, token in self.tokens.items():
                self.tokens[value] = replace(token, expires_at=min(token.expires_at, now))
            return len(self.tokens)

    # -- faults, the request log, connections ---------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        """Inject a fault; faults are consulted in the order they were added."""
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self.lock:
            self.faults.clear()

    def take_fault(self, path: str, tenant: str | None = None) -> Fault | None:
        """The fault that hits this request, if any, consuming one of its count."""
        with self.lock:
            for fault in self.faults:
                if not fault.hits(path, tenant):
                    continue
                if fault.fraction < 1.0 and self.rng.random() >= fault.fraction:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return replace(fault)
            return None

    def record(self, record: RequestRecord) -> None:
        """Keep a request in the log (tests read it through :attr:`requests`)."""
        with self.lock:
            self.requests.append(record)

    def connection_opened(self) -> int:
        """Count an accepted connection; its number, from 1."""
        with self.lock:
            self.connections += 1
            self.open_connections += 1
            self.max_open_connections = max(self.max_open_connections, self.open_connections)
            return self.connections

    def connection_closed(self) -> None:
        with self.lock:
            self.open_connections -= 1

    def request_started(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def request_ended(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def stats(self) -> dict[str, int]:
        """Connections and requests, as the admin endpoint shows them."""
        with self.lock:
            return {
                "tenants": len(self.tenants),
                "connections": self.connections,
                "open_connections": self.open_connections,
                "max_open_connections": self.max_open_connections,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "requests": len(self.requests),
            }
