"""The JSON plan (format_version 1): the machine-readable plan, and the saved plan file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from reconciler.invisible import json_visible
from reconciler.plan import Change, Plan, jsonable
from reconciler.render.common import value

FORMAT_VERSION = 1


def content_digest(data: dict[str, Any]) -> str:
    """``sha256:`` and the hash of the plan document without its ``digest`` field, in a
    canonical form (sorted keys, ASCII), so any edit to any field of a saved plan is seen."""
    body = {k: v for k, v in data.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON plan as data; ``digest`` covers every other field (see
    :func:`content_digest`)."""
    data = _plan_body(plan)
    data["digest"] = content_digest(data)
    return data


def _plan_body(plan: Plan) -> dict[str, Any]:
    s = plan.summary
    shard = {} if plan.shard is None else {"shard": str(plan.shard)}  # absent: unsharded
    return {
        "format_version": FORMAT_VERSION,
        "plan_id": plan.plan_id,
        "config_commit": plan.config_commit,
        **shard,
        "clinics": [
            {
                "id": cp.clinic.id,
                "name": cp.clinic.name,
                "emr": cp.clinic.emr,
                "file": cp.clinic.source.file,
                "status": cp.status.value,
                "error": cp.error,
                "notes": list(cp.notes),
                "observed": _observed(cp.observed),
                "desired_hash": cp.clinic.desired_hash(),
                "changes": [
                    {
                        **c.identity(),
                        "resource": c.resource,
                        "impact": c.impact,
                        "steps": list(c.steps),
                        "safety_rule": c.safety_rule.value if c.safety_rule else None,
                        "shown": _shown(c),
                    }
                    for c in cp.changes
                ],
            }
            for cp in plan.clinics
        ],
        "summary": {
            "clinics": s.clinics,
            "in_sync": s.in_sync,
            "with_changes": s.with_changes,
            "errors": s.errors,
            "changes": s.changes,
        },
    }


def _observed(drawn: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the report draws of a clinic, as plain JSON data (None when its EMR draws
    nothing)."""
    if drawn is None:
        return None
    data: dict[str, Any] = jsonable(dict(drawn))
    return data


def _shown(change: Change) -> list[dict[str, str | None]]:
    """Each field as the text and Markdown plans print it (null where there is no value), so
    ``reconcile show`` prints a saved plan exactly as ``plan`` did: ``before`` and ``after``
    hold typed values, and a date, say, is printed differently from the string it becomes."""
    out: list[dict[str, str | None]] = []
    for f in change.fields:
        before, after = f.shown()
        out.append(
            {
                "name": f.name,
                "before": None if before is None else value(before),
                "after": None if after is None else value(after),
            }
        )
    return out


def dump(data: dict[str, Any]) -> str:
    """A plan document as JSON text, as :func:`render_json` writes it: exactly
    ``json.dumps(data, indent=2, ensure_ascii=False)``, several times faster (the standard
    library's indented output runs in pure Python; here each value is C-encoded)."""
    return json_visible(_indented(data, "")) + "\n"


_scalar = json.JSONEncoder(ensure_ascii=False).encode


def _indented(value: Any, indent: str) -> str:
    if isinstance(value, dict):
        if not value:
            return "{}"
        if not all(isinstance(k, str) for k in value):
            return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)
        inner = indent + "  "
        items = ",\n".join(
            f"{inner}{encode_basestring(k)}: {_indented(v, inner)}" for k, v in value.items()
        )
        return "{\n" + items + "\n" + indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        inner = indent + "  "
        items = ",\n".join(inner + _indented(v, inner) for v in value)
        return "[\n" + items + "\n" + indent + "]"
    return _scalar(value)


def render_json(plan: Plan) -> str:
    """The plan as JSON; invisible characters (from a database value, say) are escaped."""
    return dump(plan_to_dict(plan))
