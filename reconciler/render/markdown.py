"""Markdown for a pull-request comment: a summary table, then details per clinic.

Kept under GitHub's 65,536-character comment limit: details that do not fit are cut, with
a note saying so (the summary table always stays).
"""

from __future__ import annotations

from reconciler.plan import ClinicPlan, Plan
from reconciler.render.common import clinic_counts, field_lines, headline, step_lines, summary_line

LIMIT = 65_000


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _details(cp: ClinicPlan) -> str:
    c = cp.clinic
    out = [f"### `{c.id}`: {_escape(c.name)} ({c.emr})", ""]
    if cp.error is not None:
        out += [f"**Error:** {_escape(cp.error)}", ""]
    elif not cp.changes:
        out += ["In sync: nothing to change.", ""]
    automatic, manual = cp.automatic, cp.manual
    if automatic:
        out += ["```diff"]
        for change in automatic:
            out.append(headline(change))
            out += [f"    {line}" for line in field_lines(change)]
        out += ["```", ""]
        why = [f"- `{ch.address}`: {ch.impact}" for ch in automatic if ch.impact]
        if why:
            out += ["<details><summary>Why these changes</summary>", "", *why, "", "</details>", ""]
    if manual:
        out += ["**Steps for a person**", ""]
        for change in manual:
            out.append(
                f"- [ ] `{change.address}`" + (f": {change.impact}" if change.impact else "")
            )
            out += [f"  {line}" for line in step_lines(change)]
            out += [f"  - {line}" for line in field_lines(change)]
        out.append("")
    return "\n".join(out)


def render_markdown(plan: Plan) -> str:
    s = plan.summary
    head = [
        f"## reconciler plan `{plan.plan_id}`",
        "",
        f"{s.clinics} clinics: **{s.with_changes} with changes**, {s.in_sync} in sync, "
        f"**{s.errors} error{'s' if s.errors != 1 else ''}**; {s.automatic} automatic and "
        f"{s.manual} manual changes.",
        "",
        "| clinic | EMR | status | changes |",
        "|---|---|---|---|",
    ]
    for cp in plan.clinics:
        head.append(
            f"| `{cp.clinic.id}` | {cp.clinic.emr} | {cp.status.value} | "
            f"{_escape(clinic_counts(cp))} |"
        )
    head.append("")
    body = "\n".join(head)
    footer = f"\n---\n{summary_line(plan)}\n"
    cut = 0
    for cp in plan.clinics:
        part = _details(cp)
        if len(body) + len(part) + len(footer) + 300 > LIMIT:
            cut += 1
            continue
        body += "\n" + part
    if cut:
        body += (
            f"\n> **Note:** the details of {cut} clinic{'s' if cut != 1 else ''} were cut to stay "
            "under the comment size limit; run `reconcile plan --format text` for all of them.\n"
        )
    return body + footer
