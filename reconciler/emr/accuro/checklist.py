"""The checklist a person follows in Accuro and Ocean (seeds 000-002), as Markdown sections.

``apply`` writes it per clinic (:func:`reconciler.render.checklist.render_checklist` adds
the title and the closing ``reconcile confirm`` section); it stands on its own, without the
support articles.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.emr.accuro.diff import CLEARED, COLUMN, GRANTED, RESOURCE
from reconciler.emr.accuro.spec import AccuroSpec, Permission, accuro_spec
from reconciler.model import Clinic
from reconciler.plan import Change


def _row_table(rows: Sequence[Change]) -> list[str]:
    header = "| Provider | " + " | ".join(COLUMN[p] for p in Permission) + " |"
    lines = [header, "|---" * (len(Permission) + 1) + "|"]
    for change in rows:
        todo = {f.name: f.after for f in change.fields}
        marks = [
            "**check**" if todo.get(p.value) == GRANTED
            else "**clear**" if todo.get(p.value) == CLEARED
            else ""
            for p in Permission
        ]  # fmt: skip
        lines.append(f"| {_who(change)} | " + " | ".join(marks) + " |")
    return lines


def _parts(change: Change) -> tuple[str, str]:
    """(office, provider) of a grid row: ``[user/office/provider]`` in its address (user
    names have no '/'), and the provider as its step names it."""
    inner = change.address[len(RESOURCE) + 1 : -1]
    office = inner.split("/", 1)[1].rsplit("/", 1)[0] if inner.count("/") >= 2 else inner
    prefix = f"Office '{office}', "
    step = change.steps[0] if change.steps else ""
    if step.startswith(prefix) and ": " in step:
        return office, step[len(prefix) : step.rindex(": ")]
    return office, inner.rsplit("/", 1)[-1]


def _who(change: Change) -> str:
    return _parts(change)[1]


def _office(change: Change) -> str:
    return _parts(change)[0]


def _user(clinic: Clinic, changes: Sequence[Change]) -> str:
    """The OceanAPI user: the file's, or (a clinic rebuilt from a saved plan, which has no
    spec) the one its grid rows' addresses name."""
    if isinstance(clinic.spec, AccuroSpec):
        return accuro_spec(clinic).ocean_api_user.username
    for change in changes:
        if change.resource == RESOURCE and change.address.startswith(f"{RESOURCE}["):
            return change.address[len(RESOURCE) + 1 :].split("/", 1)[0]
    return "the OceanAPI user"


def checklist(clinic: Clinic, changes: Sequence[Change]) -> list[tuple[str, str]]:
    """(title, Markdown body) per section, in the order a person works."""
    user = _user(clinic, changes)
    sections: list[tuple[str, str]] = []
    first = [c for c in changes if c.resource in ("accuro.user", "accuro.user_office")]
    if first:
        body = [f"_{c.impact}_\n\n" + "\n".join(f"- [ ] {s}" for s in c.steps) for c in first]
        sections.append(("The OceanAPI user in Accuro", "\n\n".join(body)))
    rows = [c for c in changes if c.resource == RESOURCE]
    if rows:
        lines = [
            "You need an Accuro user with full administrative access (else ask the clinic "
            "manager or QHR Client Services).",
            "",
            "1. Open the Accuro menu and go to **Users > Manage Security**.",
            f"2. Select **Users** on the sidebar; in the **Users** drop-down choose **{user}**.",
            "3. Open the **Provider Permissions** tab.",
            "4. For each office below, select the office, then on each provider's row check "
            "or clear exactly the boxes named; leave every other box as it is.",
            "",
        ]
        offices: dict[str, list[Change]] = {}
        for change in rows:
            offices.setdefault(_office(change), []).append(change)
        for office, office_rows in offices.items():
            lines += [f"#### Office: {office}", "", *_row_table(office_rows), ""]
            lines += [f"- [ ] {c.steps[0]}" for c in office_rows if c.steps]
            lines += [""]
        lines += ["5. Press **Save**.", "", "Why it matters:", ""]
        lines += [f"- {c.impact}" for c in rows]
        sections.append((f"Provider Permissions of {user} in Accuro", "\n".join(lines)))
    sync = [c for c in changes if c.resource == "ocean.full_schedule_sync"]
    for change in sync:
        sections.append(
            (
                "Sync Full Schedule in Ocean Cloud Connect",
                "\n".join(f"- [ ] {s}" for s in change.steps) + f"\n\n_{change.impact}_",
            )
        )
    if rows:
        granted = sorted({_who(c) for c in rows if any(f.after == GRANTED for f in c.fields)})
        if granted:
            sections.append(
                (
                    "What to look for",
                    "Refresh Ocean's **Patients** page: these providers should be listed, with "
                    "their bookings on the **Day Sheet**, and reminders going out for their "
                    "patients:\n\n" + "\n".join(f"- {who}" for who in granted),
                )
            )
    others = [c for c in changes if c not in first and c not in rows and c not in sync]
    for change in others:
        sections.append((change.address, "\n".join(f"- [ ] {s}" for s in change.steps)))
    return sections
