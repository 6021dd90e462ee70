"""`reconcile plan` and `reconcile apply` end to end: CLI -> engine -> adapter -> database.

Runs against SQLite and a real MariaDB (the ``oscar_db`` fixture), as a user would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import cli
from tests.conftest import OC_PASSWORD, OC_PIN, OscarDB, WriteClinic, doc

Point = Callable[[OscarDB], None]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def setup(oscar_db: OscarDB, oscar_env: Point, write_clinic: WriteClinic) -> Path:
    """A clinic file for the seeded (drifted) OSCAR database; returns its path."""
    oscar_env(oscar_db)
    return write_clinic(doc("oscar"), "riverside.yaml")


def no_secrets(*texts: str) -> None:
    for text in texts:
        assert OC_PASSWORD not in text and OC_PIN not in text


def test_plan_apply_plan_again(
    run: Callable[..., Result], setup: Path, oscar_db: OscarDB, tmp_path: Path
) -> None:
    plan = run("plan", str(setup), "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "~ oscar.login[OceanConnect]  update" in plan.output
    assert "pin_local: true -> false" in plan.output
    assert "+ oscar.primary_role[999990]  create" in plan.output
    apply = run("apply", str(setup), "--auto-approve")
    assert apply.exit_code == 0, apply.output
    assert "applied       oscar.login[OceanConnect]" in apply.output
    assert "verified: live state matches the clinic file" in apply.output
    again = run("plan", str(setup), "--detailed-exitcode")
    assert again.exit_code == 0 and "in sync" in again.output
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(a["address"], a["result"]) for a in audit] == [
        ("oscar.primary_role[999990]", "applied"),
        ("oscar.login[OceanConnect]", "applied"),
    ]
    assert all(a["clinic"] == "riverside-fht" and a["user"] and a["time"] for a in audit)
    no_secrets(plan.output, apply.output, (tmp_path / "audit.jsonl").read_text())


def test_plan_formats(run: Callable[..., Result], setup: Path) -> None:
    as_json = run("plan", str(setup), "--format", "json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.output)
    (clinic,) = data["clinics"]
    assert clinic["status"] == "changes" and clinic["emr"] == "oscar"
    login = next(c for c in clinic["changes"] if c["resource"] == "oscar.login")
    assert login["before"]["pin"] == "(sensitive)" and login["mode"] == "automatic"
    assert data["summary"]["with_changes"] == 1
    md = run("plan", str(setup), "--format", "markdown")
    assert md.output.startswith("## reconciler plan `") and "| `riverside-fht` |" in md.output
    no_secrets(as_json.output, md.output)


def test_saved_plan_applies_exactly_and_refuses_when_stale(
    run: Callable[..., Result], setup: Path, oscar_db: OscarDB, tmp_path: Path
) -> None:
    planfile = tmp_path / "plan.json"
    assert run("plan", str(setup), "--out", str(planfile)).exit_code == 0
    no_secrets(planfile.read_text())
    saved = json.loads(planfile.read_text())
    assert all(c["fingerprint"] for c in saved["clinics"][0]["changes"])
    assert saved["clinics"][0]["desired_hash"].startswith("sha256:")

    # live state moved: refused, naming the object, nothing written
    oscar_db.execute("UPDATE security SET b_RemoteLockSet = 0 WHERE user_name='OceanConnect'")
    stale = run("apply", str(setup), "--plan", str(planfile))
    assert stale.exit_code == 4, stale.output
    assert "oscar.login[OceanConnect] changed since the plan" in stale.output
    assert oscar_db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [
        (0,)
    ]

    # a fresh plan applies, exactly
    assert run("plan", str(setup), "--out", str(planfile)).exit_code == 0
    ok = run("apply", str(setup), "--plan", str(planfile))
    assert ok.exit_code == 0, ok.output
    assert run("plan", str(setup), "--detailed-exitcode").exit_code == 0


def test_saved_plan_refused_when_clinic_file_changed(
    run: Callable[..., Result], setup: Path, tmp_path: Path
) -> None:
    planfile = tmp_path / "plan.json"
    run("plan", str(setup), "--out", str(planfile))
    data = yaml.safe_load(setup.read_text())
    data["ocean_connect"]["login"]["pin_remote"] = False
    setup.write_text(yaml.safe_dump(data))
    result = run("apply", str(setup), "--plan", str(planfile))
    assert result.exit_code == 4
    assert (
        "riverside-fht: its clinic file" in result.output
        and "changed since the plan" in result.output
    )


def test_bad_plan_files(run: Callable[..., Result], setup: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run("apply", str(setup), "--plan", str(bad))
    assert result.exit_code == 1 and "not a JSON plan" in result.output
    bad.write_text(json.dumps({"format_version": 99}))
    assert (
        "format_version 99 is not supported" in run("apply", str(setup), "--plan", str(bad)).output
    )
    missing = run("apply", str(setup), "--plan", str(tmp_path / "nope.json"))
    assert missing.exit_code == 1 and "no such plan file" in missing.output


def test_unsafe_changes_need_their_rule(
    run: Callable[..., Result], setup: Path, oscar_db: OscarDB
) -> None:
    oscar_db.execute(
        "INSERT INTO secUserRole (provider_no, role_name, orgcd, activeyn, lastUpdateDate) "
        "VALUES ('999990', 'admin', 'R0000001', 1, '2026-01-01 00:00:00')"
    )
    refused = run("apply", str(setup), "--auto-approve")
    assert refused.exit_code == 4
    assert "revoke oscar.role[999990/admin] (rule revoke-role)" in refused.output
    assert "--allow revoke-role" in refused.output
    # nothing at all was applied, not even the safe changes
    assert oscar_db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [
        (0,)
    ]
    wrong_rule = run("apply", str(setup), "--auto-approve", "--allow", "delete-login")
    assert wrong_rule.exit_code == 4
    assert run("apply", str(setup), "--auto-approve", "--allow", "everything").exit_code == 1
    allowed = run("apply", str(setup), "--auto-approve", "--allow", "revoke-role")
    assert allowed.exit_code == 0, allowed.output
    assert oscar_db.execute(
        "SELECT role_name FROM secUserRole WHERE provider_no='999990' AND activeyn=1"
    ) == [("doctor",)]


def test_decommission_needs_every_rule(
    run: Callable[..., Result], setup: Path, oscar_db: OscarDB
) -> None:
    data = yaml.safe_load(setup.read_text())
    data["ocean_connect"]["ensure"] = "absent"
    setup.write_text(yaml.safe_dump(data))
    partial = run("apply", str(setup), "--auto-approve", "--allow", "revoke-role")
    assert (
        partial.exit_code == 4 and "--allow delete-login --allow delete-provider" in partial.output
    )
    done = run(
        "apply",
        str(setup),
        "--auto-approve",
        "--allow",
        "revoke-role",
        "--allow",
        "delete-login",
        "--allow",
        "delete-provider",
    )
    assert done.exit_code == 0, done.output
    assert oscar_db.execute("SELECT COUNT(*) FROM security WHERE user_name='OceanConnect'") == [
        (0,)
    ]


def test_apply_without_terminal_or_auto_approve_refuses(
    run: Callable[..., Result], setup: Path, oscar_db: OscarDB
) -> None:
    result = run("apply", str(setup))
    assert result.exit_code == 1
    assert "refusing to apply without confirmation" in result.output
    assert oscar_db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [
        (0,)
    ]


def test_apply_asks_in_a_terminal(
    setup: Path, oscar_db: OscarDB, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setattr("reconciler.cli._is_interactive", lambda: True)
    declined = CliRunner().invoke(cli, ["apply", str(setup)], input="n\n")
    assert declined.exit_code == 1 and "Apply these changes?" in declined.output
    accepted = CliRunner().invoke(cli, ["apply", str(setup)], input="y\n")
    assert accepted.exit_code == 0, accepted.output


def test_failure_in_the_middle_rolls_back_and_exits_3(
    run: Callable[..., Result], setup: Path, oscar_db: OscarDB
) -> None:
    if oscar_db.backend == "sqlite":
        oscar_db.execute(
            "CREATE TRIGGER boom BEFORE UPDATE ON security "
            "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
        )
    else:
        oscar_db.execute(
            "CREATE TRIGGER boom BEFORE UPDATE ON security FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'disk full (simulated)'"
        )
    result = run("apply", str(setup), "--auto-approve")
    assert result.exit_code == 3, result.output
    assert "failed        oscar.primary_role[999990]" in result.output
    assert "disk full (simulated)" in result.output
    # the primary role was written before the login failed: rolled back with it
    assert oscar_db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [
        (0,)
    ]


def test_one_unreadable_clinic_does_not_stop_the_others(
    run: Callable[..., Result],
    setup: Path,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = doc("oscar", clinic__id="broken-clinic")
    broken["emr"]["database"]["url"] = {"env": "T_BROKEN_URL"}
    write_clinic(broken, "broken.yaml")
    monkeypatch.setenv("T_BROKEN_URL", "mysql+pymysql://oscar:Hidden-Db-Pw@127.0.0.1:9/oscar")
    result = run("plan", str(setup.parent), "--format", "json")
    assert result.exit_code == 3
    data = json.loads(result.output)
    status = {c["id"]: (c["status"], c["error"]) for c in data["clinics"]}
    assert status["riverside-fht"] == ("changes", None)
    assert status["broken-clinic"][0] == "error" and "Hidden-Db-Pw" not in result.output
    assert data["summary"]["errors"] == 1
    only = run("plan", str(setup.parent), "--clinic", "riverside-fht", "--detailed-exitcode")
    assert only.exit_code == 2
    unknown = run("plan", str(setup.parent), "--clinic", "nope")
    assert unknown.exit_code == 1 and "no clinic with id nope" in unknown.output


def test_missing_secret_is_a_clinic_error(
    run: Callable[..., Result], setup: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("T_OC_PIN")
    result = run("plan", str(setup))
    assert result.exit_code == 1  # this clinic's input, not the EMR
    assert "ocean_connect.login.pin: environment variable T_OC_PIN is not set" in result.output
    assert "environment variable T_OC_PIN is not set" in result.output


def test_invalid_clinic_file_stops_plan_with_exit_1(
    run: Callable[..., Result], write_clinic: WriteClinic
) -> None:
    path = write_clinic(doc("oscar", ocean_connect__primary_role="nurse"))
    result = run("plan", str(path))
    assert result.exit_code == 1 and "primary role 'nurse' is not among roles" in result.output


def test_manual_backend_gives_a_checklist(
    run: Callable[..., Result], write_clinic: WriteClinic
) -> None:
    data = doc("oscar")
    data["emr"] = {"kind": "oscar", "edition": "open-source", "backend": "manual"}
    path = write_clinic(data)
    plan = run("plan", str(path), "--format", "json")
    changes = json.loads(plan.output)["clinics"][0]["changes"]
    assert {c["mode"] for c in changes} == {"manual"} and {c["action"] for c in changes} == {"step"}
    apply = run("apply", str(path), "--auto-approve")
    assert apply.exit_code == 0, apply.output
    assert "manual        oscar.login[OceanConnect]" in apply.output
    assert "Pin(remote) Enable: Enabled" in apply.output


def test_unwritable_audit_log_refuses_before_any_write(
    setup: Path, oscar_db: OscarDB, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log's folder should be")
    result = CliRunner().invoke(
        cli, ["apply", str(setup), "--auto-approve", "--audit-log", str(blocker / "audit.jsonl")]
    )
    assert result.exit_code == 1
    assert "cannot write the audit log" in result.output and "nothing was applied" in result.output
    assert oscar_db.execute("SELECT COUNT(*) FROM program_provider WHERE provider_no='999990'") == [
        (0,)
    ]


def test_unwritable_plan_file_is_a_clear_error(
    run: Callable[..., Result], setup: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = run("plan", str(setup), "--out", str(blocker / "plan.json"))
    assert result.exit_code == 1
    assert "cannot write the plan file" in result.output and "internal error" not in result.output


def test_a_date_that_has_come_stops_only_its_clinic(
    run: Callable[..., Result], setup: Path, write_clinic: WriteClinic
) -> None:
    """validate says it; plan makes it that clinic's error and still plans the others."""
    expired = doc("oscar", ocean_connect__login__expires="2020-01-01")
    expired["clinic"]["id"] = "expired-clinic"
    write_clinic(expired, "expired.yaml")
    validate = run("validate", str(setup.parent))
    assert validate.exit_code == 1 and "2020-01-01 is in the past" in validate.output
    plan = run("plan", str(setup.parent), "--format", "json")
    assert plan.exit_code == 1, plan.output
    statuses = {c["id"]: c["status"] for c in json.loads(plan.stdout)["clinics"]}
    assert statuses == {"expired-clinic": "error", "riverside-fht": "changes"}
