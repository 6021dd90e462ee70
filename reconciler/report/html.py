"""The report as HTML: Jinja2 templates (package data, autoescaped), inline CSS and one small
inline script that sorts and counts the overview (the page works without it: filtering is
CSS). Pages fetch nothing: a Content-Security-Policy allows no source but the page itself."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from reconciler import __version__
from reconciler.invisible import is_invisible, visible
from reconciler.report.markdown_html import to_html
from reconciler.report.model import (
    COUNT_COLUMNS,
    STATUS_WORDS,
    CellState,
    ClinicPage,
    GridRow,
    Overview,
    Status,
    verdict,
)
from reconciler.report.palette import css_variables

COUNT_HEADERS: dict[str, Markup] = {
    "missing": Markup("Missing"),
    "extra": Markup("Extra"),
    "different": Markup("Different"),
    "contradicted": Markup("Contra&shy;dicted"),
    "confirmed": Markup("Confirmed only"),
    "unverified": Markup("Un&shy;verified"),
}
"""The overview's column headers (soft hyphens: narrow columns break words where they may)."""


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("reconciler.report", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.globals["cells_html"] = cells_html
    return env


@cache
def _cell(state: CellState, wants: bool | None) -> str:
    """One box of a grid as HTML: the same few strings for every clinic (made once)."""
    off = "<small>off</small>" if wants is False else ""
    return (
        f'<td data-state="{state.value}"><i aria-hidden="true">{state.glyph}</i>'
        f"{escape(state.label)}{off}</td>"
    )


def cells_html(row: GridRow) -> Markup:
    """A grid row's boxes (a clinic page draws thousands: joined here, not in a template)."""
    return Markup("".join(_cell(c.state, c.wants) for c in row.cells))


@cache
def _script() -> str:
    return (resources.files("reconciler.report") / "templates" / "overview.js").read_text(
        encoding="utf-8"
    )


def _csp(script: str | None) -> str:
    """Nothing may be fetched: no connection, image, font or frame; the inline style, and
    only the one inline script (by its hash), run."""
    policy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    if script is not None:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        policy += f"; script-src 'sha256-{digest}'"
    return policy


def _style(emrs: tuple[tuple[str, str], ...]) -> Markup:
    template = _env().get_template("style.css")
    filters = {"emrs": emrs, "statuses": list(Status)}
    return Markup(template.render(palette_css=Markup(css_variables()), filters=filters))


def _common(ov: Overview) -> dict[str, object]:
    return {
        "version": __version__,
        "generated": ov.generated.strftime("%Y-%m-%d %H:%M UTC"),
        "source": ov.source,
        "plan_id": ov.plan_id,
        "config_commit": ov.config_commit,
        "count_columns": COUNT_COLUMNS,
        "count_headers": COUNT_HEADERS,
        "cell_states": list(CellState),
        "statuses": list(Status),
        "status_words": STATUS_WORDS,
    }


def _shown(html: str) -> str:
    """A page as it is written: invisible characters (a bidi override or a zero-width space
    in a name from an EMR) shown as ``\\uXXXX``, as every other output of the tool shows
    them, so nothing hides in or reorders what a person reads. (The same as
    :func:`~reconciler.invisible.visible`, done per distinct character: a page holds
    thousands of visible symbols and rarely an invisible one.)"""
    for ch in set(_NOT_PLAIN.findall(html)):
        if is_invisible(ch):
            html = html.replace(ch, visible(ch))
    return html


_NOT_PLAIN = re.compile("[^\x20-\x7e\n]")


def render_index(ov: Overview) -> str:
    script = _script()
    return _shown(
        _env()
        .get_template("index.html")
        .render(
            ov=ov,
            style=_style(ov.emrs),
            csp=Markup(_csp(script)),
            script=Markup(script),
            emr_index={kind: i for i, (kind, _) in enumerate(ov.emrs, 1)},
            **_common(ov),
        )
    )


class ClinicRenderer:
    """Renders clinic pages of one report (the stylesheet and common parts made once)."""

    def __init__(self, ov: Overview) -> None:
        self.common = _common(ov)
        self.style = _style(())
        self.template = _env().get_template("clinic.html")

    def render(self, page: ClinicPage) -> str:
        return _shown(
            self.template.render(
                p=page,
                style=self.style,
                csp=Markup(_csp(None)),
                verdict=verdict(page),
                checklist=to_html(page.checklist, top=3) if page.checklist else None,
                **self.common,
            )
        )
