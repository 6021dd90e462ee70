"""Ctrl-C and SIGTERM during apply: what was committed is recorded and reported, nothing is
written after the interrupt, and the exit code is 128 + the signal (130, 143)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler import cli as cli_module
from reconciler import engine
from reconciler.audit import AuditLog
from reconciler.emr.oscar.sql import OscarSqlAdapter
from reconciler.engine import ClinicOutcome
from reconciler.fleet import SEQUENTIAL
from reconciler.plan import SafetyRule
from tests.cli_fixtures import (  # noqa: F401 - make_db_fixture, run_fixture: fixtures
    MakeDB,
    Run,
    clinic,
    make_db_fixture,
    primary_rows,
    run_fixture,
)
from tests.conftest import OscarDB, WriteClinic, doc
from tests.test_engine import DRIFT, FakeAdapter, Sink, two


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _two_clinics(
    make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> tuple[OscarDB, OscarDB, Path]:
    a, b = make_db("first"), make_db("second")
    clinic(write_clinic, monkeypatch, "clinic-a", a.url)
    path = clinic(write_clinic, monkeypatch, "clinic-b", b.url)
    return a, b, path.parent


def _signal_once(signum: int, original: Callable[..., Any]) -> Callable[..., Any]:
    sent: list[int] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not sent:
            sent.append(signum)
            os.kill(os.getpid(), signum)
        return original(*args, **kwargs)

    return call


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_after_a_commit_records_and_reports_the_clinic_and_writes_no_other(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    signum: int,
    code: int,
) -> None:
    """The signal comes while the first clinic's live state is re-read (after its commit)."""
    a, b, folder = _two_clinics(make_db, write_clinic, monkeypatch)
    monkeypatch.setattr(engine, "_verify", _signal_once(signum, engine._verify))
    result = run("apply", str(folder), "--auto-approve", "--parallelism", "1")
    assert result.exit_code == code, result.output
    name = signal.Signals(signum).name
    assert f"error: interrupted by {name}; apply stopped there" in result.output
    assert "Written to the EMR in this run:" in result.output
    assert "clinic-a  oscar.primary_role[999990]  (unverified; live state: not verified)" in (
        result.output
    )
    assert primary_rows(a) == 1 and primary_rows(b) == 0  # written, and nothing after it
    audit = lines(tmp_path / "audit.jsonl")
    assert {(x["clinic"], x["attempt"], x["verified"], x["result"]) for x in audit} == {
        ("clinic-a", "applied", "not verified", "unverified")
    }
    assert len(audit) == 2 and all(name in x["detail"] for x in audit)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_an_interrupt_while_writing_rolls_back_is_logged_and_named(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    a, b, folder = _two_clinics(make_db, write_clinic, monkeypatch)
    monkeypatch.setattr(
        OscarSqlAdapter, "apply", _signal_once(signal.SIGINT, OscarSqlAdapter.apply)
    )
    result = run("apply", str(folder), "--auto-approve", "--parallelism", "1")
    assert result.exit_code == 130, result.output
    assert "Interrupted while being written (rolled back unless already committed):" in (
        result.output
    )
    assert "clinic-a  oscar.primary_role[999990]  (plan again to see)" in result.output
    assert primary_rows(a) == 0 and primary_rows(b) == 0
    audit = lines(tmp_path / "audit.jsonl")
    assert {(x["clinic"], x["attempt"], x["verified"]) for x in audit} == {
        ("clinic-a", "failed", "not verified")
    }


def test_an_interrupt_while_the_log_is_written_waits_for_the_lines_then_stops(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    a, b, folder = _two_clinics(make_db, write_clinic, monkeypatch)
    monkeypatch.setattr(AuditLog, "record", _signal_once(signal.SIGTERM, AuditLog.record))
    result = run("apply", str(folder), "--auto-approve", "--parallelism", "1")
    assert result.exit_code == 143, result.output
    assert primary_rows(a) == 1 and primary_rows(b) == 0
    audit = lines(tmp_path / "audit.jsonl")
    assert [(x["clinic"], x["result"]) for x in audit] == [("clinic-a", "applied")] * 2
    assert "clinic-a  oscar.login[OceanConnect]  (applied; live state: converged)" in (
        result.output
    )


def test_ctrl_c_outside_apply_exits_130_not_as_a_usage_error(
    run: Run, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "load_clinics", interrupted)
    result = run("validate", str(write_clinic(doc("oscar"))))
    assert result.exit_code == 130 and "Interrupted." in result.output


def test_a_failure_reporting_a_clinic_stops_apply_after_it_is_recorded() -> None:
    fakes = {cid: FakeAdapter(DRIFT) for cid in ("a-clinic", "b-clinic")}
    clinics, pick = two(fakes)
    sink = Sink(ok=5)

    def broken(outcome: ClinicOutcome) -> None:
        raise UnicodeEncodeError("ascii", "é", 0, 1, "a terminal that takes only ASCII")

    report = engine.apply_plan(
        engine.make_plan(clinics, pick),
        pick,
        [SafetyRule.REVOKE_ROLE],
        sink,
        broken,
        limits=SEQUENTIAL,
    )
    assert report.stopped is not None and "reporting a-clinic failed" in report.stopped
    assert [cid for cid, _ in sink.lines] == ["a-clinic", "a-clinic"]
    assert fakes["a-clinic"].applied and fakes["b-clinic"].applied == []
    assert report.exit_code == 3
