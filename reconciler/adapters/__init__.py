"""Adapters behind one small contract (:mod:`reconciler.adapters.base`), chosen per clinic."""

from __future__ import annotations

from reconciler.adapters.base import Adapter, ChangeResult, ManualAdapter, Outcome
from reconciler.model import Clinic, OscarBackend, OscarSpec

__all__ = ["Adapter", "AdapterPool", "ChangeResult", "ManualAdapter", "Outcome"]


class AdapterPool:
    """Gives each clinic its adapter and closes them all at the end."""

    def __init__(self) -> None:
        self._adapters: dict[str, Adapter] = {}

    def for_clinic(self, clinic: Clinic) -> Adapter:
        key = self._key(clinic)
        if key not in self._adapters:
            self._adapters[key] = self._make(key)
        return self._adapters[key]

    @staticmethod
    def _key(clinic: Clinic) -> str:
        if isinstance(clinic.spec, OscarSpec) and clinic.spec.backend is OscarBackend.SQL:
            return "oscar-sql"
        # Accuro's permission grid is not in its partner API; until the API adapter reads
        # what it can, an Accuro clinic, like an OSCAR clinic with backend manual, is a
        # checklist for a person.
        return "manual"

    @staticmethod
    def _make(key: str) -> Adapter:
        if key == "oscar-sql":
            from reconciler.adapters.oscar.sql import OscarSqlAdapter

            return OscarSqlAdapter()
        return ManualAdapter()

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()

    def __enter__(self) -> AdapterPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
