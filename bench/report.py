"""``make bench``, part 3: ``reconcile report`` for a fleet of 1,000 Accuro clinics.

No EMR is needed: each clinic (3 offices x 10 providers, as a clinic file declares them) is
planned through the engine from a live state made up here (each office also lists 2
providers the file does not declare; some boxes confirmed, some contradicted, some missing,
some clinics that could not be read), so every clinic's ``observed`` is what a real plan
saves. Printed:

- the plan's JSON size (``plan --out``) with and without what the report draws (observed);
- the time to render the report (page model, HTML, written to a folder), the size of
  index.html, of the largest clinic page and of the whole report;
- where Chromium is installed, how long index.html takes to load and to filter and sort
  its 1,000 rows in a real browser (is the index still usable?).

Its last line is the same figures as one JSON object, for scripts.

    python bench/report.py [--clinics 1000]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconciler.config.build import build_clinic  # noqa: E402
from reconciler.config.yamlsource import YamlDocument  # noqa: E402
from reconciler.emr.accuro import api_model as m  # noqa: E402
from reconciler.emr.accuro.diff import row_address  # noqa: E402
from reconciler.emr.accuro.live import AccuroLive, LiveOffice, LiveProvider  # noqa: E402
from reconciler.emr.contract import Adapter  # noqa: E402
from reconciler.engine import make_plan  # noqa: E402
from reconciler.errors import EMRConnectionError  # noqa: E402
from reconciler.fleet import SEQUENTIAL  # noqa: E402
from reconciler.model import Clinic, Confirmation, Confirmations  # noqa: E402
from reconciler.plan import Plan  # noqa: E402
from reconciler.render.json_ import render_json  # noqa: E402
from reconciler.report import build_report, write_report  # noqa: E402

OFFICES, PROVIDERS, UNDECLARED = 3, 10, 2
SIX = ["patient", "scheduling", "billing", "emr", "labs", "visible"]
WHEN = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
USER = "OceanAPI10001"


def _document(index: int) -> dict[str, Any]:
    first = 1000 + index * 100
    return {
        "version": 1,
        "clinic": {"id": f"clinic-{index:04d}", "name": f"Clinic {index:04d} Family Health"},
        "emr": {
            "kind": "accuro",
            "api": {
                "base_url": f"https://accuro-{index % 4}.example.org",
                "tenant": f"T{index:04d}",
                "uuid": "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
                "client_id": {"env": "BENCH_ID"},
                "client_secret": {"env": "BENCH_SECRET"},
                "subscription_key": {"env": "BENCH_KEY"},
            },
        },
        "ocean_api_user": {
            "username": USER,
            "offices": [
                {
                    "name": f"Office {o + 1}",
                    "providers": [{"id": first + o * 20 + p} for p in range(PROVIDERS)],
                }
                for o in range(OFFICES)
            ],
        },
    }


def _live(index: int, rng: random.Random, scheduled_share: float) -> AccuroLive:
    first = 1000 + index * 100
    offices = []
    scheduled: set[int] = set()
    for o in range(OFFICES):
        ids = [first + o * 20 + p for p in range(PROVIDERS + UNDECLARED)]
        offices.append(
            LiveOffice(
                f"Office {o + 1}",
                o + 1,
                True,
                tuple(LiveProvider(pid, f"Provider{pid}, Dr") for pid in ids),
                {f"id:{pid}": pid for pid in ids[:PROVIDERS]},
            )
        )
        scheduled |= {pid for pid in ids if rng.random() < scheduled_share}
    return AccuroLive(
        user=m.User(57, USER, True, False),
        offices=tuple(offices),
        user_office_ids=frozenset(range(1, OFFICES + 1)),
        read_ids=frozenset(scheduled),
        write_ids=frozenset(scheduled),
    )


def _confirmations(index: int, rng: random.Random, share: float) -> Confirmations:
    """Each declared row confirmed (a person did the checklist) with probability ``share``."""
    first = 1000 + index * 100
    records = [
        Confirmation(
            row_address(USER, f"Office {o + 1}", first + o * 20 + p),
            dict.fromkeys(SIX, "granted"),
            "Bench Person",
            WHEN,
        )
        for o in range(OFFICES)
        for p in range(PROVIDERS)
        if rng.random() < share
    ]
    return Confirmations(tuple(records))


class _Synthetic(Adapter):
    name = "synthetic"

    def __init__(self, lives: dict[str, Any]) -> None:
        self.lives = lives

    def read(self, clinic: Clinic) -> Any:
        live = self.lives[clinic.id]
        if isinstance(live, Exception):
            raise live
        return live


def synthetic_plan(clinics: int, seed: int = 7) -> Plan:
    rng = random.Random(seed)
    made: list[Clinic] = []
    lives: dict[str, Any] = {}
    for index in range(clinics):
        data = _document(index)
        clinic = build_clinic(
            YamlDocument(f"clinics/{data['clinic']['id']}.yaml", data), ROOT / "clinics" / "x"
        )
        # 60% in sync (every box confirmed, Scheduling observed), 25% drifting (a few
        # providers lack Scheduling), 14% partly confirmed (unverified boxes), 1% unreadable.
        kind = rng.random()
        confirmed, scheduled = (1.0, 1.0) if kind < 0.85 else (rng.choice([0.0, 0.5, 0.8]), 1.0)
        if 0.6 <= kind < 0.85:
            scheduled = 0.9
        clinic = replace(clinic, confirmations=_confirmations(index, rng, confirmed))
        made.append(clinic)
        lives[clinic.id] = (
            EMRConnectionError(f"{clinic.id}: the Accuro API did not answer")
            if kind >= 0.99
            else _live(index, rng, scheduled)
        )
    adapter = _Synthetic(lives)
    return make_plan(made, lambda c: adapter, "0" * 40, limits=SEQUENTIAL)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _browser(index: Path) -> dict[str, float] | None:
    """Load, filter and sort the index in headless Chromium; None without Chromium."""
    from tests.report.cdp import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        return None
    browser = Browser(binary, timeout=120)
    try:
        start = time.perf_counter()
        browser.open(index.as_uri())
        loaded = time.perf_counter() - start
        rows = "[...document.querySelectorAll('#fleet tbody tr')].filter(r => r.offsetParent)"
        timed = (
            "(() => { const t = performance.now();"
            " document.getElementById('status-changes').click();"
            f" const n = {rows}.length;"
            " document.getElementById('status-all').click();"
            " return [performance.now() - t, n]; })()"
        )
        filter_ms, _ = browser.evaluate(timed)
        sort_ms = browser.evaluate(
            "(() => { const t = performance.now();"
            " document.querySelectorAll('#fleet thead button.sort')[8].click();"
            " document.body.offsetHeight; return performance.now() - t; })()"
        )
        errors = browser.console_errors()
        if errors:
            raise RuntimeError(f"the index logged errors: {errors[:3]}")
        return {"load_s": loaded, "filter_ms": filter_ms, "sort_ms": sort_ms}
    finally:
        browser.close()


@click.command()
@click.option("--clinics", default=1000, show_default=True, help="Accuro clinics in the fleet.")
def main(clinics: int) -> None:
    start = time.perf_counter()
    plan = synthetic_plan(clinics)
    planned = time.perf_counter() - start
    plan_json = len(render_json(plan).encode())
    bare = Plan(tuple(replace(cp, observed=None) for cp in plan.clinics), plan.config_commit)
    bare_json = len(render_json(bare).encode())
    s = plan.summary
    print(
        f"report bench: {clinics} Accuro clinics x {OFFICES} offices x {PROVIDERS} providers "
        f"(+{UNDECLARED} undeclared per office): {s.in_sync} in sync, {s.with_changes} with "
        f"changes, {s.errors} errors; planned from made-up live states in {planned:.1f} s"
    )
    print(
        f"  plan --out JSON: {plan_json / 1e6:.1f} MB, of which the report's observed "
        f"{(plan_json - bare_json) / 1e6:.2f} MB ({(plan_json - bare_json) / clinics:.0f} B "
        "per clinic)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report"
        start = time.perf_counter()
        report = build_report(plan, source="a synthetic fleet")
        pages = write_report(report.files(), out)
        rendered = time.perf_counter() - start
        index = (out / "index.html").stat().st_size
        largest = max(p.stat().st_size for p in (out / "clinics").iterdir())
        total = _size(out)
        print(
            f"  render: {rendered:.2f} s for {pages} pages ({rendered / pages * 1000:.2f} ms a "
            f"page); index.html {index / 1e3:.0f} kB, largest clinic page "
            f"{largest / 1e3:.0f} kB, whole report {total / 1e6:.1f} MB"
        )
        browser = _browser(out / "index.html")
        if browser is None:
            print("  browser: skipped (no Chromium: scripts/ensure-chromium.sh installs it)")
        else:
            print(
                f"  index.html in headless Chromium: loaded in {browser['load_s']:.2f} s; "
                f"filter {browser['filter_ms']:.0f} ms, sort {browser['sort_ms']:.0f} ms "
                f"({clinics} rows)"
            )
        shutil.rmtree(out, ignore_errors=True)
    figures = {
        "clinics": clinics,
        "plan_json_bytes": plan_json,
        "observed_bytes": plan_json - bare_json,
        "render_s": round(rendered, 3),
        "pages": pages,
        "index_bytes": index,
        "largest_page_bytes": largest,
        "report_bytes": total,
        **({k: round(v, 3) for k, v in browser.items()} if browser else {}),
    }
    figures["load_average"] = round(os.getloadavg()[0], 2)
    print(f"  (load average {figures['load_average']} on {os.cpu_count()} CPUs while measuring)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
