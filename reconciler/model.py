"""Desired state: one clinic file, validated, as a frozen value object.

Built by :mod:`reconciler.config` only from a file that validated, so every field here is
already checked. What a clinic declares about its EMR is ``spec``, a value object owned by
that EMR's package (:mod:`reconciler.emr`); the core never looks inside it. Secrets are
:class:`~reconciler.secrets.SecretRef`s: nothing is resolved until an adapter needs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.diagnostics import format_field


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int = 1


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A person's record that they made a manual change by hand (``reconcile confirm``).

    ``done`` maps each of the change's fields to the value the person set (the change's
    ``after``): for a permission grid row, ``{"scheduling": "granted", "billing": "cleared"}``.
    """

    change: str  # the change's address
    done: Mapping[str, str]
    by: str
    at: datetime  # timezone-aware
    plan: str | None = None  # the plan id the person worked from, when known


@dataclass(frozen=True, slots=True)
class Confirmations:
    """A clinic's confirmations (``state/<clinic id>.yaml``), oldest first."""

    records: tuple[Confirmation, ...] = ()
    source: str | None = None  # the state file, when there is one
    _newest: dict[tuple[str, str], Confirmation] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # (address, field) -> the newest record of it; the first of equal times, as max()
        for record in self.records:
            for name in record.done:
                kept = self._newest.get((record.change, name))
                if kept is None or record.at > kept.at:
                    self._newest[(record.change, name)] = record

    def latest(self, address: str, name: str) -> Confirmation | None:
        """The newest confirmation of field ``name`` of the change at ``address``."""
        return self._newest.get((address, name))


NO_CONFIRMATIONS = Confirmations()


@dataclass(frozen=True, slots=True)
class Clinic:
    """One clinic file, validated."""

    id: str
    name: str
    emr: str  # ``emr.kind``: the key of the EMR package in reconciler.emr.registry
    spec: Any  # the EMR package's desired-state value object
    source: SourceLocation
    document: dict[str, Any]  # the validated document, for hashing and audit
    lines: Mapping[tuple[str | int, ...], int] = field(default_factory=dict, compare=False)
    """The line each field is written on, for messages that point into the file."""
    confirmations: Confirmations = NO_CONFIRMATIONS

    def where(self, path: tuple[str | int, ...]) -> str:
        """``FILE:LINE: field.path`` for a field of this clinic's file (its nearest written
        ancestor's line when the field itself is not written)."""
        probe = tuple(path)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe, self.source.line if not probe else 1)
        return f"{self.source.file}:{line}: {format_field(path)}"

    def desired_hash(self) -> str:
        """A hash of the declared state (secret references, not values): detects edits."""
        canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
