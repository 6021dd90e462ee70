"""A saved plan is checked against its own schema when read: anything off is exit 1, named."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from reconciler import planfile as planfile_module
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


# --- a saved plan is self-consistent: every field a reviewer reads is covered -----------------


def _first_change(key: str, value: Any) -> Tamper:
    return _set(f"clinics.0.changes.0.{key}", value)


EDITED: list[tuple[str, Tamper]] = [
    ("impact", _first_change("impact", "harmless, nothing to see")),
    ("steps", _first_change("steps", ["do nothing"])),
    ("safety_rule", _first_change("safety_rule", "revoke-role")),
    ("resource", _first_change("resource", "oscar.provider")),
    ("name", _set("clinics.0.name", "Another Clinic")),
    ("file", _set("clinics.0.file", "elsewhere.yaml")),
    ("emr", _set("clinics.0.emr", "accuro")),
    ("summary", _set("summary", {"clinics": 1, "changes": 0})),
    ("config_commit", _set("config_commit", "0" * 40)),
    ("digest", _set("digest", "sha256:" + "0" * 64)),
]


@pytest.mark.parametrize(("case", "tamper"), EDITED, ids=[e[0] for e in EDITED])
def test_a_plan_edited_anywhere_is_refused(
    run: Run, saved: tuple[Path, Path, Any], case: str, tamper: Tamper
) -> None:
    path, planfile, db = saved
    data = json.loads(planfile.read_text())
    tamper(data)
    planfile.write_text(json.dumps(data, indent=2))
    result = run("apply", str(path), "--plan", str(planfile))
    assert_refused(result, "digest: does not match what the plan holds: it was edited after")
    assert primary_rows(db) == 0


def test_a_plan_saved_reformatted_or_reordered_still_reads(
    run: Run, saved: tuple[Path, Path, Any]
) -> None:
    path, planfile, db = saved
    data = json.loads(planfile.read_text())
    planfile.write_text(json.dumps(dict(reversed(data.items())), sort_keys=True))
    assert run("apply", str(path), "--plan", str(planfile)).exit_code == 0
    assert primary_rows(db) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"plan_id": "a", "plan_id": "b"}', "the key 'plan_id' appears twice in one object"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"a": ' + "9" * 5000 + "}", "an integer thousands of digits long"),
    ],
    ids=["duplicate-key", "deep", "huge-integer"],
)
def test_json_a_plan_writer_never_makes_is_refused_as_input(
    run: Run, saved: tuple[Path, Path, Any], content: str, expected: str
) -> None:
    path, planfile, db = saved
    planfile.write_text(content)
    result = run("apply", str(path), "--plan", str(planfile))
    assert result.exit_code == 1, result.output
    assert expected in result.output and "internal error" not in result.output
    assert primary_rows(db) == 0


def test_a_duplicate_key_inside_a_change_is_refused(
    run: Run, saved: tuple[Path, Path, Any]
) -> None:
    path, planfile, _ = saved
    text = planfile.read_text().replace('"action": ', '"action": "create", "action": ', 1)
    planfile.write_text(text)
    result = run("apply", str(path), "--plan", str(planfile))
    assert result.exit_code == 1 and "the key 'action' appears twice" in result.output


def test_a_plan_that_is_not_a_regular_file_or_too_big_is_refused_unread(
    run: Run, saved: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, planfile, _ = saved
    for special in ("/dev/zero", str(_fifo(planfile.parent / "plan.fifo"))):
        result = run("apply", str(path), "--plan", special)
        assert result.exit_code == 1, result.output
        assert f"{special}: not a plan file (not a regular file)" in result.output
    monkeypatch.setattr(planfile_module, "MAX_PLAN_BYTES", 100)
    result = run("apply", str(path), "--plan", str(planfile))
    assert result.exit_code == 1 and "larger than" in result.output


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


# --- narrowing a saved plan -----------------------------------------------------------------


def test_narrowing_a_plan_past_a_clinic_that_could_not_be_planned(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_db("good")
    good = clinic(write_clinic, monkeypatch, "a-good", db.url)
    clinic(write_clinic, monkeypatch, "b-broken", "sqlite:////nonexistent/folder/x.db")
    planfile = good.parent.parent / "plan.json"
    assert run("plan", str(good.parent), "--out", str(planfile)).exit_code == 3
    whole = run("apply", str(good.parent), "--plan", str(planfile))
    assert whole.exit_code == 1 and "clinic b-broken could not be planned" in whole.output
    narrowed = run("apply", str(good.parent), "--plan", str(planfile), "--clinic", "a-good")
    assert narrowed.exit_code == 0, narrowed.output
    assert primary_rows(db) == 1


def test_paths_narrower_than_the_saved_plan_are_a_usage_error(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clinic(write_clinic, monkeypatch, "a-clinic", make_db("a").url)
    clinic(write_clinic, monkeypatch, "b-clinic", make_db("b").url)
    planfile = a.parent.parent / "plan.json"
    assert run("plan", str(a.parent), "--out", str(planfile)).exit_code == 0
    result = run("apply", str(a), "--plan", str(planfile))
    assert result.exit_code == 1, result.output
    assert "plans b-clinic, not in the clinic files given" in result.output
    assert "stale" not in result.output


# --- plan --out replaces only a regular file that is not an input ----------------------------


def test_plan_out_refuses_to_replace_a_clinic_file_a_link_or_a_device(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clinic(write_clinic, monkeypatch, "riverside-fht", make_db("out").url)
    before = path.read_bytes()
    shared = path.parent.parent / "shared.json"
    shared.write_text("{}")
    link = path.parent.parent / "link.json"
    link.symlink_to(shared)
    for target, why in [
        (path, "is a clinic file this run reads"),
        (link, "is a symbolic link"),
        (Path("/dev/null"), "not a regular file"),
    ]:
        result = run("plan", str(path.parent), "--out", str(target))
        assert result.exit_code == 1, result.output
        assert f"{target}: {why}; refusing to replace it" in result.output
        assert "Saved plan" not in result.output
    assert path.read_bytes() == before and link.is_symlink() and shared.read_text() == "{}"
    ok = run("plan", str(path.parent), "--out", str(shared))  # a regular file is replaced
    assert ok.exit_code == 0 and json.loads(shared.read_text())["plan_id"]


def test_plan_out_that_cannot_be_written_does_not_hide_a_clinic_error(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clinic(write_clinic, monkeypatch, "broken", "sqlite:////nonexistent/folder/x.db")
    result = run("plan", str(path), "--out", str(path / "plan.json"))  # under a file
    assert result.exit_code == 3, result.output  # the highest code wins: 3 over the out's 1
    assert "cannot write the plan file" in result.output


def test_debug_is_accepted_after_the_command_too(
    run: Run, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clinic(write_clinic, monkeypatch, "riverside-fht", "sqlite:///nowhere.db")
    for args in (["--debug", "validate", str(path)], ["validate", "--debug", str(path)]):
        result = run(*args)
        assert result.exit_code == 0, result.output
    assert run("validate", str(path), "--", "--debug").exit_code == 1  # a path, after --
