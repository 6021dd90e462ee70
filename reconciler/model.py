"""Desired state: one clinic file, validated, as a frozen value object.

Built by :mod:`reconciler.config` only from a file that validated, so every field here is
already checked. What a clinic declares about its EMR is ``spec``, a value object owned by
that EMR's package (:mod:`reconciler.emr`); the core never looks inside it. Secrets are
:class:`~reconciler.secrets.SecretRef`s: nothing is resolved until an adapter needs it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int = 1


@dataclass(frozen=True, slots=True)
class Clinic:
    """One clinic file, validated."""

    id: str
    name: str
    emr: str  # ``emr.kind``: the key of the EMR package in reconciler.emr.registry
    spec: Any  # the EMR package's desired-state value object
    source: SourceLocation
    document: dict[str, Any]  # the validated document, for hashing and audit

    def desired_hash(self) -> str:
        """A hash of the declared state (secret references, not values): detects edits."""
        canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
