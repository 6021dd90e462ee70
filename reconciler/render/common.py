"""Small helpers shared by the text and Markdown renderers."""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

from reconciler.plan import Action, Change, ClinicPlan, Plan
from reconciler.secrets import REDACTED


def value(v: Any) -> str:
    """A field's value as the text and Markdown plans show it: JSON's form for scalars."""
    if v is None:
        return "(none)"
    if isinstance(v, str):
        return REDACTED if v == REDACTED else encode_basestring(v)  # json.dumps, faster
    if isinstance(v, bool | int | float):
        return json.dumps(v)
    return str(v)


def headline(change: Change) -> str:
    extra = "  (manual)" if change.action is not Action.STEP and change.mode == "manual" else ""
    rule = f"  [needs --allow {change.safety_rule}]" if change.safety_rule else ""
    label = "step (manual)" if change.action is Action.STEP else change.action.value
    return f"{change.action.symbol} {change.address}  {label}{extra}{rule}"


def field_lines(change: Change) -> list[str]:
    lines = []
    for f in change.fields:
        before, after = f.shown()
        if change.action is Action.CREATE or (change.action is Action.GRANT and before is None):
            lines.append(f"{f.name}: {value(after)}")
        elif change.action in (Action.DELETE, Action.REVOKE) and after is None:
            lines.append(f"{f.name}: {value(before)} -> (removed)")
        else:
            lines.append(f"{f.name}: {value(before)} -> {value(after)}")
    return lines


def step_lines(change: Change) -> list[str]:
    return [
        f"{i}. {s}" if not s.startswith("  ") else f"   {s.strip()}"
        for i, s in _numbered(change.steps)
    ]


def _numbered(steps: tuple[str, ...]) -> list[tuple[int, str]]:
    out, n = [], 0
    for s in steps:
        if not s.startswith("  "):
            n += 1
        out.append((n, s))
    return out


def clinic_counts(cp: ClinicPlan) -> str:
    if cp.error is not None:
        return "error"
    if not cp.changes:
        return "in sync"
    a, m = len(cp.automatic), len(cp.manual)
    parts = [f"{a} automatic"] if a else []
    parts += [f"{m} manual"] if m else []
    return f"{len(cp.changes)} change{'s' if len(cp.changes) != 1 else ''} ({', '.join(parts)})"


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return (
        f"Plan {plan.plan_id}: {s.clinics} clinic{'s' if s.clinics != 1 else ''}: "
        f"{s.in_sync} in sync, {s.with_changes} with changes, {s.errors} "
        f"error{'s' if s.errors != 1 else ''}; {s.changes} change{'s' if s.changes != 1 else ''} "
        f"({s.automatic} automatic, {s.manual} manual)."
    )
