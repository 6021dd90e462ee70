"""The Accuro simulator's live state: what the API reads, the grid, tokens and faults.

Every method takes the one lock, so the HTTP threads, the admin endpoint and a test holding
the handle see one consistent Accuro. Filtering follows FACTS.md §2-§4:

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
    """An injected failure: a status (429 with Retry-After, 5xx) or latency.

    ``count`` requests (None: until cleared) whose path starts with ``path_prefix``, each
    hit with probability ``fraction``."""

    status: int | None = None
    latency: float = 0.0
    retry_after: int = 1
    count: int | None = 1
    fraction: float = 1.0
    path_prefix: str = "/"

    def describe(self) -> dict[str, Any]:
        """The fault as the admin endpoint shows it."""
        return {
            "status": self.status,
            "latency": self.latency,
            "retry_after": self.retry_after,
            "count": self.count,
            "fraction": self.fraction,
            "path_prefix": self.path_prefix,
        }


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the simulator answered (no header values are kept)."""

    method: str
    path: str
    query: dict[str, str]
    subscription_key_sent: bool
    status: int = 0


@dataclass(slots=True)
class SimState:
    """One simulated Accuro; thread-safe."""

    seed: Seed
    token_lifetime: float = 0.0
    users: dict[int, SeedUser] = field(default_factory=dict)
    grid: dict[str, dict[tuple[int, int], Cell]] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    now: Callable[[], float] = time.time  # token expiry is wall-clock time
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.token_lifetime = self.seed.token_lifetime_seconds
        self.users = {u.user_id: u for u in self.seed.users}
        self.grid = {u: {k: dict(v) for k, v in rows.items()} for u, rows in self.seed.grid.items()}

    # -- reference data -----------------------------------------------------------------
    @property
    def offices(self) -> tuple[SeedOffice, ...]:
        return self.seed.offices

    def office(self, office_id: int) -> SeedOffice | None:
        return next((o for o in self.seed.offices if o.office_id == office_id), None)

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
                office = self.office(office_id)
                if level is None or office is None:
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

    # -- faults and the request log -----------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        """Inject a fault; faults are consulted in the order they were added."""
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self.lock:
            self.faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        """The fault that hits this request, if any, consuming one of its count."""
        with self.lock:
            for fault in self.faults:
                if not path.startswith(fault.path_prefix):
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
