"""The Markdown checklist ``apply`` writes for one clinic's manual changes.

An EMR package may lay out its own sections (``EmrPackage.checklist``); otherwise each
change is a section of its steps. Every checklist ends by saying how to record the work
with ``reconcile confirm``, so the next plan knows what was done.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from reconciler.emr.registry import emr
from reconciler.model import Clinic
from reconciler.plan import Change

DEFAULT_CHECKLIST_DIR = Path("checklists")


def _generic(changes: Sequence[Change]) -> list[tuple[str, str]]:
    sections = []
    for change in changes:
        body = [f"_{change.impact}_", ""] if change.impact else []
        body += [f"- [ ] {s.strip()}" for s in change.steps]
        sections.append((change.address, "\n".join(body)))
    return sections


def confirmable(change: Change) -> bool:
    """Whether ``reconcile confirm`` can record this change: a manual change of fields
    (a step without fields, such as a sync, leaves nothing to record)."""
    return bool(change.fields)


def render_checklist(clinic: Clinic, changes: Sequence[Change], plan_id: str) -> str:
    """The whole checklist for ``clinic``: numbered sections, then how to confirm."""
    package = emr(clinic.emr)
    hook = package.checklist
    sections = hook(clinic, changes) if hook is not None else _generic(changes)
    out = [
        f"# Checklist: {clinic.name} ({clinic.id})",
        "",
        f"From plan `{plan_id}`. {package.title} cannot make these changes itself: a person "
        "makes them, in this order, then records what was done.",
        "",
    ]
    for number, (title, body) in enumerate(sections, 1):
        out += [f"## {number}. {title}", "", body.rstrip(), ""]
    if any(confirmable(c) for c in changes):
        out += [
            f"## {len(sections) + 1}. Record what you did",
            "",
            "In the clinic-group repository, record the boxes you set, then commit the "
            "state file it writes:",
            "",
            "```",
            f"reconcile confirm {clinic.id}",
            "```",
            "",
            "On a terminal it asks about each change; in a script, "
            f'`reconcile confirm {clinic.id} --all --by "Your Name"`. The next '
            f"`reconcile plan` reads {package.title} again: what it can observe is verified, "
            "what it cannot is taken from your confirmation, and any contradiction is shown.",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def checklist_path(directory: Path, clinic_id: str) -> Path:
    safe = re.sub(r"[^a-z0-9-]", "-", clinic_id)
    return directory / f"{safe}.md"
