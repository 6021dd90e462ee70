"""Rendered plans, pinned by golden files (tests/golden/<case>.txt|.md).

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff, observed
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.model import Clinic
from reconciler.plan import ClinicPlan, Plan
from reconciler.render import render_json, render_markdown, render_text
from reconciler.render.common import summary_line
from reconciler.render.markdown import LIMIT
from tests.conftest import ROOT, doc

GOLDEN = ROOT / "tests" / "golden"


def clinic(kind: str = "oscar", **changes: Any) -> Clinic:
    data = doc(kind, **changes)
    return build_clinic(YamlDocument(f"clinics/{data['clinic']['id']}.yaml", data), ROOT / "x")


def accuro_revoke() -> Clinic:
    data = doc("accuro")
    data["ocean_api_user"]["undeclared_providers"] = "revoke"
    data["ocean_api_user"]["offices"][0]["providers"][1]["permissions"] = ["patient", "emr"]
    data["ocean_api_user"]["offices"].append({"name": "Annex", "providers": [{"id": 7}]})
    return build_clinic(YamlDocument("clinics/lakeside.yaml", data), ROOT / "x")


DRIFT = OscarLive(
    provider=OscarProviderRow("999990", "Connect", "Ocean", "doctor", active=True),
    roles=frozenset({"doctor", "admin"}),
    primary_role=None,
    login=OscarLoginRow(
        username="OceanConnect",
        provider_no="999990",
        pin_remote=True,
        pin_local=True,
        force_password_reset=True,
        expires=date(2025, 1, 31),
        password_matches=True,
        pin_matches=False,
    ),
    fingerprints={
        "oscar.login[OceanConnect]": "sha256:1111",
        "oscar.role[999990/admin]": "sha256:2",
    },
)
FRESH = OscarLive(provider=None, roles=frozenset(), primary_role=None, login=None)
IN_SYNC = OscarLive(
    provider=DRIFT.provider,
    roles=frozenset({"doctor"}),
    primary_role="doctor",
    login=OscarLoginRow("OceanConnect", "999990", True, False, False, None, True, True),
)


def plan_of(*items: tuple[Clinic, Any] | tuple[Clinic, None, str]) -> Plan:
    out = []
    for item in items:
        if len(item) == 3:
            out.append(ClinicPlan(item[0], error=item[2]))
        else:
            drawn = observed(item[0], item[1])
            out.append(ClinicPlan(item[0], changes=diff(item[0], item[1]), observed=drawn))
    return Plan(tuple(out))


CASES: dict[str, Plan] = {
    "oscar-drift": plan_of((clinic(), DRIFT)),
    "oscar-fresh": plan_of((clinic(), FRESH)),
    "oscar-absent": plan_of((clinic(ocean_connect__ensure="absent"), DRIFT)),
    "oscar-manual": plan_of(
        (clinic(emr={"kind": "oscar", "edition": "open-source", "backend": "manual"}), None)
    ),
    "oscar-pro-auth": plan_of(
        (
            clinic(
                emr={
                    "kind": "oscar",
                    "edition": "pro",
                    "backend": "sql",
                    "database": {"url": {"env": "U"}},
                },
                ocean_connect__pro_auth=True,
            ),
            FRESH,
        )
    ),
    "accuro-checklist": plan_of((clinic("accuro"), None)),
    "accuro-revoke": plan_of((accuro_revoke(), None)),
    "mixed": plan_of(
        (clinic(clinic__id="in-sync-clinic"), IN_SYNC),
        (
            clinic(clinic__id="broken-clinic"),
            None,
            "OSCAR database error while reading: (2003, Can't connect to MySQL server)",
        ),
        (clinic(clinic__id="drifted-clinic"), DRIFT),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("ext", "render"), [("txt", render_text), ("md", render_markdown)])
def test_golden(case: str, ext: str, render: Any) -> None:
    got = render(CASES[case])
    path = GOLDEN / f"{case}.{ext}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_shape(case: str) -> None:
    data = json.loads(render_json(CASES[case]))
    assert data["format_version"] == 1 and len(data["plan_id"]) == 16
    assert set(data["summary"]) == {"clinics", "in_sync", "with_changes", "errors", "changes"}
    for c in data["clinics"]:
        assert {"id", "emr", "status", "error", "changes"} <= set(c)
        assert c["status"] in {"in_sync", "changes", "error"}
        for ch in c["changes"]:
            assert {"address", "resource", "action", "mode", "before", "after", "impact"} <= set(ch)
            assert ch["action"] in {"create", "update", "delete", "grant", "revoke", "step"}
            assert ch["mode"] in {"automatic", "manual"}


def test_sensitive_fields_never_show_values_or_references() -> None:
    fresh = json.loads(render_json(CASES["oscar-fresh"]))
    login = fresh["clinics"][0]["changes"][-1]
    assert login["after"]["password"] == "(sensitive)" and login["after"]["pin"] == "(sensitive)"
    drift = json.loads(render_json(CASES["oscar-drift"]))
    login = next(c for c in drift["clinics"][0]["changes"] if c["resource"] == "oscar.login")
    assert login["before"]["pin"] == "(sensitive)" and "password" not in login["after"]


def test_plan_id_is_stable_and_sensitive_to_live_state() -> None:
    again = plan_of((clinic(), DRIFT))
    assert again.plan_id == CASES["oscar-drift"].plan_id
    moved = OscarLive(
        **{
            **{f: getattr(DRIFT, f) for f in DRIFT.__slots__},  # type: ignore[attr-defined]
            "fingerprints": {"oscar.login[OceanConnect]": "sha256:9999"},
        }
    )
    assert plan_of((clinic(), moved)).plan_id != again.plan_id


def test_markdown_stays_under_the_comment_limit() -> None:
    many = Plan(
        tuple(
            ClinicPlan(clinic(clinic__id=f"clinic-{i:03d}"), changes=diff(clinic(), DRIFT))
            for i in range(200)
        )
    )
    md = render_markdown(many)
    assert len(md) < LIMIT
    assert "were cut to stay under the comment size limit" in md
    assert md.count("| `clinic-") == 200  # the summary table keeps every clinic


# --- issue 8: the comment limit holds for any fleet -----------------------------------------

LONG_ERROR = "OSCAR database error while reading: cannot connect to the database server " * 30


def fleet(size: int, pick: Any, id_width: int = 5) -> Plan:
    base = clinic()
    changes = diff(base, DRIFT)
    plans = []
    for i in range(size):
        c = clinic(clinic__id=f"clinic-{i:0{id_width}d}")
        kind = pick(i)
        if kind == "error":
            plans.append(ClinicPlan(c, error=LONG_ERROR))
        elif kind == "changes":
            plans.append(ClinicPlan(c, changes=changes))
        else:
            plans.append(ClinicPlan(c))
    return Plan(tuple(plans))


@pytest.mark.parametrize(
    ("name", "pick", "id_width"),
    [
        ("mixed", lambda i: ("in_sync", "changes", "in_sync", "error")[i % 4], 5),
        ("all-changes", lambda i: "changes", 5),
        ("all-errors", lambda i: "error", 5),
        ("all-in-sync", lambda i: "in_sync", 5),
        ("long-ids", lambda i: "changes" if i % 2 else "error", 57),
        ("few-need-attention", lambda i: "error" if i in (7, 4321) else "in_sync", 5),
    ],
)
def test_markdown_stays_under_the_limit_for_5000_clinics(
    name: str, pick: Any, id_width: int
) -> None:
    plan = fleet(5000, pick, id_width)
    md = render_markdown(plan)
    assert len(md) < LIMIT, (name, len(md))
    s = plan.summary
    assert f"{s.clinics} clinics: **{s.with_changes} with changes**, {s.in_sync} in sync" in md
    listed = md.count("| `clinic-")
    assert 0 < listed < 5000 or (s.in_sync == 5000 and listed == 0)
    assert "in_sync |" not in md  # in-sync clinics are left out of a condensed table
    assert "Run `reconcile plan --format text` for every clinic." in md
    assert md.endswith(summary_line(plan) + "\n")


def test_a_condensed_table_lists_errors_first_and_says_what_it_left_out() -> None:
    plan = fleet(5000, lambda i: "error" if i % 1000 == 999 else "changes" if i % 2 else "in_sync")
    md = render_markdown(plan)
    rows = [line for line in md.splitlines() if line.startswith("| `clinic-")]
    assert [r.split(" | ")[2] for r in rows[:5]] == ["error"] * 5
    assert all(" | changes | " in r for r in rows[5:])
    assert (
        f"the table lists {len(rows)} of the 2500 clinics that need attention (errors first); "
        f"{2500 - len(rows)} more and the 2500 in sync are left out" in md
    )


def test_few_clinics_needing_attention_are_all_listed_with_their_details() -> None:
    plan = fleet(5000, lambda i: "error" if i in (7, 4321) else "in_sync")
    md = render_markdown(plan)
    assert md.count("| `clinic-") == 2
    assert "the table lists only the 2 clinics that need attention; the 4998 in sync" in md
    assert "### `clinic-00007`" in md and "### `clinic-04321`" in md


def test_a_table_that_fits_is_never_condensed() -> None:
    plan = fleet(300, lambda i: ("in_sync", "changes")[i % 2])
    md = render_markdown(plan)
    assert md.count("| `clinic-") == 300 and "need attention" not in md
    assert len(md) < LIMIT


def test_plan_markdown_for_a_fleet_of_5000_clinic_files(tmp_path: Path) -> None:
    """End to end: 5,000 clinic files (manual backend: a checklist each) through the CLI."""
    from click.testing import CliRunner

    from reconciler.cli import cli

    folder = tmp_path / "clinics"
    folder.mkdir()
    data = doc("oscar")
    data["emr"] = {"kind": "oscar", "edition": "open-source", "backend": "manual"}
    template = yaml.safe_dump(data, sort_keys=False)
    for i in range(5000):
        (folder / f"c{i:04d}.yaml").write_text(
            template.replace("id: riverside-fht", f"id: clinic-{i:04d}")
        )
    result = CliRunner().invoke(cli, ["plan", str(folder), "--format", "markdown"])
    assert result.exit_code == 0, result.output[-2000:]
    assert len(result.stdout) < LIMIT
    assert "5000 clinics: **5000 with changes**" in result.stdout
    assert "of the 5000 clinics that need attention" in result.stdout
