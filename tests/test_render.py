"""Rendered plans, pinned by golden files (tests/golden/<case>.txt|.md).

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

import pytest

from reconciler.config.build import build_clinic
from reconciler.config.yamlsource import YamlDocument
from reconciler.diff import diff
from reconciler.emr.oscar.live import OscarLive, OscarLoginRow, OscarProviderRow
from reconciler.model import Clinic
from reconciler.plan import ClinicPlan, Plan
from reconciler.render import render_json, render_markdown, render_text
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
            out.append(ClinicPlan(item[0], changes=diff(item[0], item[1])))
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
