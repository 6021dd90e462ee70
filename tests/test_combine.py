"""`reconcile show`: a saved plan printed again exactly, and the shards of a fleet as one plan.

Golden files: tests/golden/combined.{txt,md,json}; regenerate with UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from reconciler.combine import show_plans
from reconciler.fleet import Shard
from reconciler.invisible import visible
from reconciler.plan import ClinicPlan, Plan
from reconciler.planfile import combined_plan_id, read_plan, write_plan
from reconciler.render import render_json, render_markdown, render_text
from reconciler.render.json_ import content_digest
from tests.cli_fixtures import (  # noqa: F401 - make_db_fixture, run_fixture: fixtures
    MakeDB,
    Run,
    clinic,
    make_db_fixture,
    primary_rows,
    run_fixture,
)
from tests.conftest import ROOT, WriteClinic, doc
from tests.test_render import CASES, IN_SYNC, fleet, plan_of
from tests.test_render import clinic as pure_clinic

GOLDEN = ROOT / "tests" / "golden"
FORMATS = {"text": render_text, "markdown": render_markdown, "json": render_json}
BROKEN_URL = "sqlite:////nonexistent/folder/x.db"


def saved(plan: Plan, path: Path) -> Path:
    write_plan(plan, path)
    return path


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def resign(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its digest made to match again (an edit a digest alone cannot catch)."""
    data["digest"] = content_digest(data)
    return data


def dump_to(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def refused(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    for text in expected:
        assert text in result.output, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output


# --- one saved plan prints exactly as `plan` printed it --------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_rendered_case_round_trips(run: Run, tmp_path: Path, case: str, fmt: str) -> None:
    path = saved(CASES[case], tmp_path / "plan.json")
    result = run("show", str(path), "--format", fmt)
    assert result.exit_code == (3 if CASES[case].has_errors else 0), result.output
    assert result.stdout == visible(FORMATS[fmt](CASES[case]))
    if fmt == "json":
        assert result.stdout == path.read_text(encoding="utf-8")  # byte for byte


def test_names_with_markup_and_invisible_characters_round_trip(run: Run, tmp_path: Path) -> None:
    odd = pure_clinic(clinic__id="odd-clinic", clinic__name="Zero\u200bWidth <b>@team</b> `x` *y*")
    plan = plan_of((odd, IN_SYNC))
    path = saved(plan, tmp_path / "plan.json")
    assert "\\u200b" in path.read_text(encoding="utf-8")
    for fmt, render in FORMATS.items():
        result = run("show", str(path), "--format", fmt)
        assert result.exit_code == 0 and result.stdout == visible(render(plan))


# --- a fleet of OSCAR clinic files on SQLite, planned whole and as three shards -------------

FLEET = {  # clinic id -> (file, what its database holds); ids picked so each shard has some
    "alder-clinic": ("north/alder-clinic.yaml", "drift"),  # shard 2/3
    "juniper-fht": ("north/juniper-fht.yaml", "in-sync"),  # 1/3
    "birch-health": ("south/birch-health.yaml", "fresh"),  # 2/3
    "cedar-fht": ("south/cedar-fht.yaml", "broken"),  # 3/3
    "kapok-care": ("south-east/kapok-care.yaml", "manual"),  # 1/3: a checklist
    "larch-medical": ("larch-medical.yaml", "absent"),  # 1/3: deletes
    "dogwood-medical": ("dogwood-medical.yaml", "drift"),  # 3/3
}


@pytest.fixture
def clinics(
    make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """The FLEET's clinic files; returns their folder."""
    from reconciler.emr.oscar.simulator import Scenario

    for cid, (name, kind) in FLEET.items():
        variable = "T_URL_" + cid.upper().replace("-", "_")
        data = doc("oscar", clinic__id=cid)
        data["emr"]["database"]["url"] = {"env": variable}
        if kind == "manual":
            data["emr"] = {"kind": "oscar", "edition": "open-source", "backend": "manual"}
        elif kind == "broken":
            monkeypatch.setenv(variable, BROKEN_URL)
        else:
            scenario = Scenario.DRIFT if kind in ("drift", "absent") else Scenario(kind)
            monkeypatch.setenv(variable, make_db(cid, scenario).url)
        if kind == "absent":
            data["ocean_connect"]["ensure"] = "absent"
        write_clinic(data, name)
    return tmp_path / "clinics"


def _shards(run: Run, folder: Path, out: Path, n: int = 3) -> list[Path]:
    paths = []
    for i in range(1, n + 1):
        path = out / f"plan-{i}.json"
        result = run("plan", str(folder), "--shard", f"{i}/{n}", "--out", str(path))
        assert result.exit_code in (0, 3), result.output
        assert f"Shard {i}/{n}: " in result.output
        paths.append(path)
    return paths


def _same_but_the_id(whole: str, whole_id: str, combined: str, combined_id: str) -> None:
    """``combined`` is ``whole`` but for the lines that name the plan id."""
    a, b = whole.splitlines(), combined.splitlines()
    assert len(a) == len(b)
    differ = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    assert differ, "the plan ids should differ"
    for x, y in differ:
        assert whole_id in x and combined_id in y
        assert x.replace(whole_id, "ID") == y.replace(combined_id, "ID")


def test_a_fleet_is_as_its_clinics_say(clinics: Path) -> None:
    picks = {cid: next(i for i in (1, 2, 3) if Shard(i, 3).picks(cid)) for cid in FLEET}
    assert set(picks.values()) == {1, 2, 3}
    assert sorted(p.relative_to(clinics).as_posix() for p in clinics.rglob("*.yaml")) == sorted(
        name for name, _ in FLEET.values()
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_show_prints_a_saved_plan_exactly_as_plan_printed_it(
    run: Run, clinics: Path, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "plan.json"
    planned = run("plan", str(clinics), "--format", fmt, "--out", str(path))
    assert planned.exit_code == 3, planned.output  # cedar-fht cannot be read
    shown = run("show", str(path), "--format", fmt)
    assert shown.exit_code == 3, shown.output
    assert shown.stdout == planned.stdout
    if fmt == "json":
        assert shown.stdout == path.read_text(encoding="utf-8")
    if fmt == "text":
        assert "active: true -> false" in shown.stdout  # a delete's field, as planned
        assert "cedar-fht (oscar, Riverside Family Health Team): error" in shown.stdout


def test_the_shards_of_a_fleet_combine_into_the_plan_of_the_whole_fleet(
    run: Run, clinics: Path, tmp_path: Path
) -> None:
    whole_file = tmp_path / "whole.json"
    whole_md = run("plan", str(clinics), "--format", "markdown", "--out", str(whole_file))
    assert whole_md.exit_code == 3, whole_md.output
    parts = _shards(run, clinics, tmp_path)
    part_ids = [load(p)["plan_id"] for p in parts]
    whole_id = load(whole_file)["plan_id"]
    combined_id = combined_plan_id(part_ids)
    assert combined_id not in (whole_id, *part_ids)

    md = run("show", *map(str, parts), "--format", "markdown")
    assert md.exit_code == 3, md.output  # a part holds a clinic error
    _same_but_the_id(whole_md.stdout, whole_id, md.stdout, combined_id)
    assert f"## reconciler plan `{combined_id}`" in md.stdout
    assert "7 clinics: **5 with changes**, 1 in sync, **1 error**" in md.stdout

    whole_text = run("show", str(whole_file)).stdout
    text = run("show", *map(str, parts))
    _same_but_the_id(whole_text, whole_id, text.stdout, combined_id)
    order = [line.split(" ")[0] for line in text.stdout.splitlines() if line[:1].isalpha()]
    assert order[:-1] == [  # as `plan` of the folder lists them, by file
        "dogwood-medical",
        "larch-medical",
        "alder-clinic",
        "juniper-fht",
        "birch-health",
        "cedar-fht",
        "kapok-care",
    ]

    data = json.loads(run("show", *map(str, parts), "--format", "json").stdout)
    whole = load(whole_file)
    assert data["plan_id"] == combined_id
    assert data["clinics"] == whole["clinics"] and data["summary"] == whole["summary"]
    assert data["config_commit"] == whole["config_commit"]
    assert [p["plan_id"] for p in data["parts"]] == sorted(part_ids)
    by_id = {load(p)["plan_id"]: [c["id"] for c in load(p)["clinics"]] for p in parts}
    assert {p["plan_id"]: p["clinics"] for p in data["parts"]} == by_id


def test_the_combined_plan_is_the_same_in_any_order_and_saves_and_reads_again(
    run: Run, clinics: Path, tmp_path: Path
) -> None:
    p1, p2, p3 = _shards(run, clinics, tmp_path)
    combined = tmp_path / "combined.json"
    first = run("show", str(p1), str(p2), str(p3), "--format", "json", "--out", str(combined))
    assert first.exit_code == 3, first.output
    assert first.stdout == combined.read_text(encoding="utf-8")
    assert f"Saved plan {load(combined)['plan_id']} to {combined}" in first.output
    for order in [(p3, p1, p2), (p2, p3, p1)]:
        assert run("show", *map(str, order), "--format", "json").stdout == first.stdout
    for fmt in FORMATS:
        again = run("show", str(combined), "--format", fmt)
        assert again.stdout == run("show", str(p1), str(p2), str(p3), "--format", fmt).stdout
    assert "shard" not in load(combined)  # every shard: the whole fleet
    # two shards of three are not combined (nor saved): the third is missing
    pair = tmp_path / "pair.json"
    refused(run("show", str(p3), str(p1), "--out", str(pair)), "1/3 and 3/3 given: 2/3 is missing")
    assert not pair.exists()
    assert read_plan(combined).plan_id == load(combined)["plan_id"]  # as apply reads it


def test_apply_takes_a_combined_plan_and_checks_every_clinic(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbs = {cid: make_db(cid) for cid in ("alder-clinic", "birch-health")}  # shards 2/2, 1/2
    paths = [clinic(write_clinic, monkeypatch, cid, db.url) for cid, db in dbs.items()]
    folder, out = paths[0].parent, paths[0].parent.parent
    parts = _shards(run, folder, out, n=2)
    assert all(len(load(p)["clinics"]) == 1 for p in parts)
    combined = out / "combined.json"
    assert run("show", *map(str, parts), "--out", str(combined)).exit_code == 0
    applied = run("apply", str(folder), "--plan", str(combined))
    assert applied.exit_code == 0, applied.output
    assert f"Applying saved plan {load(combined)['plan_id']}." in applied.output
    assert all(primary_rows(db) == 1 for db in dbs.values())
    stale = run("apply", str(folder), "--plan", str(combined))
    assert stale.exit_code == 4 and "is stale; nothing was applied" in stale.output


def test_each_runner_may_apply_its_own_shard_instead(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbs = {cid: make_db(cid) for cid in ("alder-clinic", "birch-health")}  # shards 2/2, 1/2
    paths = [clinic(write_clinic, monkeypatch, cid, db.url) for cid, db in dbs.items()]
    folder, out = paths[0].parent, paths[0].parent.parent
    _, second = _shards(run, folder, out, n=2)
    applied = run("apply", str(folder), "--shard", "2/2", "--plan", str(second))
    assert applied.exit_code == 0, applied.output
    assert [primary_rows(db) for db in dbs.values()] == [1, 0]


# --- what show refuses -----------------------------------------------------------------------


def test_a_clinic_in_two_plans_is_refused_naming_the_files(
    run: Run, clinics: Path, tmp_path: Path
) -> None:
    p1, p2, _ = _shards(run, clinics, tmp_path)
    whole = tmp_path / "whole.json"
    run("plan", str(clinics), "--out", str(whole))
    result = run("show", str(p1), str(p2), str(whole))
    refused(result, "a clinic may be in one of the plans combined only", f"in {p1} and {whole}")
    refused(run("show", str(p2), str(p2)), f"alder-clinic (in {p2} and {p2})")
    assert result.stdout == ""


def test_plans_of_different_format_versions_are_refused(run: Run, tmp_path: Path) -> None:
    one = saved(CASES["oscar-drift"], tmp_path / "one.json")
    data = load(saved(CASES["accuro-checklist"], tmp_path / "two.json"))
    two = dump_to(tmp_path / "two.json", resign({**data, "format_version": 2}))
    refused(
        run("show", str(one), str(two)),
        f"plans of different format versions cannot be combined: {one} (1), {two} (2)",
        "plan every part again with the same version of reconcile",
    )
    refused(run("show", str(two)), f"{two}: plan format_version 2 is not supported")


def test_plans_of_different_commits_are_refused(run: Run, tmp_path: Path) -> None:
    one = saved(replace(CASES["oscar-drift"], config_commit="a" * 40), tmp_path / "one.json")
    two = saved(CASES["accuro-checklist"], tmp_path / "two.json")
    refused(
        run("show", str(one), str(two)),
        "plans of different commits of the clinic files cannot be combined",
        f"{one} (aaaaaaaaaaaa), {two} (no commit)",
    )
    three = saved(replace(CASES["accuro-checklist"], config_commit="a" * 40), tmp_path / "3.json")
    assert run("show", str(one), str(three)).exit_code == 0  # one commit: combined


def test_bad_input_is_exit_1_with_the_plan_file_errors(run: Run, tmp_path: Path) -> None:
    good = saved(CASES["oscar-drift"], tmp_path / "good.json")
    refused(run("show", str(good), str(tmp_path / "nope.json")), "nope.json: no such plan file")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refused(run("show", str(bad), str(good)), "bad.json:1:2: not a JSON plan")
    edited = load(good)
    edited["clinics"][0]["name"] = "Another Clinic"
    refused(
        run("show", str(dump_to(tmp_path / "edited.json", edited))),
        "digest: does not match what the plan holds",
    )
    refused(run("show", str(tmp_path)), "not a plan file (not a regular file)")
    no_args = run("show")
    assert no_args.exit_code == 1 and "Missing argument 'PLAN_FILE...'" in no_args.output


def test_exit_codes_are_those_of_plan(run: Run, tmp_path: Path) -> None:
    changes = saved(CASES["oscar-drift"], tmp_path / "changes.json")
    in_sync = saved(plan_of((pure_clinic(clinic__id="calm"), IN_SYNC)), tmp_path / "calm.json")
    error = saved(
        Plan((ClinicPlan(pure_clinic(clinic__id="down"), error="unreachable"),)),
        tmp_path / "down.json",
    )
    assert run("show", str(changes)).exit_code == 0
    assert run("show", str(changes), "--detailed-exitcode").exit_code == 2
    assert run("show", str(in_sync), "--detailed-exitcode").exit_code == 0
    assert run("show", str(in_sync), str(changes), "--detailed-exitcode").exit_code == 2
    both = run("show", str(in_sync), str(error), str(changes), "--detailed-exitcode")
    assert (
        both.exit_code == 3 and "down (oscar, Riverside Family Health Team): error" in both.stdout
    )


def test_a_shard_with_no_clinics_is_a_part_like_any_other(run: Run, tmp_path: Path) -> None:
    empty = [saved(Plan(()), tmp_path / f"empty-{i}.json") for i in (1, 2)]
    drift = saved(CASES["oscar-drift"], tmp_path / "drift.json")
    result = run("show", str(empty[0]), str(drift), str(empty[1]), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ids = [Plan(()).plan_id, Plan(()).plan_id, CASES["oscar-drift"].plan_id]
    assert data["plan_id"] == combined_plan_id(ids)
    assert sorted(p["plan_id"] for p in data["parts"]) == sorted(ids)
    assert data["clinics"] == load(drift)["clinics"]
    nothing = run("show", *map(str, empty), "--detailed-exitcode")
    assert nothing.exit_code == 0 and "0 clinics: 0 in sync" in nothing.stdout


def test_out_never_replaces_a_plan_it_reads(run: Run, tmp_path: Path) -> None:
    one = saved(CASES["oscar-drift"], tmp_path / "one.json")
    two = saved(CASES["accuro-checklist"], tmp_path / "two.json")
    before = one.read_bytes()
    refused(
        run("show", str(one), str(two), "--out", str(one)),
        f"{one}: is a plan file this run reads; refusing to replace it with the plan",
    )
    assert one.read_bytes() == before


def _tampered_combined(tmp_path: Path) -> dict[str, Any]:
    paths = [
        saved(CASES[c], tmp_path / f"{c}.json")
        for c in ("oscar-drift", "accuro-checklist", "mixed")
    ]
    combined = tmp_path / "combined.json"
    from reconciler.combine import save

    save(show_plans(paths), combined)
    return load(combined)


def _swap(data: dict[str, Any]) -> None:
    a, b = data["parts"][0]["clinics"], data["parts"][1]["clinics"]
    a.append(b.pop())


TAMPERED = [
    ("part-id", lambda d: d["parts"][0].update(plan_id="0" * 16), "parts[0].plan_id: 0000"),
    ("moved", _swap, "does not match the clinics it lists"),
    ("unclaimed", lambda d: d["parts"][0]["clinics"].pop(), "parts: no part holds clinic(s)"),
    ("unknown", lambda d: d["parts"][0]["clinics"].append("zz"), "clinic zz is not in the plan"),
    ("twice", lambda d: d["parts"][1]["clinics"].extend(d["parts"][0]["clinics"]), "already in"),
    ("plan-id", lambda d: d.update(plan_id="0" * 16), "is not derived from its parts' plan ids"),
    ("no-parts", lambda d: d.pop("parts"), "does not match what the plan holds"),
    ("one-part", lambda d: d.update(parts=d["parts"][:1]), "parts: has too few items"),
]


@pytest.mark.parametrize(("case", "tamper", "expected"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_a_tampered_combined_plan_is_refused(
    run: Run, tmp_path: Path, case: str, tamper: Any, expected: str
) -> None:
    data = _tampered_combined(tmp_path)
    tamper(data)
    path = dump_to(tmp_path / "tampered.json", resign(data))
    refused(run("show", str(path)), "not a valid reconciler plan", expected)
    with pytest.raises(Exception, match="not a valid reconciler plan"):
        read_plan(path)  # as apply --plan reads it


def _first_field(data: dict[str, Any]) -> dict[str, Any]:
    change = next(c for c in data["clinics"][0]["changes"] if c["shown"] and c["after"])
    field: dict[str, Any] = change["shown"][0]
    return field


SHOWN = [
    ("value", lambda d: _first_field(d).update(after='"something else"'), "does not match"),
    ("name", lambda d: _first_field(d).update(name="other"), "its fields are not those of"),
    ("dropped", lambda d: d["clinics"][0]["changes"][0]["shown"].clear(), "not those of"),
]


@pytest.mark.parametrize(("case", "tamper", "expected"), SHOWN, ids=[t[0] for t in SHOWN])
def test_fields_shown_must_be_the_fields_apply_checks(
    run: Run, tmp_path: Path, case: str, tamper: Any, expected: str
) -> None:
    data = load(saved(CASES["oscar-drift"], tmp_path / "plan.json"))
    tamper(data)
    path = dump_to(tmp_path / "edited.json", resign(data))
    refused(run("show", str(path)), "not a valid reconciler plan", "shown: ", expected)


def test_a_plan_saved_before_show_existed_is_refused_by_show_but_applies(
    run: Run, tmp_path: Path
) -> None:
    data = load(saved(CASES["oscar-absent"], tmp_path / "plan.json"))
    for change in data["clinics"][0]["changes"]:
        del change["shown"]
    path = dump_to(tmp_path / "old.json", resign(data))
    assert read_plan(path).plan_id == data["plan_id"]  # apply --plan still reads it
    refused(
        run("show", str(path)),
        "lacks clinics[0].changes[0].shown, clinics[0].changes[1].shown",
        "a plan saved by an earlier version of reconcile); plan again",
    )


# --- the comment limit holds for a combined fleet as for a whole one -------------------------


def test_a_combined_fleet_of_5000_clinics_is_the_whole_fleets_comment(tmp_path: Path) -> None:
    whole = fleet(5000, lambda i: ("in_sync", "changes", "in_sync", "error")[i % 4])
    shards = [
        saved(
            Plan(tuple(cp for cp in whole.clinics if Shard(i, 3).picks(cp.clinic.id))),
            tmp_path / f"plan-{i}.json",
        )
        for i in (1, 2, 3)
    ]
    combined = show_plans(shards)
    _same_but_the_id(
        render_markdown(whole), whole.plan_id, render_markdown(combined), combined.plan_id
    )
    assert render_text(combined).replace(combined.plan_id, "ID") == render_text(whole).replace(
        whole.plan_id, "ID"
    )


# --- golden: a combination of the rendered cases --------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_golden_combined(run: Run, tmp_path: Path, fmt: str) -> None:
    paths = [saved(CASES[c], tmp_path / f"{c}.json") for c in ("mixed", "accuro-checklist")]
    paths.append(saved(CASES["oscar-drift"], tmp_path / "oscar-drift.json"))
    result = run("show", *map(str, paths), "--format", fmt)
    assert result.exit_code == 3, result.output  # mixed holds broken-clinic
    ext = {"text": "txt", "markdown": "md", "json": "json"}[fmt]
    path = GOLDEN / f"combined.{ext}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(result.stdout, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert result.stdout == path.read_text(encoding="utf-8")


def test_json_a_plan_carries_what_show_needs() -> None:
    """Every field a renderer reads is in the JSON plan (see reconciler.combine)."""
    data = json.loads(render_json(CASES["mixed"]))
    for c in data["clinics"]:
        assert {"id", "name", "emr", "file", "status", "error", "notes", "desired_hash"} <= set(c)
        for ch in c["changes"]:
            assert {"resource", "impact", "steps", "safety_rule", "shown"} <= set(ch)
    absent = json.loads(render_json(CASES["oscar-absent"]))["clinics"][0]["changes"]
    deleted = next(ch for ch in absent if ch["address"] == "oscar.provider[999990]")
    assert deleted["after"] is None  # a delete's identity has no after ...
    assert deleted["shown"] == [{"name": "active", "before": "true", "after": "false"}]  # shown


# --- shards: every shard of one N, each once ------------------------------------------------


def _shard_plan(tmp_path: Path, name: str, shard: str | None, case: str | None = None) -> Path:
    plan = CASES[case] if case is not None else Plan(())
    return saved(
        replace(plan, shard=None if shard is None else Shard.parse(shard)), tmp_path / name
    )


def test_a_saved_plan_records_its_shard(run: Run, clinics: Path, tmp_path: Path) -> None:
    p1, p2, p3 = _shards(run, clinics, tmp_path)
    assert [load(p)["shard"] for p in (p1, p2, p3)] == ["1/3", "2/3", "3/3"]
    whole = tmp_path / "whole.json"
    run("plan", str(clinics), "--out", str(whole))
    assert "shard" not in load(whole)
    one = run("plan", str(clinics), "--shard", "1/1", "--format", "json")
    assert json.loads(one.stdout)["shard"] == "1/1"
    assert read_plan(p2).plan_id == load(p2)["plan_id"]  # as apply --plan reads it


def test_a_missing_shard_is_refused(run: Run, clinics: Path, tmp_path: Path) -> None:
    p1, p2, _ = _shards(run, clinics, tmp_path)
    result = run("show", str(p1), str(p2))
    refused(result, "shards 1/3 and 2/3 given: 3/3 is missing")
    assert result.stdout == ""
    refused(run("show", str(p2)), "shard 2/3 given: 1/3 and 3/3 are missing")
    report = run("report", "--plan", str(p1), "--plan", str(p2), "--out", str(tmp_path / "r"))
    refused(report, "3/3 is missing")


def test_a_shard_given_twice_is_refused(run: Run, tmp_path: Path) -> None:
    a, b = (_shard_plan(tmp_path, f"{n}.json", "1/2") for n in ("a", "b"))
    two = _shard_plan(tmp_path, "two.json", "2/2", "oscar-drift")
    refused(run("show", str(a), str(two), str(b)), f"shard 1/2 given 2 times ({a}, {b})")


def test_shards_of_different_n_are_refused(run: Run, tmp_path: Path) -> None:
    one = _shard_plan(tmp_path, "one.json", "1/3", "oscar-drift")
    two = _shard_plan(tmp_path, "two.json", "2/3", "accuro-checklist")
    odd = _shard_plan(tmp_path, "odd.json", "2/4")
    refused(run("show", str(one), str(odd), str(two)), f"shard 2/4 ({odd}) mixed with shards of 3")


def test_a_plan_of_no_shard_with_shards_is_refused(run: Run, tmp_path: Path) -> None:
    one = _shard_plan(tmp_path, "one.json", "1/2", "oscar-drift")
    two = _shard_plan(tmp_path, "two.json", "2/2")
    whole = _shard_plan(tmp_path, "whole.json", None, "accuro-checklist")
    refused(
        run("show", str(one), str(whole), str(two)),
        f"shards 1/2 ({one}) and 2/2 ({two}) mixed with a plan of no shard ({whole})",
    )


def test_all_shards_combine_into_a_plan_of_no_shard(run: Run, tmp_path: Path) -> None:
    one = _shard_plan(tmp_path, "one.json", "2/2", "oscar-drift")
    two = _shard_plan(tmp_path, "two.json", "1/2", "accuro-checklist")
    combined = tmp_path / "combined.json"
    assert run("show", str(one), str(two), "--out", str(combined)).exit_code == 0
    assert "shard" not in load(combined)
    assert show_plans([combined]).shard is None
    alone = _shard_plan(tmp_path, "alone.json", "1/1", "oscar-drift")
    shown = run("show", str(alone), "--format", "json")
    assert shown.exit_code == 0 and shown.stdout == alone.read_text(encoding="utf-8")


def test_an_old_plan_without_a_shard_is_still_shown_and_read(run: Run, tmp_path: Path) -> None:
    path = saved(CASES["oscar-drift"], tmp_path / "old.json")
    data = load(path)
    assert "shard" not in data  # what a plan saved before shards were recorded holds
    shown = run("show", str(path), "--format", "json")
    assert shown.exit_code == 0 and shown.stdout == path.read_text(encoding="utf-8")
    assert read_plan(path).plan_id == data["plan_id"]
    null = dump_to(tmp_path / "null.json", resign({**data, "shard": None}))
    assert run("show", str(null)).exit_code == 0


@pytest.mark.parametrize("bad", ["0/3", "4/3", "1/3 ", "x", "1/0"])
def test_a_bad_shard_in_a_plan_is_refused(run: Run, tmp_path: Path, bad: str) -> None:
    data = load(saved(CASES["oscar-drift"], tmp_path / "plan.json"))
    path = dump_to(tmp_path / "bad.json", resign({**data, "shard": bad}))
    refused(run("show", str(path)), "not a valid reconciler plan", "shard: is not")
    with pytest.raises(Exception, match="shard: is not"):
        read_plan(path)


def test_a_shard_is_covered_by_the_digest(run: Run, tmp_path: Path) -> None:
    path = _shard_plan(tmp_path, "one.json", "1/2", "oscar-drift")
    edited = dump_to(tmp_path / "edited.json", {**load(path), "shard": "1/1"})
    refused(run("show", str(edited)), "digest: does not match what the plan holds")
