"""The report in a real browser: headless Chromium (Debian's ``chromium``, which ``make test``
installs where it is missing) opens it from file://, and the test reads the DOM (the overview's
totals, its filters and sorting, the grid's cells and their states), takes screenshots (kept
in test-artifacts/report/, printed), and proves that no page logged an error or made a
request. Without Chromium this fails, saying how to get it: it never skips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.report import build_report, last_applies, write_report
from tests.conftest import ROOT
from tests.report.cdp import Browser, find_chromium
from tests.report.fleet import EVIL, NOW, audit_lines, fleet

ARTIFACTS = ROOT / "test-artifacts" / "report"
VISIBLE_ROWS = "[...document.querySelectorAll('#fleet tbody tr')].filter(r => r.offsetParent)"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    audit_lines(folder / "audit.jsonl")
    applies, _ = last_applies(folder / "audit.jsonl")
    report = build_report(fleet(), source="live reads of 6 clinic files", applies=applies, now=NOW)
    write_report(report.files(), folder / "site")
    return folder / "site"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        pytest.fail(
            "Chromium is not installed, and this test needs a real browser: run `make test` "
            "(scripts/ensure-chromium.sh installs Debian's chromium), or `apt-get install "
            "chromium`, or set RECONCILER_CHROMIUM to a Chromium binary"
        )
    browser = Browser(binary)
    try:
        yield browser
    finally:
        browser.close()


def shoot(browser: Browser, name: str, capsys: pytest.CaptureFixture[str]) -> Path:
    path = browser.screenshot(ARTIFACTS / f"{name}.png")
    assert path.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return path


def clean(browser: Browser, page: Path) -> None:
    """The page logged no error and requested nothing but itself."""
    assert browser.console_errors() == []
    assert browser.requests() == [page.as_uri()]


def test_the_overview(site: Path, chromium: Browser, capsys: pytest.CaptureFixture[str]) -> None:
    index = site / "index.html"
    chromium.open(index.as_uri())
    ev = chromium.evaluate
    assert ev("document.title") == "Fleet report: 6 clinics"
    statuses = ev(
        "Object.fromEntries([...document.querySelectorAll('[data-status-total]')]"
        ".map(li => [li.dataset.statusTotal, li.querySelector('.n').textContent]))"
    )
    assert statuses == {"error": "1", "changes": "2", "unverified": "1", "in_sync": "2"}
    counts = ev(
        "Object.fromEntries([...document.querySelectorAll('#cell-totals [data-count]')]"
        ".map(li => [li.dataset.count, li.querySelector('.n').textContent]))"
    )
    assert counts == {
        "missing": "4",
        "extra": "1",
        "different": "4",
        "contradicted": "1",
        "confirmed": "44",
        "unverified": "32",
    }
    rows = ev(
        f"{VISIBLE_ROWS}.map(r => [r.cells[0].querySelector('a').textContent, r.dataset.status])"
    )
    assert rows == [
        ["broken-clinic", "error"],
        ["lakeside-medical", "changes"],
        ["riverside-fht", "changes"],
        ["harbourview-pro", "unverified"],
        ["maple-grove", "in_sync"],
        ["northgate-family", "in_sync"],
    ]
    # Filtering: by status, then by EMR as well.
    ev("document.querySelector('label[for=status-changes]').click()")
    assert ev(f"{VISIBLE_ROWS}.length") == 2
    assert ev("document.getElementById('shown').textContent") == "Showing 2 of 6 clinics."
    ev("document.querySelector('label[for=emr-1]').click()")  # Accuro
    assert ev(f"{VISIBLE_ROWS}.map(r => r.dataset.emr)") == ["accuro"]
    ev("document.getElementById('status-all').click()")
    assert ev(f"{VISIBLE_ROWS}.map(r => r.cells[0].querySelector('a').textContent)") == [
        "lakeside-medical",
        "northgate-family",
    ]
    ev("document.getElementById('emr-all').click()")
    # Sorting: by Unverified, ascending then descending.
    ev("document.querySelectorAll('#fleet thead button.sort')[8].click()")
    column = f"{VISIBLE_ROWS}.map(r => Number(r.cells[8].textContent))"
    assert ev(column) == sorted(ev(column))
    ev("document.querySelectorAll('#fleet thead button.sort')[8].click()")
    assert ev(column) == sorted(ev(column), reverse=True)
    assert ev("document.querySelectorAll('#fleet thead th[aria-sort]').length") == 1
    ev("document.querySelectorAll('#fleet thead button.sort')[2].click()")  # status again
    ev("document.activeElement.blur()")
    shoot(chromium, "index", capsys)
    clean(chromium, index)


def test_the_overview_filters_without_javascript(site: Path, chromium: Browser) -> None:
    chromium.open("about:blank")
    chromium.send("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        index = site / "index.html"
        chromium.send("Page.navigate", {"url": index.as_uri()})
        chromium.wait_for("Page.loadEventFired", len(chromium.events) - 1)
        ev = chromium.evaluate
        assert ev("document.querySelectorAll('#fleet thead button').length") == 0
        assert ev(f"{VISIBLE_ROWS}.length") == 6
        ev("document.getElementById('status-error').click()")
        assert ev(f"{VISIBLE_ROWS}.map(r => r.dataset.status)") == ["error"]
        ev("document.getElementById('status-in_sync').click()")
        ev("document.getElementById('emr-2').click()")  # OSCAR
        assert ev(f"{VISIBLE_ROWS}.map(r => r.dataset.emr + ' ' + r.dataset.status)") == [
            "oscar in_sync"
        ]
    finally:
        chromium.send("Emulation.setScriptExecutionDisabled", {"value": False})
    assert chromium.console_errors() == []


def test_an_accuro_clinic_page_draws_the_grid(
    site: Path, chromium: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    page = site / "clinics" / "lakeside-medical.html"
    chromium.open(page.as_uri())
    ev = chromium.evaluate
    assert ev("document.scripts.length") == 0
    assert ev("document.querySelectorAll('#grid td[data-state]').length") == 7 * 6
    columns = ev("[...document.querySelectorAll('#grid thead th')].map(th => th.textContent)")
    assert columns == ["Provider", "Patient", "Scheduling", "Billing", "EMR", "Labs", "Visible"]
    groups = ev(
        "[...document.querySelectorAll('#grid tbody')].map(b => [b.dataset.group,"
        " [...b.querySelectorAll('tr[data-id]')].map(r => r.dataset.id)])"
    )
    assert groups == [
        ["Main Street Office", ["1001", "1002", "1042", "1003", "1009"]],
        ["Lakeshore Walk-In Clinic", ["1001", "1005"]],
    ]

    def states(group: int, provider: str) -> list[str]:
        return ev(
            f"[...document.querySelectorAll('#grid tbody')[{group}]"
            f".querySelector('tr[data-id=\"{provider}\"]').querySelectorAll('td')]"
            ".map(td => td.dataset.state + (td.querySelector('small') ? ' off' : ''))"
        )

    assert states(0, "1001") == ["confirmed", "contradicted"] + ["confirmed"] * 4
    assert states(0, "1002") == ["unverified", "missing"] + ["unverified"] * 4
    assert states(0, "1042") == ["confirmed", "verified"] + ["confirmed"] * 4
    assert states(0, "1003") == ["confirmed", "missing", "confirmed off"] + ["unverified"] * 3
    assert states(0, "1009") == ["not_declared"] * 6
    assert states(1, "1005") == ["unverified", "verified"] + ["unverified"] * 4
    # Every cell says its state in words, not only in colour.
    labels = ev("[...document.querySelectorAll('#grid td[data-state]')].map(td => td.innerText)")
    words = {"confirmed", "contradicted", "unverified", "missing", "verified", "not declared"}
    assert all(any(w in label for w in words) for label in labels)
    # A provider named <script> is shown as text, never run.
    names = ev(
        "[...document.querySelectorAll('#grid th[scope=row]')].map(th => th.firstChild.data)"
    )
    assert EVIL in names
    legend = ev("[...document.querySelectorAll('#legend [data-state]')].map(s => s.dataset.state)")
    assert legend[:7] == [
        "verified",
        "confirmed",
        "missing",
        "extra",
        "contradicted",
        "unverified",
        "not_declared",
    ]
    assert "check Scheduling" in ev(
        "document.getElementById('checklist').nextElementSibling.innerText"
    )
    shoot(chromium, "clinic-accuro", capsys)
    clean(chromium, page)


def test_an_oscar_clinic_page_marks_what_differs(
    site: Path, chromium: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    page = site / "clinics" / "riverside-fht.html"
    chromium.open(page.as_uri())
    differs = chromium.evaluate(
        "[...document.querySelectorAll('#compare tr.differs')].map(r => [r.cells[0].textContent,"
        " r.cells[1].textContent, r.cells[2].textContent, r.cells[3].dataset.state])"
    )
    assert differs == [
        ["admin", "not granted", "granted", "extra"],
        ["role", "doctor", "none", "missing"],
        ["Pin(local)", "no", "yes", "different"],
        ["Force Password Reset", "no", "yes", "different"],
        ["expires", "none", "2025-01-31", "different"],
        ["PIN", "{env: T_OC_PIN}", "does not verify", "different"],
    ]
    assert chromium.evaluate("document.getElementById('status').textContent") == "changes"
    shoot(chromium, "clinic-oscar", capsys)
    clean(chromium, page)


def test_the_checks_would_see_a_request_and_an_error(tmp_path: Path, chromium: Browser) -> None:
    """The control: a page that fetches and fails is caught, so 'none' above means none."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!doctype html><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>',
        encoding="utf-8",
    )
    chromium.open(page.as_uri())
    assert "http://127.0.0.1:9/x.png" in chromium.requests()
    assert any("boom" in e for e in chromium.console_errors())
