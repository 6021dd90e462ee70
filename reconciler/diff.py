"""The pure diff: desired state + live state -> ordered changes. No I/O, no adapters.

Each EMR package holds its own diff rules (``EmrPackage.diff``); this puts their changes
in the one stable order every plan, saved plan and renderer relies on.
"""

from __future__ import annotations

from typing import Any

from reconciler.emr.registry import emr
from reconciler.model import Clinic
from reconciler.plan import Change


def notes(clinic: Clinic, live: Any) -> tuple[str, ...]:
    """What the plan of ``clinic`` rests on (its EMR's words: observed, confirmed)."""
    return emr(clinic.emr).notes(clinic.spec, live, clinic.confirmations)


def observed(clinic: Clinic, live: Any) -> dict[str, Any] | None:
    """What the report draws of ``clinic`` (its EMR's grid of states, desired vs live)."""
    return emr(clinic.emr).observed(clinic.spec, live, clinic.confirmations)


def diff(clinic: Clinic, live: Any) -> tuple[Change, ...]:
    """All changes that take ``live`` to ``clinic``'s desired state, in a stable order.

    ``live is None`` means the adapter cannot read this EMR: the EMR's rules then give
    the whole set-up as a checklist for a person. What people confirmed they did by hand
    (``clinic.confirmations``) counts where live state cannot show it.
    """
    changes = emr(clinic.emr).diff(clinic.spec, live, clinic.confirmations)
    return tuple(sorted(changes, key=lambda c: c.sort_key))
