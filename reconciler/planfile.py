"""Saved plans: ``plan --out FILE`` writes the JSON plan; ``apply --plan FILE`` reads it back.

A saved plan holds, per clinic, the hash of its desired state and, per change, the
fingerprint of the live object it was computed from, so apply can refuse a stale plan. It
holds no secret values (sensitive fields are ``(sensitive)``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from reconciler.diagnostics import format_field
from reconciler.errors import PlanFileError
from reconciler.plan import Action, Mode, Plan, SafetyRule, plan_digest
from reconciler.render.json_ import FORMAT_VERSION, render_json

_IDENTITY = ("address", "action", "mode", "before", "after", "fingerprint")
_SHOWN = 10  # problems listed; a plan broken everywhere is one message, not thousands
_TYPES = {"object": "an object", "array": "a list", "string": "a string", "null": "null"}
_TEXT: dict[str, Any] = {"type": "string"}
_NAME: dict[str, Any] = {"type": "string", "minLength": 1}

PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "reconciler saved plan, format_version 1 (what `reconcile plan --out` writes)",
    "type": "object",
    "additionalProperties": False,
    "required": ["format_version", "plan_id", "clinics"],
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "plan_id": {
            "type": "string",
            "pattern": "^[0-9a-f]{16}$",
            "description": "16 hexadecimal digits",
        },
        "config_commit": {"type": ["string", "null"]},
        "summary": {"type": "object"},
        "clinics": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "status", "error", "desired_hash", "changes"],
                "properties": {
                    "id": {
                        "type": "string",
                        "pattern": "^[a-z0-9][a-z0-9-]*$",
                        "maxLength": 63,
                        "description": "a clinic id (lowercase letters, digits and dashes)",
                    },
                    "name": _TEXT,
                    "emr": _NAME,
                    "file": _TEXT,
                    "status": {"enum": ["in_sync", "changes", "error"]},
                    "error": {"type": ["string", "null"]},
                    "desired_hash": {
                        "type": "string",
                        "pattern": "^sha256:[0-9a-f]{64}$",
                        "description": "sha256: and 64 hexadecimal digits",
                    },
                    "changes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": list(_IDENTITY),
                            "properties": {
                                "address": _NAME,
                                "resource": _NAME,
                                "action": {"enum": [a.value for a in Action]},
                                "mode": {"enum": [m.value for m in Mode]},
                                "before": {"type": ["object", "null"]},
                                "after": {"type": ["object", "null"]},
                                "fingerprint": _NAME,
                                "impact": _TEXT,
                                "steps": {"type": "array", "items": _TEXT},
                                "safety_rule": {"enum": [*(r.value for r in SafetyRule), None]},
                            },
                        },
                    },
                },
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(PLAN_SCHEMA)


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


def _field(path: Iterable[str | int]) -> str:
    return format_field(tuple(path)) if path else "(plan)"


def _schema_problem(error: ValidationError) -> str:
    """One schema error in words; the offending value is never echoed (it may be huge)."""
    where = _field(error.absolute_path)
    expected: Any = error.validator_value
    instance = error.instance
    if error.validator == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"{where}: must be {' or '.join(_TYPES.get(n, n) for n in names)}"
    if error.validator == "required":
        missing = next(
            (n for n in expected if isinstance(instance, dict) and n not in instance), ""
        )
        return f"{where}: missing required field '{missing}'"
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = sorted(str(k) for k in instance if k not in known)
        return f"{where}: unknown field(s) {', '.join(repr(k) for k in unknown)}"
    if error.validator == "enum":
        return f"{where}: must be one of: {', '.join(map(str, expected))}"
    if error.validator == "pattern":
        return f"{where}: is not {error.schema.get('description', 'valid')}"  # type: ignore[union-attr]
    if error.validator in {"minLength", "maxLength"}:
        return f"{where}: is too {'short' if error.validator == 'minLength' else 'long'}"
    return f"{where}: is not valid ({error.validator})"


def _problems(data: Any) -> list[str]:
    """What is wrong with a loaded plan: its schema, then what a schema cannot say."""
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        return [_schema_problem(e) for e in errors[:_SHOWN]]
    problems: list[str] = []
    first: dict[str, int] = {}
    for i, clinic in enumerate(data["clinics"]):
        cid = clinic["id"]
        if cid in first:
            problems.append(f"clinics[{i}].id: clinic {cid} is already in clinics[{first[cid]}]")
        first.setdefault(cid, i)
        seen: dict[str, int] = {}
        for j, change in enumerate(clinic["changes"]):
            if change["address"] in seen:
                problems.append(
                    f"clinics[{i}].changes[{j}].address: {change['address']} is already in "
                    f"changes[{seen[change['address']]}]"
                )
            seen.setdefault(change["address"], j)
        if (clinic["status"] == "error") != (clinic["error"] is not None):
            problems.append(f"clinics[{i}].status: {clinic['status']} does not match its error")
        elif clinic["status"] == "in_sync" and clinic["changes"]:
            problems.append(f"clinics[{i}].status: in_sync, but it lists changes")
    if problems:
        return problems[:_SHOWN]
    digest = plan_digest(
        [
            {
                "id": c["id"],
                "desired": c["desired_hash"],
                "error": c["error"],
                "changes": [{k: ch[k] for k in _IDENTITY} for ch in c["changes"]],
            }
            for c in data["clinics"]
        ]
    )
    if digest != data["plan_id"]:
        return [
            f"plan_id: {data['plan_id']} does not match what the plan holds: it was edited after "
            "`reconcile plan` wrote it"
        ]
    return []


def read_plan(path: Path) -> SavedPlan:
    """Read and check a saved plan: valid JSON, this format's schema, each clinic once, each
    change once, and a plan id that matches its contents. Anything off is PlanFileError."""
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
    version = data.get("format_version") if isinstance(data, dict) else None
    if isinstance(data, dict) and "format_version" in data and version != FORMAT_VERSION:
        shown = version if isinstance(version, int | float | str | None) else "(not a number)"
        raise PlanFileError(
            f"{path}: plan format_version {shown!r} is not supported "
            f"(expected {FORMAT_VERSION}); plan again with this version"
        )
    problems = _problems(data)
    if problems:
        raise PlanFileError(f"{path}: not a valid reconciler plan:\n  " + "\n  ".join(problems))
    for c in data["clinics"]:
        if c["status"] == "error":
            raise PlanFileError(
                f"{path}: clinic {c['id']} could not be planned; "
                "fix it and plan again, or plan the other clinics with --clinic"
            )
    return SavedPlan(
        plan_id=data["plan_id"],
        clinics=tuple(
            SavedClinic(
                id=c["id"],
                desired_hash=c["desired_hash"],
                changes=tuple({k: ch[k] for k in _IDENTITY} for ch in c["changes"]),
            )
            for c in data["clinics"]
        ),
    )
