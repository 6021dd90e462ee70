"""A saved plan is checked against its own schema when read: anything off is exit 1, named."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from reconciler.planfile import PLAN_SCHEMA, read_plan
from tests.cli_fixtures import (  # noqa: F401 - make_db_fixture, run_fixture: fixtures
    MakeDB,
    Run,
    clinic,
    make_db_fixture,
    primary_rows,
    run_fixture,
)
from tests.conftest import WriteClinic

Tamper = Callable[[dict[str, Any]], object]


def _set(path: str, value: Any) -> Tamper:
    def tamper(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return tamper


def _twice(data: dict[str, Any]) -> None:
    data["clinics"].append(copy.deepcopy(data["clinics"][0]))


def _change_twice(data: dict[str, Any]) -> None:
    changes = data["clinics"][0]["changes"]
    changes.append(copy.deepcopy(changes[0]))


def _drop(key: str) -> Tamper:
    return lambda data: data["clinics"][0].pop(key)


def _edit_after(data: dict[str, Any]) -> None:
    change = next(c for c in data["clinics"][0]["changes"] if c["after"])
    change["after"] = dict.fromkeys(change["after"], "tampered")


TAMPERED: list[tuple[str, Tamper, str]] = [
    (
        "address-object",
        _set("clinics.0.changes.0.address", {"x": 1}),
        "clinics[0].changes[0].address: must be a string",
    ),
    (
        "address-number",
        _set("clinics.0.changes.0.address", 7),
        "clinics[0].changes[0].address: must be a string",
    ),
    ("address-empty", _set("clinics.0.changes.0.address", ""), "address: is too short"),
    ("clinic-twice", _twice, "clinics[1].id: clinic riverside-fht is already in clinics[0]"),
    ("change-twice", _change_twice, "is already in changes[0]"),
    ("id-number", _set("clinics.0.id", 5), "clinics[0].id: must be a string"),
    ("id-pattern", _set("clinics.0.id", "../../etc"), "clinics[0].id: is not a clinic id"),
    ("unknown-field", _set("surprise", True), "(plan): unknown field(s) 'surprise'"),
    ("missing-hash", _drop("desired_hash"), "clinics[0]: missing required field 'desired_hash'"),
    ("bad-hash", _set("clinics.0.desired_hash", "md5:1"), "clinics[0].desired_hash: is not"),
    ("bad-action", _set("clinics.0.changes.0.action", "explode"), "action: must be one of"),
    ("bad-mode", _set("clinics.0.changes.0.mode", None), "mode: must be one of"),
    ("before-list", _set("clinics.0.changes.0.before", [1]), "before: must be an object or null"),
    ("status-lies", _set("clinics.0.status", "in_sync"), "in_sync, but it lists changes"),
    ("status-error", _set("clinics.0.status", "error"), "error does not match its error"),
    ("clinics-object", _set("clinics", {}), "clinics: must be a list"),
    ("plan-id-edited", _set("plan_id", "0123456789abcdef"), "does not match what the plan holds"),
    ("plan-id-short", _set("plan_id", "abc"), "plan_id: is not 16 hexadecimal digits"),
    ("after-edited", _edit_after, "plan_id: "),
    ("fingerprint-edited", _set("clinics.0.changes.0.fingerprint", "sha256:0"), "plan_id: "),
]


@pytest.fixture
def saved(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, Any]:
    db = make_db("saved")
    path = clinic(write_clinic, monkeypatch, "riverside-fht", db.url)
    planfile = path.parent.parent / "plan.json"
    assert run("plan", str(path), "--out", str(planfile)).exit_code == 0
    return path, planfile, db


def assert_refused(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert "not a valid reconciler plan" in result.output or "is not supported" in result.output
    for text in expected:
        assert text in result.output, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("case", "tamper", "expected"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_a_tampered_plan_is_refused_naming_what_is_wrong(
    run: Run, saved: tuple[Path, Path, Any], case: str, tamper: Tamper, expected: str
) -> None:
    path, planfile, db = saved
    data = json.loads(planfile.read_text())
    tamper(data)
    planfile.write_text(json.dumps(data))
    assert_refused(run("apply", str(path), "--plan", str(planfile)), expected)
    assert primary_rows(db) == 0  # nothing applied


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[]", "(plan): must be an object"),
        ('"plan"', "(plan): must be an object"),
        ('{"format_version": "1"}', "plan format_version '1' is not supported"),
        ('{"format_version": [1]}', "plan format_version '(not a number)' is not supported"),
        ('{"format_version": 1}', "(plan): missing required field 'plan_id'"),
    ],
)
def test_a_plan_that_is_not_a_plan_at_all(
    run: Run, saved: tuple[Path, Path, Any], content: str, expected: str
) -> None:
    path, planfile, _ = saved
    planfile.write_text(content)
    assert_refused(run("apply", str(path), "--plan", str(planfile)), expected)


def test_many_problems_are_listed_but_not_thousands(saved: tuple[Path, Path, Any]) -> None:
    _, planfile, _ = saved
    data = json.loads(planfile.read_text())
    data["clinics"] = [{"id": i} for i in range(500)]
    planfile.write_text(json.dumps(data))
    with pytest.raises(Exception, match="not a valid reconciler plan") as info:
        read_plan(planfile)
    assert str(info.value).count("\n  ") == 10


def test_an_untampered_plan_reads_back(saved: tuple[Path, Path, Any]) -> None:
    _, planfile, _ = saved
    plan = read_plan(planfile)
    assert plan.clinic_ids == ["riverside-fht"] and len(plan.clinics[0].changes) == 2
    assert PLAN_SCHEMA["properties"]["format_version"] == {"const": 1}


def test_apply_a_plan_for_a_clinic_it_does_not_hold(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clinic(write_clinic, monkeypatch, "a-clinic", make_db("a").url)
    clinic(write_clinic, monkeypatch, "b-clinic", make_db("b").url)
    planfile = a.parent.parent / "plan.json"
    assert run("plan", str(a.parent), "--clinic", "a-clinic", "--out", str(planfile)).exit_code == 0
    result = run("apply", str(a.parent), "--plan", str(planfile), "--clinic", "b-clinic")
    assert result.exit_code == 1
    assert "--clinic b-clinic: not in the saved plan" in result.output
    assert "it plans 1 clinic(s): a-clinic" in result.output
    assert "Nothing to apply" not in result.output
    unknown = run("apply", str(a.parent), "--plan", str(planfile), "--clinic", "zz")
    assert unknown.exit_code == 1 and "no clinic with id zz" in unknown.output
    ok = run("apply", str(a.parent), "--plan", str(planfile), "--clinic", "a-clinic")
    assert ok.exit_code == 0, ok.output
