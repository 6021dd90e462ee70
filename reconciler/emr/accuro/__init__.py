"""Accuro (QHR): the OceanAPI user's Provider Permissions (seeds 000-003).

    spec.py       desired state, built from a validated clinic file
    checks.py     checks of meaning beyond the schema
    client.py     the partner REST API over httpx (tokens, paging, retries, masking)
    api_model.py  the API's DTOs as typed values
    adapter.py    reads what the API shows of one clinic
    live.py       that reading, resolved against the clinic file (exact names)
    diff.py       the grid cell by cell: observed, confirmed, or a manual change
    checklist.py  the steps a person follows in Accuro and Ocean
    simulator.py  a real HTTP server that behaves like the API (sim_*.py), one host
                  serving many clinics; sim_fleet.py makes a synthetic fleet of them

The partner API can neither read nor write the Provider Permissions grid: every change is
a step for a person, recorded afterwards with ``reconcile confirm``; the adapter verifies
what the API shows (the user, its offices, appointment access).
"""

from __future__ import annotations

from typing import Any

from reconciler.emr.accuro.checklist import checklist
from reconciler.emr.accuro.checks import check
from reconciler.emr.accuro.diff import diff_accuro, notes_accuro, observed_accuro
from reconciler.emr.accuro.spec import build_spec
from reconciler.emr.contract import Adapter, EmrPackage
from reconciler.fleet import Network, Site, SiteKind
from reconciler.throttle import origin

ADAPTER = "accuro-api"


def _adapter_name(spec: Any) -> str:
    return ADAPTER


def _new_adapter(name: str, network: Network) -> Adapter:
    from reconciler.emr.accuro.adapter import AccuroAdapter  # httpx only when used

    return AccuroAdapter(network)


def _site(spec: Any) -> Site:
    """The API host: every clinic there shares its connections, limit and rate budget
    (the same origin as the adapter's pools, port always written)."""
    return Site(SiteKind.HOST, origin(spec.api.base_url))


EMR = EmrPackage(
    kind="accuro",
    title="Accuro",
    blocks=("ocean_api_user", "ocean"),
    emr_keys=("api",),
    check=check,
    build=build_spec,
    adapter_name=_adapter_name,
    new_adapter=_new_adapter,
    site=_site,
    diff=diff_accuro,
    notes=notes_accuro,
    observed=observed_accuro,
    checklist=checklist,
)
