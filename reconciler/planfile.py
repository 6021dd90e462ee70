"""Saved plans: ``plan --out FILE`` writes the JSON plan; ``apply --plan FILE`` reads it back.

A saved plan holds, per clinic, the hash of its desired state and, per change, the
fingerprint of the live object it was computed from, so apply can refuse a stale plan. It
holds no secret values (sensitive fields are ``(sensitive)``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import PlanFileError
from reconciler.plan import Plan
from reconciler.render.json_ import FORMAT_VERSION, render_json

_IDENTITY = ("address", "action", "mode", "before", "after", "fingerprint")


@dataclass(frozen=True, slots=True)
class SavedClinic:
    id: str
    desired_hash: str
    changes: tuple[dict[str, Any], ...]  # Change.identity() of each planned change


@dataclass(frozen=True, slots=True)
class SavedPlan:
    plan_id: str
    clinics: tuple[SavedClinic, ...]

    @property
    def clinic_ids(self) -> list[str]:
        return [c.id for c in self.clinics]


def write_plan(plan: Plan, path: Path) -> None:
    """Write atomically, so a reviewer never sees half a plan."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot write the plan file ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render_json(plan))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PlanFileError(f"{path}: cannot write the plan file ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_plan(path: Path) -> SavedPlan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such plan file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"{path}: cannot read the plan file ({type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not a JSON plan: {exc.msg}"
        ) from None
    try:
        if data.get("format_version") != FORMAT_VERSION:
            raise PlanFileError(
                f"{path}: plan format_version {data.get('format_version')!r} is not supported "
                f"(expected {FORMAT_VERSION}); plan again with this version"
            )
        clinics = []
        for c in data["clinics"]:
            if c["status"] == "error":
                raise PlanFileError(
                    f"{path}: clinic {c['id']} could not be planned ({c['error']}); "
                    "fix it and plan again, or plan the other clinics with --clinic"
                )
            clinics.append(
                SavedClinic(
                    id=str(c["id"]),
                    desired_hash=str(c["desired_hash"]),
                    changes=tuple({k: ch[k] for k in _IDENTITY} for ch in c["changes"]),
                )
            )
        return SavedPlan(plan_id=str(data["plan_id"]), clinics=tuple(clinics))
    except (KeyError, TypeError, AttributeError) as exc:
        raise PlanFileError(f"{path}: not a reconciler plan (missing {exc})") from None
