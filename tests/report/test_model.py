"""The report's page model, pure: which state each cell gets, each clinic's status and
counts, the overview's order and totals; the audit log's last applies; the checklist HTML."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.plan import ClinicPlan
from reconciler.report import build_report
from reconciler.report.audit_log import last_applies
from reconciler.report.markdown_html import inline, to_html
from reconciler.report.model import (
    CellState,
    RowState,
    Status,
    cell,
    clinic_page,
    page_href,
    parse_compare,
    parse_grid,
    verdict,
)
from tests.report.fleet import EVIL, NOW, audit_lines, fleet

COLUMNS = ["Patient", "Scheduling", "Billing", "EMR", "Labs", "Visible"]


@pytest.mark.parametrize(
    ("code", "state", "wants"),
    [
        ("V", CellState.VERIFIED, True),
        ("v", CellState.VERIFIED, False),
        ("C", CellState.CONFIRMED, True),
        ("c", CellState.CONFIRMED, False),
        ("M", CellState.MISSING, True),
        ("x", CellState.EXTRA, False),
        ("D", CellState.CONTRADICTED, True),
        ("d", CellState.CONTRADICTED, False),
        ("U", CellState.UNVERIFIED, True),
        ("u", CellState.UNVERIFIED, False),
        ("-", CellState.NOT_DECLARED, None),
        ("?", CellState.UNVERIFIED, None),  # a code this version does not know
    ],
)
def test_each_code_is_one_state_and_what_the_file_wants(
    code: str, state: CellState, wants: bool | None
) -> None:
    c = cell(code, "Scheduling")
    assert (c.state, c.wants, c.column) == (state, wants, "Scheduling")


def test_a_grid_is_read_row_by_row_and_a_damaged_row_is_named() -> None:
    grid = parse_grid(
        {
            "title": "T",
            "group": "Office",
            "row": "Provider",
            "columns": COLUMNS,
            "groups": [
                {"name": "A", "rows": ["VCMxDU 1001 Smith, Jane", "------ 9 Locum, Pat", "VV 2 X"]},
                {"name": "B", "rows": ["uuuuuu - name with  spaces "]},
            ],
        }
    )
    assert grid is not None
    a, b = grid.groups
    smith, locum = a.rows
    assert [c.state for c in smith.cells] == [
        CellState.VERIFIED,
        CellState.CONFIRMED,
        CellState.MISSING,
        CellState.EXTRA,
        CellState.CONTRADICTED,
        CellState.UNVERIFIED,
    ]
    assert (smith.id, smith.name, smith.declared) == ("1001", "Smith, Jane", True)
    assert [c.column for c in smith.cells] == COLUMNS
    assert not locum.declared and locum.cells[0].wanted_text == "not in the clinic file"
    assert grid.problems == ("A: a row that cannot be read",)
    assert b.rows[0].id == "-" and b.rows[0].name == "name with  spaces "
    assert grid.states()[0] is CellState.VERIFIED and CellState.NOT_DECLARED in grid.states()
    assert parse_grid(None) is None


def test_compare_rows_keep_their_sections_in_order() -> None:
    sections = parse_compare(
        [
            ["Provider 1", "status", "active", "absent", "missing"],
            ["Roles", "doctor", "granted", "granted", "same"],
            ["Provider 1", "type", "doctor", "nurse", "weird"],
        ]
    )
    assert [s.name for s in sections] == ["Provider 1", "Roles"]
    assert [r.state for r in sections[0].rows] == [RowState.MISSING, RowState.UNKNOWN]
    assert parse_compare("not a list") == () and parse_compare([["short"]]) == ()


def _pages() -> dict[str, object]:
    report = build_report(fleet(), source="test", now=NOW)
    return {p.id: p for p in report.pages}


def test_the_fleets_statuses_and_counts() -> None:
    pages = _pages()
    status = {cid: p.status for cid, p in pages.items()}  # type: ignore[attr-defined]
    assert status == {
        "lakeside-medical": Status.CHANGES,
        "northgate-family": Status.IN_SYNC,
        "riverside-fht": Status.CHANGES,
        "maple-grove": Status.IN_SYNC,
        "harbourview-pro": Status.UNVERIFIED,
        "broken-clinic": Status.ERROR,
    }
    lake = pages["lakeside-medical"].counts  # type: ignore[attr-defined]
    # Okafor (1002), Nguyen (1003) and Smith at the walk-in (1001 is in both offices, so
    # its Scheduling is attributed nowhere... but it is absent from accessible-providers:
    # observed none everywhere) lack Scheduling; Smith's confirmed Scheduling at Main
    # Street is contradicted by the same observation.
    assert (lake.missing, lake.extra, lake.contradicted) == (3, 0, 1)
    # 2 boxes verified, and the OceanAPI user's 5 rows as desired
    assert (lake.confirmed, lake.unverified, lake.verified, lake.not_declared) == (12, 18, 7, 6)
    north = pages["northgate-family"].counts  # type: ignore[attr-defined]
    assert (north.drift, north.unverified, north.not_declared) == (0, 0, 6)
    assert north.confirmed + north.verified == 36 + 5  # the grid, and the user's 5 rows
    river = pages["riverside-fht"].counts  # type: ignore[attr-defined]
    assert (river.missing, river.extra, river.different) == (1, 1, 4)
    assert pages["harbourview-pro"].counts.unverified > 0  # type: ignore[attr-defined]


def test_the_grid_cells_of_one_row() -> None:
    lake = _pages()["lakeside-medical"]
    grid = lake.grid  # type: ignore[attr-defined]
    main = grid.groups[0]
    nguyen = next(r for r in main.rows if r.id == "1003")
    assert [(c.state.value, c.wants) for c in nguyen.cells] == [
        ("confirmed", True),
        ("missing", True),
        ("confirmed", False),  # billing: the file clears it, a person confirmed it cleared
        ("unverified", True),
        ("unverified", True),
        ("unverified", True),
    ]
    assert [r.name for r in main.rows][-1] == "Locum, Pat"  # listed by the API, not declared
    assert grid.groups[1].rows[-1].name == EVIL


def test_overview_puts_attention_first_and_adds_up() -> None:
    report = build_report(fleet(), source="test", now=NOW)
    ov = report.overview
    assert [p.status for p in ov.pages] == sorted(
        (p.status for p in ov.pages), key=lambda s: s.rank
    )
    assert ov.pages[0].id == "broken-clinic"
    t = ov.totals
    assert t.clinics == 6
    assert t.by_status == {
        Status.ERROR: 1,
        Status.CHANGES: 2,
        Status.UNVERIFIED: 1,
        Status.IN_SYNC: 2,
    }
    assert t.counts.missing == sum(p.counts.missing for p in ov.pages)
    assert t.changes == sum(len(p.changes) for p in ov.pages)
    assert ov.emrs == (("accuro", "Accuro"), ("oscar", "OSCAR"))
    assert ov.generated == NOW


def test_verdicts_in_words() -> None:
    pages = _pages()
    assert verdict(pages["maple-grove"]).startswith("In sync")  # type: ignore[arg-type]
    assert "rests only on a person's confirmation" in verdict(pages["northgate-family"])  # type: ignore[arg-type]
    assert "Found: 3 missing, 1 contradicted, 18 unverified." in verdict(
        pages["lakeside-medical"]  # type: ignore[arg-type]
    )
    assert "Nothing is known to be wrong" in verdict(pages["harbourview-pro"])  # type: ignore[arg-type]
    assert "could not be planned" in verdict(pages["broken-clinic"])  # type: ignore[arg-type]


def test_a_clinic_without_observed_keeps_the_plans_status() -> None:
    plan = fleet()
    cp = next(c for c in plan.clinics if c.clinic.id == "harbourview-pro")
    bare = ClinicPlan(cp.clinic, changes=cp.changes)
    assert clinic_page(bare).status is Status.CHANGES and clinic_page(bare).grid is None


def test_page_paths_are_always_safe() -> None:
    assert page_href("lakeside-medical") == "clinics/lakeside-medical.html"
    assert page_href("../../etc/passwd") == "clinics/------etc-passwd.html"


def test_last_applies_takes_each_clinics_latest_run(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    audit_lines(log)
    applies, problem = last_applies(log)
    assert problem is None
    assert set(applies) == {"riverside-fht", "maple-grove"}
    river = applies["riverside-fht"]
    assert river.time == datetime(2026, 11, 1, 8, 0, 1, tzinfo=UTC)
    assert river.results == {"applied": 2} and river.ok and river.summary == "2 applied"
    assert last_applies(tmp_path / "none.jsonl") == ({}, None)


def test_an_audit_log_that_is_not_a_file_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    applies, problem = last_applies(fifo)
    assert applies == {} and problem is not None and "not a regular file" in problem
    applies, problem = last_applies(tmp_path)
    assert applies == {} and problem is not None


def test_checklist_markdown_becomes_escaped_html() -> None:
    html = to_html(
        "# Checklist: <b>x</b>\n\nFrom plan `abc`.\n\n1. Go to **Users > Manage**.\n"
        "2. Select _Users_.\n\n| Provider | Patient |\n|---|---|\n| <script>, X | **check** |\n\n"
        "- [ ] Office 'A': check Patient.\n- [ ] Save.\n\n- plain\n\n"
        "```\nreconcile confirm x\n```\n"
    )
    assert "<h3>Checklist: &lt;b&gt;x&lt;/b&gt;</h3>" in html
    assert "<code>abc</code>" in html and "<strong>Users &gt; Manage</strong>" in html
    assert '<li value="2">Select <em>Users</em>.</li>' in html
    assert "<td>&lt;script&gt;, X</td><td><strong>check</strong></td>" in html
    assert html.count('<span class="box" aria-hidden="true">') == 2
    assert "<ul><li>plain</li></ul>" in html
    assert "<pre><code>reconcile confirm x</code></pre>" in html
    assert "<script>" not in html and "<b>" not in html
    assert inline("snake_case_name and _emphasis_") == "snake_case_name and <em>emphasis</em>"
