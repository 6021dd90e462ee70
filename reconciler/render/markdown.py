"""Markdown for a pull-request comment: counts, a summary table, then details per clinic.

Kept under GitHub's 65,536-character comment limit for any fleet. The table lists every
clinic while it fits in its share of the comment; past that it condenses to the clinics
that need attention (errors first), as many as fit, and a note says what was left out.
Details that do not fit are cut, with a note saying so.
"""

from __future__ import annotations

from reconciler.plan import ClinicPlan, ClinicStatus, Plan
from reconciler.render.common import clinic_counts, field_lines, headline, step_lines, summary_line

LIMIT = 65_000
TABLE_LIMIT = 24_000  # the table's share; the details get the rest
NOTE_ROOM = 400  # the longest note about what was cut, and then some


_MARKDOWN = str.maketrans(
    {
        **{ch: f"\\{ch}" for ch in "\\`*_[]|~"},
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        "@": "&#64;",  # no @mention
        "\n": " ",
    }
)


def _escape(text: str) -> str:
    """Text from a clinic file or an EMR as literal text in a comment: no HTML, links,
    emphasis, code spans, table cells or @mentions of its own."""
    return text.translate(_MARKDOWN)


def _details(cp: ClinicPlan) -> str:
    c = cp.clinic
    out = [f"### `{c.id}`: {_escape(c.name)} ({c.emr})", ""]
    if cp.error is not None:
        out += [f"**Error:** {_escape(cp.error)}", ""]
    elif not cp.changes:
        out += ["In sync: nothing to change.", ""]
    if cp.notes:
        out += [*(f"_{_escape(note)}_  " for note in cp.notes), ""]
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


def _row(cp: ClinicPlan) -> str:
    return (
        f"| `{cp.clinic.id}` | {cp.clinic.emr} | {cp.status.value} | {_escape(clinic_counts(cp))} |"
    )


def _table(plan: Plan) -> tuple[list[str], list[ClinicPlan], str]:
    """(rows, the clinics they list, a note on what was left out)."""
    rows = [_row(cp) for cp in plan.clinics]
    if sum(len(r) + 1 for r in rows) <= TABLE_LIMIT:
        return rows, list(plan.clinics), ""
    attention = sorted(
        (cp for cp in plan.clinics if cp.status is not ClinicStatus.IN_SYNC),
        key=lambda cp: cp.status is not ClinicStatus.ERROR,
    )
    shown: list[ClinicPlan] = []
    size = 0
    for cp in attention:
        row = _row(cp)
        if size + len(row) + 1 > TABLE_LIMIT:
            break
        shown.append(cp)
        size += len(row) + 1
    in_sync = len(plan.clinics) - len(attention)
    if len(shown) == len(attention):
        note = (
            f"the table lists only the {len(attention)} clinic"
            f"{'s' if len(attention) != 1 else ''} that need attention; the {in_sync} in sync "
            "are left out"
        )
    else:
        note = (
            f"the table lists {len(shown)} of the {len(attention)} clinics that need attention "
            f"(errors first); {len(attention) - len(shown)} more and the {in_sync} in sync are "
            "left out to stay under the comment size limit"
        )
    note = f"> **Note:** {note}. Run `reconcile plan --format text` for every clinic.\n"
    return [_row(cp) for cp in shown], shown, note


def render_markdown(plan: Plan) -> str:
    """The plan as a pull-request comment, under :data:`LIMIT` characters for any fleet."""
    s = plan.summary
    rows, listed, table_note = _table(plan)
    head = [
        f"## reconciler plan `{plan.plan_id}`",
        "",
        f"{s.clinics} clinics: **{s.with_changes} with changes**, {s.in_sync} in sync, "
        f"**{s.errors} error{'s' if s.errors != 1 else ''}**; {s.automatic} automatic and "
        f"{s.manual} manual changes.",
        "",
        "| clinic | EMR | status | changes |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    body = "\n".join(head) + (f"\n{table_note}" if table_note else "")
    footer = f"\n---\n{summary_line(plan)}\n"
    cut = 0
    for cp in listed:
        part = _details(cp)
        if len(body) + len(part) + 1 + len(footer) + NOTE_ROOM > LIMIT:
            cut += 1
            continue
        body += "\n" + part
    if cut:
        body += (
            f"\n> **Note:** the details of {cut} clinic{'s' if cut != 1 else ''} were cut to stay "
            "under the comment size limit; run `reconcile plan --format text` for all of them.\n"
        )
    return body + footer
