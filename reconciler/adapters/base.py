"""The adapter contract: read live state for a clinic, apply changes, say what needs a person.

An adapter never imports the engine. It translates every third-party failure into an
:class:`~reconciler.errors.AdapterError` (or subclass) whose message holds no secret.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.model import Clinic
from reconciler.plan import Change


class Outcome(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"
    MANUAL = "manual"  # left to a person: listed as a checklist


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change: Change
    outcome: Outcome
    detail: str = ""


class Adapter(ABC):
    """Reads and writes one kind of EMR backend."""

    name: str = "adapter"
    writes: frozenset[str] = frozenset()
    """Resources this adapter changes itself; every other change is a step for a person."""

    @abstractmethod
    def read(self, clinic: Clinic) -> Any:
        """Live state for ``clinic``, or ``None`` when this backend cannot read it."""

    def apply(self, clinic: Clinic, changes: Sequence[Change]) -> None:
        """Make ``changes`` (all automatic, all this clinic's) in one all-or-nothing unit.

        Each change carries the fingerprint of the live object it was planned from; the
        adapter re-reads inside its transaction and raises StalePlanError if one moved.
        Raises AdapterError when anything fails, having written nothing.
        """
        if changes:
            raise NotImplementedError(f"{self.name} cannot apply changes")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class ManualAdapter(Adapter):
    """A backend the tool cannot read or write: every change is a checklist step."""

    name = "manual"

    def read(self, clinic: Clinic) -> None:
        return None
