"""``reconcile report``: the fleet as a static HTML site, from live reads or saved plans.

    model.py          the page model: cell states, statuses, counts, overview (no HTML)
    html.py           Jinja2 templates (templates/), autoescaped; inline CSS, no fetch
    palette.py        every colour pair, checked for WCAG AA contrast by the tests
    markdown_html.py  the checklists the tool writes, as HTML
    audit_log.py      each clinic's last apply, from the audit log
    write.py          the folder written whole, then swapped in

The report reads nothing but the plan (and the audit log): what each EMR draws comes from
``ClinicPlan.observed``, so the same pages render from ``plan`` and from saved plans.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from reconciler.combine import PlannedChange
from reconciler.plan import Change, ClinicPlan, Plan
from reconciler.render.checklist import render_checklist
from reconciler.report.audit_log import last_applies
from reconciler.report.html import ClinicRenderer, render_index
from reconciler.report.model import ClinicPage, LastApply, Overview, clinic_page, overview
from reconciler.report.write import MARKER, ReportError, check_out_dir, write_report
from reconciler.secrets import secret_scope

log = logging.getLogger("reconciler.report")


@dataclass(frozen=True, slots=True)
class Report:
    """A report's pages, ready to render."""

    overview: Overview

    @property
    def pages(self) -> tuple[ClinicPage, ...]:
        return self.overview.pages

    def files(self) -> Iterator[tuple[str, str]]:
        """(path inside the report, HTML) of every page: the index, then each clinic's."""
        yield "index.html", render_index(self.overview)
        renderer = ClinicRenderer(self.overview)
        for page in self.overview.pages:
            yield page.href, renderer.render(page)


def _typed(change: Change) -> Change:
    """A change as a checklist reads it: one rebuilt from a saved plan holds its fields as
    they were printed (``"granted"``, quoted); its identity holds the values themselves."""
    if not isinstance(change, PlannedChange):
        return change
    identity = change.identity()
    before, after = (
        side if isinstance(side := identity.get(key), dict) else {} for key in ("before", "after")
    )
    fields = tuple(
        replace(f, before=before.get(f.name, f.before), after=after.get(f.name, f.after))
        for f in change.fields
    )
    return replace(change, fields=fields)


def _checklist(cp: ClinicPlan, plan_id: str) -> str | None:
    """The Markdown checklist ``apply`` would write for the clinic's manual changes; None
    when there are none, or when its EMR cannot lay it out from what the plan holds (the
    page then lists each change's steps)."""
    if cp.error is not None or not cp.manual:
        return None
    with secret_scope(cp.clinic.id):
        try:
            return render_checklist(cp.clinic, [_typed(c) for c in cp.manual], plan_id)
        except Exception as exc:
            log.debug("no checklist for %s", cp.clinic.id, exc_info=exc)
            return None


def build_report(
    plan: Plan,
    *,
    source: str,
    applies: Mapping[str, LastApply] | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of ``plan``; ``applies`` is each clinic's last apply (:func:`last_applies`)."""
    applies = applies or {}
    pages = [
        clinic_page(cp, _checklist(cp, plan.plan_id), applies.get(cp.clinic.id))
        for cp in plan.clinics
    ]
    return Report(overview(plan, pages, now or datetime.now(UTC), source))


__all__ = [
    "MARKER",
    "Report",
    "ReportError",
    "build_report",
    "check_out_dir",
    "last_applies",
    "write_report",
]
