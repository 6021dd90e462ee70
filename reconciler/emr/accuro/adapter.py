"""The Accuro adapter: reads what the partner API shows, writes nothing.

Per clinic, one token and then (FACTS.md §2): ``/v1/whoami`` (which user the token acts
as, and that user's offices), ``/v1/offices``, ``/v1/users?userName=`` (the OceanAPI user's
status), ``/v1/accessible-providers`` for READ_APPOINTMENTS and WRITE_APPOINTMENTS, and
``/v1/providers/offices/{id}`` for each declared office: the number of declared offices
plus six requests, whatever the number of providers.

The grid has no write in the partner API, so every change is a step for a person
(``writes`` is empty) and apply verifies by reading again what the API can show.
"""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.emr.accuro import api_model as m
from reconciler.emr.accuro.client import AccuroApiError, AccuroClient, RetryPolicy
from reconciler.emr.accuro.live import AccuroLive, resolve
from reconciler.emr.accuro.spec import accuro_spec
from reconciler.emr.contract import Adapter
from reconciler.errors import AdapterError, ClinicInputError
from reconciler.fleet import Network
from reconciler.model import Clinic


class AccuroAdapter(Adapter):
    """Reads one Accuro clinic at a time through its own :class:`AccuroClient`."""

    name = "accuro-api"

    def __init__(self, network: Network | None = None, **client_options: Any) -> None:
        network = network or Network()
        self._options: dict[str, Any] = {
            "timeout": httpx.Timeout(network.read_timeout, connect=network.connect_timeout),
            "retry": RetryPolicy(attempts=network.attempts),
            **client_options,
        }

    def read(self, clinic: Clinic) -> AccuroLive:
        spec = accuro_spec(clinic)
        username = spec.ocean_api_user.username
        with AccuroClient.from_spec(spec, **self._options) as client:
            try:
                me = client.whoami()
                offices = client.offices()
                user = client.find_user(username)
                if user is None:
                    raise ClinicInputError(
                        f"{clinic.where(('ocean_api_user', 'username'))}: Accuro at "
                        f"{client.host} has no user named exactly '{username}' (user names "
                        "are case-sensitive; QHR sends it with the API enablement)"
                    )
                bound = me.user_id is not None and me.username == username
                if me.user_id is not None and not bound:
                    raise ClinicInputError(
                        f"{clinic.where(('emr', 'api', 'grant'))}: the API token acts as the "
                        f"Accuro user '{me.username}', not '{username}': what the API shows "
                        "would not be what Ocean sees. Use the OceanAPI user's credentials "
                        "(grant: password) or the partner client whose Service User it is"
                    )
                read_ids = write_ids = None
                if bound:
                    read_ids = frozenset(
                        client.accessible_providers(m.PermissionsType.READ_APPOINTMENTS)
                    )
                    write_ids = frozenset(
                        client.accessible_providers(m.PermissionsType.WRITE_APPOINTMENTS)
                    )
                resolved = resolve(spec, offices, client.providers_of_office, clinic.where)
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
            user_office_ids=frozenset(me.office_ids) if bound else None,
            read_ids=read_ids,
            write_ids=write_ids,
        )
