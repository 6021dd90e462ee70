"""Every text and background colour the report pairs passes WCAG AA (4.5:1 for normal text),
and the stylesheet uses no colour outside the palette."""

from __future__ import annotations

import re

import pytest

from reconciler.report import build_report
from reconciler.report.palette import BORDER, FOCUS, all_pairs, contrast, luminance
from tests.report.fleet import NOW, fleet

AA = 4.5


def test_contrast_is_computed_as_wcag_says() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the known AA grey
    assert luminance("#ffffff") == pytest.approx(1.0)


@pytest.mark.parametrize(("name", "text", "background"), all_pairs(), ids=str)
def test_every_pair_passes_aa(name: str, text: str, background: str) -> None:
    ratio = contrast(text, background)
    assert ratio >= AA, f"{name}: {text} on {background} is {ratio:.2f}:1, below {AA}:1"


def test_lines_and_focus_stand_out_from_the_page() -> None:
    assert contrast(BORDER, "#ffffff") >= 3.0  # WCAG 1.4.11, non-text contrast
    assert contrast(FOCUS, "#ffffff") >= 3.0


def test_the_stylesheet_uses_only_the_palette() -> None:
    pages = dict(build_report(fleet(), source="test", now=NOW).files())
    palette = {c for _, t, b in all_pairs() for c in (t, b)} | {BORDER, FOCUS}
    for name, html in pages.items():
        style = html.split("<style>", 1)[1].split("</style>", 1)[0]
        used = set(re.findall(r"#[0-9a-fA-F]{3,8}\b", style))
        assert used <= palette, f"{name}: colours outside the palette: {used - palette}"
        assert "style=" not in html, f"{name}: an inline style attribute escapes the palette"
