"""The report of a small fleet, pinned by golden HTML (tests/golden/report/).

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test (and review the diff).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from reconciler.report import build_report, last_applies
from tests.conftest import ROOT
from tests.report.fleet import EVIL, NOW, audit_lines, fleet

GOLDEN = ROOT / "tests" / "golden" / "report"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    log = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    audit_lines(log)
    applies, _ = last_applies(log)
    report = build_report(fleet(), source="live reads of 6 clinic files", applies=applies, now=NOW)
    return dict(report.files())


def test_the_pages_are_the_index_and_one_per_clinic(pages: dict[str, str]) -> None:
    assert sorted(pages) == [
        "clinics/broken-clinic.html",
        "clinics/harbourview-pro.html",
        "clinics/lakeside-medical.html",
        "clinics/maple-grove.html",
        "clinics/northgate-family.html",
        "clinics/riverside-fht.html",
        "index.html",
    ]


def test_golden_html(pages: dict[str, str]) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        for name, html in pages.items():
            path = GOLDEN / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(html, encoding="utf-8")
    on_disk = {str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*.html")}
    assert on_disk == set(pages), "golden files differ; run with UPDATE_GOLDEN=1"
    for name, html in pages.items():
        assert html == (GOLDEN / name).read_text(encoding="utf-8"), f"{name} differs"


def test_names_are_shown_never_run(pages: dict[str, str]) -> None:
    for name, html in pages.items():
        assert EVIL not in html, name
        assert "<script>alert" not in html, name
        assert len(re.findall(r"<script\b", html)) == (1 if name == "index.html" else 0), name
    assert (
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;, Evil"
        in pages["clinics/lakeside-medical.html"]
    )


def test_nothing_is_fetched_from_anywhere(pages: dict[str, str]) -> None:
    for name, html in pages.items():
        assert "content=\"default-src 'none';" in html, name
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), name
        assert "@import" not in html and "url(" not in html, name
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert all(h.endswith(".html") and "//" not in h for h in hrefs), (name, hrefs)


def test_the_index_links_every_clinic_page(pages: dict[str, str]) -> None:
    index = pages["index.html"]
    for name in pages:
        if name != "index.html":
            assert f'href="{name}"' in index
    for name, html in pages.items():
        if name != "index.html":
            assert 'href="../index.html"' in html


def test_a_report_is_the_same_from_a_saved_plan(tmp_path: Path, pages: dict[str, str]) -> None:
    from reconciler.combine import load_plans
    from reconciler.planfile import write_plan

    path = tmp_path / "plan.json"
    write_plan(fleet(), path)
    (loaded,) = load_plans([path])
    log = tmp_path / "audit.jsonl"
    audit_lines(log)
    applies, _ = last_applies(log)
    again = dict(
        build_report(
            loaded.plan, source="live reads of 6 clinic files", applies=applies, now=NOW
        ).files()
    )
    assert again == pages


def test_invisible_characters_are_shown_never_hidden() -> None:
    """A bidi override or a zero-width space in a name (from an EMR, or a saved plan) is
    shown as \\uXXXX, as every other output shows it: it cannot reorder what a person reads."""
    from dataclasses import replace

    from reconciler.plan import Plan

    plan = fleet()
    cp = next(c for c in plan.clinics if c.clinic.id == "lakeside-medical")
    assert cp.observed is not None
    grid = dict(cp.observed["grid"])
    grid["groups"] = [{"name": "Main\u200bStreet", "rows": ["VVVVVV 1 Smith\u202eenaJ"]}]
    odd = replace(cp, observed={**cp.observed, "grid": grid})
    odd = replace(odd, clinic=replace(odd.clinic, name="Lakeside\u2060 Medical"))
    pages = dict(build_report(Plan((odd,)), source="test", now=NOW).files())
    for html in pages.values():
        assert not any(ch in html for ch in "\u200b\u202e\u2060")
    page = pages["clinics/lakeside-medical.html"]
    assert "Smith\\u202eenaJ" in page and "Main\\u200bStreet" in page
    assert "Lakeside\\u2060 Medical" in pages["index.html"]
