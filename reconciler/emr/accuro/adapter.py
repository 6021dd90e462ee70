"""The Accuro adapter: reads what the partner API shows, writes nothing.

Per clinic read, one token request and then (FACTS.md §2) REST calls, one page each:

- with ``grant: password`` (the default) the token is the OceanAPI user's by construction, so
  there is no ``/v1/whoami``: ``/v1/users?userName=`` (the user's id and status; the name
  being exact), ``/v1/users/{userId}/offices`` (the user's offices, ids and names),
  ``/v1/accessible-providers`` for READ_APPOINTMENTS and WRITE_APPOINTMENTS, and
  ``/v1/providers/offices/{id}`` once for each declared office: **declared offices + 5**
  requests, token included. Only when a declared office is not among the user's offices is
  ``/v1/offices`` read as well (to tell an office the user lacks from one Accuro does not
  have): declared offices + 6.
- with ``grant: client_credentials``, ``/v1/whoami`` (which user the token acts as, and that
  user's offices), ``/v1/offices``, ``/v1/users?userName=``, the two
  ``/v1/accessible-providers`` calls (only when the token acts as the OceanAPI user) and
  ``/v1/providers/offices/{id}`` per declared office: declared offices + 6 (declared
  offices + 4 when the token acts as no user).

Whatever the number of providers; retries (and a user with more than 50 offices: one more
page per 50) come on top.

The grid has no write in the partner API, so every change is a step for a person
(``writes`` is empty) and apply verifies by reading again what the API can show.

**One adapter, many clinics, many threads.** The engine shares one adapter between every
Accuro clinic of a run and calls it from several threads. Per API host (``scheme://host:port``)
it keeps one httpx client, its connection pool limited to ``Network.host_connections``
connections (kept alive as many), and one :class:`~reconciler.throttle.HostBudget`, both
shared by every clinic on that host: a 429 pauses the host for all of them. Each read makes
its own :class:`AccuroClient` on top, with the clinic's own credentials, token and masks.
:meth:`AccuroAdapter.close` closes the pools.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.emr.accuro import api_model as m
from reconciler.emr.accuro.client import AccuroApiError, AccuroClient, RetryPolicy, http_client
from reconciler.emr.accuro.live import AccuroLive, LiveOffice, resolve
from reconciler.emr.accuro.spec import AccuroSpec, Grant, accuro_spec
from reconciler.emr.contract import Adapter
from reconciler.errors import AdapterError, ClinicInputError
from reconciler.fleet import Network
from reconciler.model import Clinic
from reconciler.throttle import HostBudget, origin


@dataclass(frozen=True, slots=True)
class Host:
    """What the clinics on one API host share: its connection pool and its budget."""

    origin: str
    http: httpx.Client
    budget: HostBudget


class AccuroAdapter(Adapter):
    """Reads Accuro clinics, any number at once, through one pool and budget per host.

    ``client_options`` go to every :class:`AccuroClient` (``retry``, ``scopes``, ``clock``,
    ...); ``transport`` and ``timeout`` go to the hosts' httpx clients instead, ``sleep``
    to their budgets as well."""

    name = "accuro-api"

    def __init__(self, network: Network | None = None, **client_options: Any) -> None:
        self.network = network or Network()
        self._timeout: httpx.Timeout = client_options.pop(
            "timeout",
            httpx.Timeout(self.network.read_timeout, connect=self.network.connect_timeout),
        )
        self._transport: httpx.BaseTransport | None = client_options.pop("transport", None)
        self._options: dict[str, Any] = {
            "retry": RetryPolicy(attempts=self.network.attempts),
            "timeout": self._timeout,
            **client_options,
        }
        self._hosts: dict[str, Host] = {}
        self._lock = threading.Lock()

    def host(self, base_url: str) -> Host:
        """The pool and budget of ``base_url``'s host, made on first use (thread-safe)."""
        key = origin(base_url)
        with self._lock:
            found = self._hosts.get(key)
            if found is None:
                connections = max(1, self.network.host_connections)
                budget_options = {k: v for k, v in self._options.items() if k in ("clock", "sleep")}
                found = Host(
                    key,
                    http_client(self._timeout, connections=connections, transport=self._transport),
                    HostBudget(connections, name=key, **budget_options),
                )
                self._hosts[key] = found
            return found

    def hosts(self) -> dict[str, Host]:
        with self._lock:
            return dict(self._hosts)

    def close(self) -> None:
        """Close every host's connection pool (a later read opens a new one)."""
        with self._lock:
            hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            host.http.close()

    def read(self, clinic: Clinic) -> AccuroLive:
        spec = accuro_spec(clinic)
        username = spec.ocean_api_user.username
        host = self.host(spec.api.base_url)
        shared = {"http": host.http, "budget": host.budget}
        with AccuroClient.from_spec(spec, **self._options, **shared) as client:
            user_office_ids: frozenset[int] | None
            try:
                if spec.api.grant is Grant.PASSWORD:
                    user, user_office_ids, resolve_offices = self._read_password(
                        client, spec, clinic
                    )
                    bound = True
                else:
                    user, user_office_ids, resolve_offices = self._read_client(client, spec, clinic)
                    bound = user_office_ids is not None
                read_ids = write_ids = None
                if bound:
                    read_ids = frozenset(
                        client.accessible_providers(m.PermissionsType.READ_APPOINTMENTS)
                    )
                    write_ids = frozenset(
                        client.accessible_providers(m.PermissionsType.WRITE_APPOINTMENTS)
                    )
                resolved = resolve_offices()
            except AccuroApiError as exc:
                if exc.status == 401 and "deactivated" in exc.detail:
                    raise AdapterError(
                        f"Accuro at {client.host}: the OceanAPI user '{username}' is "
                        "deactivated, so Ocean cannot connect at all; reactivate it in Accuro "
                        "(Users > Manage Security > Users)"
                    ) from None
                raise
        return AccuroLive(
            user=user,
            offices=resolved,
            user_office_ids=user_office_ids,
            read_ids=read_ids,
            write_ids=write_ids,
        )

    @staticmethod
    def _user(client: AccuroClient, username: str, clinic: Clinic) -> m.User:
        user = client.find_user(username)
        if user is None:
            raise ClinicInputError(
                f"{clinic.where(('ocean_api_user', 'username'))}: Accuro at "
                f"{client.host} has no user named exactly '{username}' (user names "
                "are case-sensitive; QHR sends it with the API enablement)"
            )
        return user

    def _read_password(
        self, client: AccuroClient, spec: AccuroSpec, clinic: Clinic
    ) -> tuple[m.User, frozenset[int], Callable[[], tuple[LiveOffice, ...]]]:
        """The password grant: the token is the OceanAPI user's, so no whoami; the user's
        own offices resolve the declared ones, ``/v1/offices`` is read only when one of them
        is not the user's (to say whether Accuro has it at all)."""
        user = self._user(client, spec.ocean_api_user.username, clinic)
        mine = client.user_offices(user.user_id)
        names = {o.name for o in mine}
        offices: tuple[m.Office, ...] = mine
        if any(g.name not in names for g in spec.ocean_api_user.offices):
            offices = client.offices()
        ids = frozenset(o.office_id for o in mine)
        return user, ids, lambda: resolve(spec, offices, client.providers_of_office, clinic.where)

    def _read_client(
        self, client: AccuroClient, spec: AccuroSpec, clinic: Clinic
    ) -> tuple[m.User, frozenset[int] | None, Callable[[], tuple[LiveOffice, ...]]]:
        """The client_credentials grant: whoami says which user the token acts as."""
        username = spec.ocean_api_user.username
        me = client.whoami()
        offices = client.offices()
        user = self._user(client, username, clinic)
        bound = me.user_id is not None and me.username == username
        if me.user_id is not None and not bound:
            raise ClinicInputError(
                f"{clinic.where(('emr', 'api', 'grant'))}: the API token acts as the "
                f"Accuro user '{me.username}', not '{username}': what the API shows "
                "would not be what Ocean sees. Use the OceanAPI user's credentials "
                "(grant: password) or the partner client whose Service User it is"
            )
        ids = frozenset(me.office_ids) if bound else None
        return user, ids, lambda: resolve(spec, offices, client.providers_of_office, clinic.where)
