"""``emr.kind`` -> the EMR package: the only place where the core meets a named EMR.

A third EMR is a new folder ``reconciler/emr/<kind>/`` whose ``__init__`` exports ``EMR``
(an :class:`~reconciler.emr.contract.EmrPackage`), plus one line in ``PACKAGES`` below and
its ``kind`` in the schema's ``emr.kind`` enum. Packages are imported on first use, so the
core's modules import no EMR package themselves.
"""

from __future__ import annotations

import importlib
import threading
from functools import cache

from reconciler.emr.contract import Adapter, EmrPackage
from reconciler.fleet import LOCAL, Network, Site
from reconciler.model import Clinic
from reconciler.secrets import secret_scope

PACKAGES: dict[str, str] = {
    "accuro": "reconciler.emr.accuro",
    "oscar": "reconciler.emr.oscar",
}


def kinds() -> tuple[str, ...]:
    return tuple(PACKAGES)


@cache
def emr(kind: str) -> EmrPackage:
    """The package for ``kind`` (a kind the schema accepted)."""
    package: EmrPackage = importlib.import_module(PACKAGES[kind]).EMR
    assert package.kind == kind, f"{PACKAGES[kind]} declares kind {package.kind!r}"
    return package


def all_emrs() -> tuple[EmrPackage, ...]:
    return tuple(emr(kind) for kind in PACKAGES)


def site_of(clinic: Clinic) -> Site:
    """Where the clinic's live state is (its API host or database server). A clinic whose
    site cannot be told (a secret that does not resolve) shares none: reading it reports
    the problem as that clinic's error."""
    with secret_scope(clinic.id):
        try:
            return emr(clinic.emr).site(clinic.spec)
        except Exception:
            return LOCAL


class AdapterPool:
    """Gives each clinic its adapter (shared by EMR and adapter name, from any thread),
    closes them all."""

    def __init__(self, network: Network | None = None) -> None:
        self.network = network or Network()
        self._adapters: dict[tuple[str, str], Adapter] = {}
        self._lock = threading.Lock()

    def for_clinic(self, clinic: Clinic) -> Adapter:
        package = emr(clinic.emr)
        key = (clinic.emr, package.adapter_name(clinic.spec))
        with self._lock:
            if key not in self._adapters:
                self._adapters[key] = package.new_adapter(key[1], self.network)
            return self._adapters[key]

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()

    def __enter__(self) -> AdapterPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
