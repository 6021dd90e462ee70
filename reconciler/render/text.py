"""A Terraform-like listing: + create/grant, ~ update, - delete/revoke, * a manual step."""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.render.common import clinic_counts, field_lines, headline, step_lines, summary_line


def render_text(plan: Plan) -> str:
    out: list[str] = []
    for cp in plan.clinics:
        c = cp.clinic
        out.append(f"{c.id} ({c.emr}, {c.name}): {clinic_counts(cp)}")
        if cp.error is not None:
            out.append(f"    error: {cp.error}")
        out += [f"    note: {note}" for note in cp.notes]
        for change in cp.changes:
            out.append(f"  {headline(change)}")
            out += [f"        {line}" for line in field_lines(change)]
            out += [f"        {line}" for line in step_lines(change)]
            if change.impact:
                out.append(f"        why: {change.impact}")
        out.append("")
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"
