"""The report as data: which state each cell gets, each clinic's status and counts, the
overview's rows and totals. Pure Python, no HTML: :mod:`reconciler.report.html` draws it.

Everything here comes from a :class:`~reconciler.plan.Plan`: its clinics' changes, notes,
errors and ``observed`` (what each EMR package gives the report, see
``EmrPackage.observed``), so a report renders the same from live reads and from saved plans.
The core names no EMR: a grid and a desired-vs-live table are all it knows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from reconciler.emr.registry import PACKAGES, emr
from reconciler.plan import Change, ClinicPlan, Mode, Plan
from reconciler.render.common import value


class CellState(StrEnum):
    """A box of a grid, as the report shows it."""

    VERIFIED = "verified"
    CONFIRMED = "confirmed"
    MISSING = "missing"
    EXTRA = "extra"
    CONTRADICTED = "contradicted"
    UNVERIFIED = "unverified"
    NOT_DECLARED = "not_declared"

    @property
    def label(self) -> str:
        return _CELL_TEXT[self][0]

    @property
    def glyph(self) -> str:
        return _CELL_TEXT[self][1]

    @property
    def meaning(self) -> str:
        return _CELL_TEXT[self][2]

    @property
    def in_sync(self) -> bool:
        return self in (CellState.VERIFIED, CellState.CONFIRMED, CellState.NOT_DECLARED)


_CELL_TEXT: dict[CellState, tuple[str, str, str]] = {
    CellState.VERIFIED: ("verified", "✓", "observed as the clinic file wants"),
    CellState.CONFIRMED: (
        "confirmed",
        "☑",
        "cannot be observed; a person confirmed it is as the file wants",
    ),
    CellState.MISSING: ("missing", "✗", "the file grants it; it is known not to be granted"),
    CellState.EXTRA: ("extra", "+", "the file clears it; it is known to be granted"),
    CellState.CONTRADICTED: (
        "contradicted",
        "!",
        "a person confirmed it, but what is observed says otherwise",
    ),
    CellState.UNVERIFIED: ("unverified", "?", "neither observed nor confirmed: not known"),
    CellState.NOT_DECLARED: (
        "not declared",
        "\u2013",
        "a row the EMR shows that the clinic file does not declare",
    ),
}

_CODES: dict[str, CellState] = {
    "V": CellState.VERIFIED,
    "C": CellState.CONFIRMED,
    "M": CellState.MISSING,
    "X": CellState.EXTRA,
    "D": CellState.CONTRADICTED,
    "U": CellState.UNVERIFIED,
    "-": CellState.NOT_DECLARED,
}


class RowState(StrEnum):
    """A desired-vs-live row."""

    SAME = "same"
    MISSING = "missing"
    EXTRA = "extra"
    DIFFERENT = "different"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {"same": "as desired", "unknown": "not read"}.get(self.value, self.value)

    @property
    def glyph(self) -> str:
        return {"same": "=", "missing": "✗", "extra": "+", "different": "≠", "unknown": "?"}[
            self.value
        ]


class Status(StrEnum):
    """A clinic's status in the report: ``unverified`` where the plan has changes only
    because something could not be observed or confirmed (nothing is known to be wrong)."""

    ERROR = "error"
    CHANGES = "changes"
    UNVERIFIED = "unverified"
    IN_SYNC = "in_sync"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def rank(self) -> int:
        """Attention first: errors, then changes, unverified, in sync."""
        return list(Status).index(self)


@dataclass(slots=True)
class Counts:
    """What a clinic's report found, cell by cell and row by row."""

    missing: int = 0
    extra: int = 0
    different: int = 0
    contradicted: int = 0
    confirmed: int = 0
    unverified: int = 0
    verified: int = 0
    not_declared: int = 0

    @property
    def drift(self) -> int:
        """Known to differ from the file."""
        return self.missing + self.extra + self.different + self.contradicted

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class Cell:
    column: str
    state: CellState
    wants: bool | None  # the file grants (True) or clears (False) it; None: not declared

    @property
    def wanted_text(self) -> str:
        if self.wants is None:
            return "not in the clinic file"
        return "the file grants it" if self.wants else "the file clears it"


@dataclass(frozen=True, slots=True)
class GridRow:
    id: str
    name: str
    cells: tuple[Cell, ...]

    @property
    def declared(self) -> bool:
        return any(c.state is not CellState.NOT_DECLARED for c in self.cells)


@dataclass(frozen=True, slots=True)
class GridGroup:
    name: str
    rows: tuple[GridRow, ...]


@dataclass(frozen=True, slots=True)
class Grid:
    title: str
    group_label: str
    row_label: str
    columns: tuple[str, ...]
    groups: tuple[GridGroup, ...]
    problems: tuple[str, ...] = ()  # rows that could not be read (a damaged saved plan)

    def cells(self) -> Iterable[Cell]:
        for group in self.groups:
            for row in group.rows:
                yield from row.cells

    def states(self) -> list[CellState]:
        """The states that occur, in legend order."""
        found = {c.state for c in self.cells()}
        return [s for s in CellState if s in found]


@dataclass(frozen=True, slots=True)
class CompareRow:
    section: str
    field: str
    desired: str
    live: str
    state: RowState


@dataclass(frozen=True, slots=True)
class CompareSection:
    name: str
    rows: tuple[CompareRow, ...]


@dataclass(frozen=True, slots=True)
class FieldView:
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class ChangeView:
    """One planned change as a person reads it."""

    address: str
    action: str
    symbol: str
    manual: bool
    impact: str
    fields: tuple[FieldView, ...]
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LastApply:
    """The latest run of ``apply`` that touched a clinic, from the audit log."""

    time: datetime
    results: Mapping[str, int]  # result -> how many of the run's lines

    @property
    def when(self) -> str:
        return self.time.strftime("%Y-%m-%d %H:%M UTC")

    @property
    def summary(self) -> str:
        return ", ".join(f"{n} {r}" for r, n in sorted(self.results.items()))

    @property
    def ok(self) -> bool:
        return set(self.results) <= {"applied", "manual"}


@dataclass(frozen=True, slots=True)
class ClinicPage:
    """Everything one clinic's page shows, and its row of the overview."""

    id: str
    name: str
    emr: str
    emr_title: str
    file: str
    status: Status
    error: str | None
    notes: tuple[str, ...]
    counts: Counts
    grid: Grid | None
    compare: tuple[CompareSection, ...]
    changes: tuple[ChangeView, ...]
    checklist: str | None  # Markdown, as `apply` writes it
    last_apply: LastApply | None
    href: str  # the page, relative to the report's folder

    @property
    def automatic(self) -> tuple[ChangeView, ...]:
        return tuple(c for c in self.changes if not c.manual)

    @property
    def manual(self) -> tuple[ChangeView, ...]:
        return tuple(c for c in self.changes if c.manual)


@dataclass(slots=True)
class Totals:
    clinics: int = 0
    by_status: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    counts: Counts = field(default_factory=Counts)
    changes: int = 0


@dataclass(frozen=True, slots=True)
class Overview:
    """The index: one row per clinic, attention first, and the fleet's totals."""

    pages: tuple[ClinicPage, ...]
    totals: Totals
    emrs: tuple[tuple[str, str], ...]  # (kind, title) of the EMRs present, in order
    plan_id: str
    config_commit: str | None
    generated: datetime
    source: str  # where the plan came from, in words


# --- building the model ----------------------------------------------------------------------


@cache
def cell(code: str, column: str) -> Cell:
    """The cell a state code stands for (``EmrPackage.observed``); an unknown code is
    unverified."""
    state = _CODES.get(code.upper(), CellState.UNVERIFIED)
    if state is CellState.NOT_DECLARED:
        return Cell(column, state, None)
    return Cell(column, state, code.isupper() if code.isalpha() else None)


_ROW = re.compile(r"^(?P<codes>\S+) (?P<id>\S+) (?P<name>.*)$", re.DOTALL)


def parse_grid(data: Any) -> Grid | None:
    """The grid of ``observed["grid"]``; rows that cannot be read are left out and named in
    ``problems`` (a saved plan is checked against its schema, so this is belt and braces)."""
    if not isinstance(data, Mapping):
        return None
    columns = tuple(str(c) for c in data.get("columns") or ())
    groups, problems = [], []
    for group in data.get("groups") or ():
        if not isinstance(group, Mapping):
            continue
        rows = []
        for text in group.get("rows") or ():
            match = _ROW.match(text) if isinstance(text, str) else None
            if match is None or len(match["codes"]) != len(columns):
                problems.append(f"{group.get('name', '?')}: a row that cannot be read")
                continue
            codes = zip(match["codes"], columns, strict=True)
            rows.append(GridRow(match["id"], match["name"], tuple(cell(*c) for c in codes)))
        groups.append(GridGroup(str(group.get("name", "")), tuple(rows)))
    return Grid(
        title=str(data.get("title") or "Grid"),
        group_label=str(data.get("group") or "Group"),
        row_label=str(data.get("row") or "Row"),
        columns=columns,
        groups=tuple(groups),
        problems=tuple(problems),
    )


def parse_compare(data: Any) -> tuple[CompareSection, ...]:
    """``observed["compare"]`` as sections of rows, in their order."""
    sections: dict[str, list[CompareRow]] = {}
    for item in data if isinstance(data, Sequence) and not isinstance(data, str) else ():
        if not isinstance(item, Sequence) or len(item) != 5:
            continue
        section, name, desired, live, state = (str(x) for x in item)
        try:
            row_state = RowState(state)
        except ValueError:
            row_state = RowState.UNKNOWN
        sections.setdefault(section, []).append(CompareRow(section, name, desired, live, row_state))
    return tuple(CompareSection(name, tuple(rows)) for name, rows in sections.items())


def count(grid: Grid | None, compare: Sequence[CompareSection]) -> Counts:
    counts = Counts()
    for c in grid.cells() if grid is not None else ():
        match c.state:
            case CellState.VERIFIED:
                counts.verified += 1
            case CellState.CONFIRMED:
                counts.confirmed += 1
            case CellState.MISSING:
                counts.missing += 1
            case CellState.EXTRA:
                counts.extra += 1
            case CellState.CONTRADICTED:
                counts.contradicted += 1
            case CellState.UNVERIFIED:
                counts.unverified += 1
            case CellState.NOT_DECLARED:
                counts.not_declared += 1
    for section in compare:
        for row in section.rows:
            match row.state:
                case RowState.SAME:
                    counts.verified += 1
                case RowState.MISSING:
                    counts.missing += 1
                case RowState.EXTRA:
                    counts.extra += 1
                case RowState.DIFFERENT:
                    counts.different += 1
                case RowState.UNKNOWN:
                    counts.unverified += 1
    return counts


def status(cp: ClinicPlan, counts: Counts, drawn: bool) -> Status:
    """In sync, changes, error; or unverified: changes planned, nothing known to be wrong,
    and something that could not be observed (only where the EMR draws what it found)."""
    if cp.error is not None:
        return Status.ERROR
    if not cp.changes:
        return Status.IN_SYNC
    if drawn and counts.drift == 0 and counts.unverified > 0:
        return Status.UNVERIFIED
    return Status.CHANGES


def _change_view(change: Change) -> ChangeView:
    shown = []
    for f in change.fields:
        before, after = f.shown()
        shown.append(
            FieldView(
                f.name,
                None if before is None else value(before),
                None if after is None else value(after),
            )
        )
    return ChangeView(
        address=change.address,
        action=change.action.value,
        symbol=change.action.symbol,
        manual=change.mode is Mode.MANUAL,
        impact=change.impact,
        fields=tuple(shown),
        steps=change.steps,
    )


def emr_title(kind: str) -> str:
    """The EMR's name (``emr.kind`` as is, for a kind this version does not know)."""
    return emr(kind).title if kind in PACKAGES else kind


def page_href(clinic_id: str) -> str:
    """Where a clinic's page is, relative to the report's folder (ids are already
    ``[a-z0-9-]``; anything else is replaced, never used as a path)."""
    return f"clinics/{re.sub(r'[^a-z0-9-]', '-', clinic_id)}.html"


def clinic_page(
    cp: ClinicPlan, checklist: str | None = None, last_apply: LastApply | None = None
) -> ClinicPage:
    drawn = cp.observed if isinstance(cp.observed, Mapping) else None
    grid = parse_grid(drawn.get("grid")) if drawn is not None else None
    compare = parse_compare(drawn.get("compare")) if drawn is not None else ()
    counts = count(grid, compare)
    return ClinicPage(
        id=cp.clinic.id,
        name=cp.clinic.name,
        emr=cp.clinic.emr,
        emr_title=emr_title(cp.clinic.emr),
        file=cp.clinic.source.file,
        status=status(cp, counts, drawn is not None),
        error=cp.error,
        notes=cp.notes,
        counts=counts,
        grid=grid,
        compare=compare,
        changes=tuple(_change_view(c) for c in cp.changes),
        checklist=checklist,
        last_apply=last_apply,
        href=page_href(cp.clinic.id),
    )


def overview(
    plan: Plan,
    pages: Sequence[ClinicPage],
    generated: datetime,
    source: str,
) -> Overview:
    totals = Totals(clinics=len(pages))
    for page in pages:
        totals.by_status[page.status] += 1
        totals.counts.add(page.counts)
        totals.changes += len(page.changes)
    emrs = tuple(dict.fromkeys((p.emr, p.emr_title) for p in pages))
    ordered = sorted(pages, key=lambda p: (p.status.rank, p.id))
    return Overview(
        pages=tuple(ordered),
        totals=totals,
        emrs=emrs,
        plan_id=plan.plan_id,
        config_commit=plan.config_commit,
        generated=generated,
        source=source,
    )


COUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("missing", "missing"),
    ("extra", "extra"),
    ("different", "different"),
    ("contradicted", "contradicted"),
    ("confirmed", "confirmed only"),
    ("unverified", "unverified"),
)
"""The counts the overview and each page show: (Counts attribute, words)."""

STATUS_WORDS: dict[Status, str] = {
    Status.ERROR: "could not be read",
    Status.CHANGES: "with changes",
    Status.UNVERIFIED: "unverified",
    Status.IN_SYNC: "in sync",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def verdict(page: ClinicPage) -> str:
    """The page's first sentence: where the clinic stands, in words."""
    c = page.counts
    if page.status is Status.ERROR:
        return "This clinic could not be planned; what it is now is not known."
    if page.status is Status.IN_SYNC:
        text = "In sync: live state is as the clinic file wants; nothing to do."
        if c.confirmed:
            text += f" {c.confirmed} of what the clinic file declares rests only on a person's "
            text += "confirmation: the EMR cannot show it."
        return text
    auto, manual = len(page.automatic), len(page.manual)
    parts = [f"{auto} for reconcile apply"] if auto else []
    parts += [f"{manual} for a person"] if manual else []
    text = f"{_plural(len(page.changes), 'change')} planned ({', '.join(parts)})."
    if page.status is Status.UNVERIFIED:
        return (
            f"{text} Nothing is known to be wrong, but {c.unverified} of what the clinic file "
            "declares could be neither observed nor confirmed: a person checks it (below)."
        )
    found = [(c.missing, "missing"), (c.extra, "extra"), (c.different, "different")]
    found += [(c.contradicted, "contradicted"), (c.unverified, "unverified")]
    known = [f"{n} {word}" for n, word in found if n]
    return f"{text} Found: {', '.join(known)}." if known else text
