"""Accuro (QHR): the OceanAPI user's Provider Permissions (seeds 000-003).

    spec.py     desired state, built from a validated clinic file
    checks.py   checks of meaning beyond the schema
    diff.py     the grid as an exact checklist, then Ocean's "Sync Full Schedule"

Accuro's partner API cannot read or write the Provider Permissions grid, so every change
is a step for a person (the manual adapter); an API adapter that verifies what it can
belongs here.
"""

from __future__ import annotations

from typing import Any

from reconciler.emr.accuro.checks import check
from reconciler.emr.accuro.diff import diff_accuro
from reconciler.emr.accuro.spec import build_spec
from reconciler.emr.contract import Adapter, EmrPackage, ManualAdapter


def _adapter_name(spec: Any) -> str:
    return "manual"


def _new_adapter(name: str) -> Adapter:
    return ManualAdapter()


EMR = EmrPackage(
    kind="accuro",
    title="Accuro",
    blocks=("ocean_api_user", "ocean"),
    emr_keys=("api",),
    check=check,
    build=build_spec,
    adapter_name=_adapter_name,
    new_adapter=_new_adapter,
    diff=diff_accuro,
)
