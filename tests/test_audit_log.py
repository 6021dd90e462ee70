"""The audit log tells the truth: attempt and verification per line, the file as planned,
and a log that cannot be written stops apply (exit 3) saying exactly what was written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import audit as audit_module
from reconciler.audit import AuditLog
from tests.cli_fixtures import (  # noqa: F401 - make_db_fixture, run_fixture: fixtures
    MakeDB,
    Run,
    clinic,
    make_db_fixture,
    primary_rows,
    run_fixture,
)
from tests.conftest import OC_PASSWORD, OC_PIN, OscarDB, WriteClinic


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def reseed(db: OscarDB) -> None:
    db.execute("DELETE FROM program_provider WHERE provider_no = '999990'")


def test_a_line_says_what_was_attempted_and_what_verification_found(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = clinic(write_clinic, monkeypatch, "riverside-fht", make_db("ok").url)
    result = run("apply", str(path), "--auto-approve")
    assert result.exit_code == 0, result.output
    audit = lines(tmp_path / "audit.jsonl")
    assert [(a["address"], a["attempt"], a["verified"], a["result"]) for a in audit] == [
        ("oscar.primary_role[999990]", "applied", "converged", "applied"),
        ("oscar.login[OceanConnect]", "applied", "converged", "applied"),
    ]
    first = audit[0]
    assert first["file"] == str(path) and first["clinic"] == "riverside-fht"
    assert first["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(first["plan_id"]) == 16 and len(first["run"]) == 12
    assert first["detail"] is None and first["user"]
    assert first["config_commit"] is None and first["dirty"] is None  # not in a git work tree


def test_a_change_that_did_not_stick_is_logged_as_failed(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    db = make_db("ignored")
    db.execute(  # the database silently drops the insert: apply "succeeds", nothing sticks
        "CREATE TRIGGER swallow BEFORE INSERT ON program_provider BEGIN SELECT RAISE(IGNORE); END"
    )
    path = clinic(write_clinic, monkeypatch, "riverside-fht", db.url)
    result = run("apply", str(path), "--auto-approve")
    assert result.exit_code == 3, result.output
    assert "did not converge: oscar.primary_role[999990]" in result.output
    by_address = {a["address"]: a for a in lines(tmp_path / "audit.jsonl")}
    primary = by_address["oscar.primary_role[999990]"]
    assert (primary["attempt"], primary["verified"], primary["result"]) == (
        "applied",
        "not converged",
        "failed",
    )
    assert primary["detail"] == "reported applied but did not stick"
    assert by_address["oscar.login[OceanConnect]"]["result"] == "applied"


def test_a_change_the_adapter_failed_is_logged_with_the_live_state_found(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    db = make_db("abort")
    db.execute(
        "CREATE TRIGGER boom BEFORE UPDATE ON security "
        "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
    )
    path = clinic(write_clinic, monkeypatch, "riverside-fht", db.url)
    result = run("apply", str(path), "--auto-approve")
    assert result.exit_code == 3
    audit = lines(tmp_path / "audit.jsonl")
    assert {(a["attempt"], a["verified"], a["result"]) for a in audit} == {
        ("failed", "not converged", "failed")
    }
    assert all(a["detail"] for a in audit)
    assert primary_rows(db) == 0


@pytest.fixture
def three(
    make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[OscarDB]]:
    dbs = [make_db(name) for name in ("one", "two", "three")]
    for name, db in zip(("a-one", "b-two", "c-three"), dbs, strict=True):
        path = clinic(write_clinic, monkeypatch, name, db.url)
    return path.parent, dbs


def test_an_unwritable_log_stops_apply_and_says_what_was_written(
    run: Run, three: tuple[Path, list[OscarDB]]
) -> None:
    folder, dbs = three
    result = run(
        "apply", str(folder), "--auto-approve", "--audit-log", "/dev/full", "--parallelism", "1"
    )
    assert result.exit_code == 3, result.output
    assert (
        "error: cannot write the audit log /dev/full (No space left on device), which holds "
        "every earlier line whole and none of these: the results of a-one are not in it; apply "
        "stopped there: no further clinic was started"
    ) in result.stderr
    assert "Written to the EMR in this run:\n" in result.stdout
    assert (
        "  a-one  oscar.primary_role[999990]  (applied; live state: converged)\n"
        "  a-one  oscar.login[OceanConnect]  (applied; live state: converged)\n"
    ) in result.stdout
    assert "b-two  oscar" not in result.stdout.split("Written to the EMR")[1]
    assert "not attempted" in result.stdout and "Apply: 1 of 3 clinics done." in result.stdout
    assert [primary_rows(db) for db in dbs] == [1, 0, 0]
    assert "internal error" not in result.output and "invalid" not in result.output


def test_the_log_says_when_the_clinic_file_differs_from_the_commit(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    db = make_db("git")
    path = clinic(write_clinic, monkeypatch, "riverside-fht", db.url)
    repo = path.parent
    git(repo, "init", "-q")
    untracked = run("apply", str(path), "--auto-approve")
    assert untracked.exit_code == 0, untracked.output
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "clinic")
    head = git(repo, "rev-parse", "HEAD")

    reseed(db)
    r = run("apply", str(path), "--auto-approve")
    assert r.exit_code == 0, r.output
    data = yaml.safe_load(path.read_text())
    data["clinic"]["name"] = "Riverside, edited but not committed"
    path.write_text(yaml.safe_dump(data))
    reseed(db)
    assert run("apply", str(path), "--auto-approve").exit_code == 0
    git(repo, "add", ".")  # staged is not committed either
    reseed(db)
    assert run("apply", str(path), "--auto-approve").exit_code == 0

    runs: dict[str, dict[str, Any]] = {}
    for line in lines(tmp_path / "audit.jsonl"):
        runs.setdefault(line["run"], line)
    untracked_line, clean, edited, staged = runs.values()
    assert (untracked_line["config_commit"], untracked_line["dirty"]) == (None, True)
    assert (clean["config_commit"], clean["dirty"]) == (head, False)
    assert (edited["config_commit"], edited["dirty"]) == (head, True)
    assert (staged["config_commit"], staged["dirty"]) == (head, True)
    assert clean["file_sha256"] != edited["file_sha256"] == staged["file_sha256"]
    assert edited["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_ignored_clinic_file_is_dirty(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = clinic(write_clinic, monkeypatch, "riverside-fht", make_db("ign").url)
    git(path.parent, "init", "-q")
    (path.parent / ".gitignore").write_text("riverside-fht.yaml\n")
    git(path.parent, "add", ".gitignore")
    git(path.parent, "commit", "-q", "-m", "ignore it")
    assert run("apply", str(path), "--auto-approve").exit_code == 0
    (line, *_) = lines(tmp_path / "audit.jsonl")
    assert line["dirty"] is True and line["config_commit"] is not None


# --- nothing after a commit leaves a clinic unrecorded ------------------------------------


def test_a_file_name_that_is_not_utf8_next_to_the_clinic_does_not_stop_the_log(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    db = make_db("latin1")
    path = clinic(write_clinic, monkeypatch, "riverside-fht", db.url)
    git(path.parent, "init", "-q")
    git(path.parent, "add", ".")
    git(path.parent, "commit", "-q", "-m", "clinic")
    (path.parent / os.fsdecode(b"notes-\xe9t\xe9.txt")).write_text("x")
    result = run("apply", str(path), "--auto-approve")
    assert result.exit_code == 0, result.output
    audit = lines(tmp_path / "audit.jsonl")
    assert len(audit) == 2 and {(a["result"], a["dirty"]) for a in audit} == {("applied", False)}
    assert primary_rows(db) == 1


def test_an_unexpected_failure_while_logging_stops_apply_and_says_what_was_written(
    run: Run, three: tuple[Path, list[OscarDB]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, dbs = three

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the audit log")

    monkeypatch.setattr(AuditLog, "entries", broken)
    result = run("apply", str(folder), "--auto-approve", "--parallelism", "1")
    assert result.exit_code == 3, result.output
    assert "the audit log failed for a-one: internal error (RuntimeError" in result.stderr
    assert "  a-one  oscar.login[OceanConnect]  (applied; live state: converged)" in result.stdout
    assert [primary_rows(db) for db in dbs] == [1, 0, 0]


def test_git_failing_leaves_dirty_unknown_not_the_clinic_unrecorded(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = clinic(write_clinic, monkeypatch, "riverside-fht", make_db("nogit").url)

    def no_git(*args: object, **kwargs: object) -> None:
        raise UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")

    monkeypatch.setattr(audit_module.subprocess, "run", no_git)
    assert run("apply", str(path), "--auto-approve").exit_code == 0
    audit = lines(tmp_path / "audit.jsonl")
    assert len(audit) == 2 and all(a["dirty"] is None for a in audit)


# --- a full disk never leaves part of a line --------------------------------------------------


def test_a_full_disk_mid_line_leaves_the_log_as_it_was_and_the_next_run_whole(
    run: Run, three: tuple[Path, list[OscarDB]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder, dbs = three
    log = tmp_path / "audit.jsonl"
    log.write_text('{"earlier": "run"}\n')
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 100:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit_module.os, "write", half_then_full)
    result = run("apply", str(folder), "--auto-approve", "--parallelism", "1")
    assert result.exit_code == 3, result.output
    assert (
        "(No space left on device), which holds every earlier line whole and none of these: "
        "the results of a-one are not in it; apply stopped there"
    ) in result.stderr
    assert log.read_text() == '{"earlier": "run"}\n'
    assert [primary_rows(db) for db in dbs] == [1, 0, 0]

    monkeypatch.undo()
    log.write_text('{"earlier": "run"}\n{"cut": "by a crash')  # an older tool's cut line
    for db in dbs:
        reseed(db)
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(log))
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
    monkeypatch.setenv("T_OC_PIN", OC_PIN)
    for name, db in zip(("a-one", "b-two", "c-three"), dbs, strict=True):
        monkeypatch.setenv("T_URL_" + name.upper().replace("-", "_"), db.url)
    assert run("apply", str(folder), "--auto-approve").exit_code == 0
    text = log.read_text().splitlines()
    assert text[:2] == ['{"earlier": "run"}', '{"cut": "by a crash']
    assert [json.loads(line)["result"] for line in text[2:]] == ["applied"] * 5


# --- dirty is the file's bytes against the commit, not git's flags ----------------------------


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_file_git_is_told_to_ignore_changes_to_is_still_dirty_when_edited(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    flag: str,
) -> None:
    db = make_db("flag")
    path = clinic(write_clinic, monkeypatch, "riverside-fht", db.url)
    git(path.parent, "init", "-q")
    git(path.parent, "add", ".")
    git(path.parent, "commit", "-q", "-m", "clinic")
    git(path.parent, "update-index", flag, path.name)
    assert run("apply", str(path), "--auto-approve").exit_code == 0  # unedited: clean
    data = yaml.safe_load(path.read_text())
    data["clinic"]["name"] = "Riverside, edited under " + flag
    path.write_text(yaml.safe_dump(data))
    assert git(path.parent, "status", "--porcelain") == ""  # git itself says nothing
    reseed(db)
    assert run("apply", str(path), "--auto-approve").exit_code == 0
    clean, *_, edited = lines(tmp_path / "audit.jsonl")
    assert clean["dirty"] is False and edited["dirty"] is True


def test_a_clinic_file_linked_from_outside_its_repository_is_dirty_unknown(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = clinic(write_clinic, monkeypatch, "riverside-fht", make_db("link").url)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "riverside-fht.yaml").symlink_to(path)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "a link to a file outside")
    assert run("apply", str(repo), "--auto-approve").exit_code == 0
    assert {a["dirty"] for a in lines(tmp_path / "audit.jsonl")} == {None}
