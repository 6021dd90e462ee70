"""`reconcile report` end to end: from live reads (an OSCAR database in SQLite, a clinic that
cannot be read) and from saved plans; where it writes, what it refuses, that a report is
replaced whole or not at all, and that no secret reaches it."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario
from reconciler.exitcodes import ExitCode
from reconciler.report.write import MARKER
from tests.conftest import OC_PASSWORD, OC_PIN, OSCAR_DOC, OscarDB, _make_db

Run = Callable[..., Result]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OscarDB]:
    for made in _make_db("sqlite", Lineage.PBKDF2, tmp_path):
        made.seed(Scenario.DRIFT)
        monkeypatch.setenv("T_OSCAR_DB_URL", made.url)
        monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD)
        monkeypatch.setenv("T_OC_PIN", OC_PIN)
        monkeypatch.setenv("T_BROKEN_DB_URL", "mysql+pymysql://oc:Br0ken-Pw-77@127.0.0.1:1/oscar")
        yield made


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def clinic_file(folder: Path, cid: str, url_var: str = "T_OSCAR_DB_URL") -> Path:
    data: dict[str, Any] = copy.deepcopy(OSCAR_DOC)
    data["clinic"] = {"id": cid, "name": f"Clinic {cid}"}
    data["emr"]["database"]["url"] = {"env": url_var}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cid}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def body(html: str) -> str:
    """A page without its footer (which says when and from what it was written)."""
    return re.sub(r"<footer>.*</footer>", "", html, flags=re.DOTALL)


def test_a_report_from_live_reads(run: Run, db: OscarDB, tmp_path: Path) -> None:
    clinics = tmp_path / "clinics"
    clinic_file(clinics, "riverside-fht")
    out = tmp_path / "site"
    result = run("report", str(clinics), "--out", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    assert "Report of 1 clinic(s) (1 with changes) written to" in result.output
    assert f"Open {(out / 'index.html').absolute().as_uri()}" in result.output
    assert sorted(p.name for p in out.rglob("*")) == [
        MARKER,
        "clinics",
        "index.html",
        "riverside-fht.html",
    ]
    page = (out / "clinics" / "riverside-fht.html").read_text("utf-8")
    assert '<td class="v">yes</td><td data-state="different">' in page  # Pin(local) drifted
    assert "What <code>reconcile apply</code> changes" in page
    index = (out / "index.html").read_text("utf-8")
    assert 'href="clinics/riverside-fht.html"' in index


def test_a_clinic_that_cannot_be_read_is_an_error_in_the_report_and_exit_3(
    run: Run, db: OscarDB, tmp_path: Path
) -> None:
    clinics = tmp_path / "clinics"
    clinic_file(clinics, "riverside-fht")
    clinic_file(clinics, "unreachable", url_var="T_BROKEN_DB_URL")
    out = tmp_path / "site"
    result = run("report", str(clinics), "--out", str(out), "--attempts", "1")
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    assert "1 could not be read, 1 with changes" in result.output
    page = (out / "clinics" / "unreachable.html").read_text("utf-8")
    assert '<div class="errorbox" role="alert">' in page
    index = (out / "index.html").read_text("utf-8")
    assert '<tr class="e1" data-status="error" data-emr="oscar">' in index
    for path in out.rglob("*.html"):
        text = path.read_text("utf-8")
        assert "Br0ken-Pw-77" not in text and OC_PASSWORD not in text and OC_PIN not in text
        assert db.url not in text


def test_a_report_from_saved_plans_reads_no_emr_and_shows_the_last_apply(
    run: Run, db: OscarDB, tmp_path: Path
) -> None:
    clinics = tmp_path / "clinics"
    clinic_file(clinics, "riverside-fht")
    live, saved = tmp_path / "live", tmp_path / "saved"
    plan = tmp_path / "plan.json"
    assert run("plan", str(clinics), "--out", str(plan)).exit_code == ExitCode.OK
    assert run("report", str(clinics), "--out", str(live)).exit_code == ExitCode.OK
    db.execute("DROP TABLE security")  # the EMR is not read again
    result = run("report", "--plan", str(plan), "--out", str(saved))
    assert result.exit_code == ExitCode.OK, result.output
    for name in ("index.html", "clinics/riverside-fht.html"):
        assert body((saved / name).read_text("utf-8")) == body((live / name).read_text("utf-8"))
    footer = (saved / "index.html").read_text("utf-8")
    assert f"from the saved plan {plan}" in footer
    # After an apply, the report says when it was and how it ended.
    (tmp_path / "audit.jsonl").write_text(
        '{"time": "2026-11-01T08:00:00+00:00", "run": "r1", "clinic": "riverside-fht", '
        '"result": "applied"}\n',
        encoding="utf-8",
    )
    assert run("report", "--plan", str(plan), "--out", str(saved)).exit_code == ExitCode.OK
    page = (saved / "clinics" / "riverside-fht.html").read_text("utf-8")
    assert "last apply: 2026-11-01 08:00 UTC (1 applied)" in page


def test_saved_plans_of_shards_make_one_report(run: Run, db: OscarDB, tmp_path: Path) -> None:
    clinics = tmp_path / "clinics"
    for cid in ("a-clinic", "b-clinic", "c-clinic", "d-clinic"):
        clinic_file(clinics, cid)
    parts = []
    for shard in ("1/2", "2/2"):
        part = tmp_path / f"plan-{shard[0]}.json"
        assert run("plan", str(clinics), "--shard", shard, "--out", str(part)).exit_code == 0
        parts += ["--plan", str(part)]
    out = tmp_path / "site"
    result = run("report", *parts, "--out", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    assert len(list((out / "clinics").glob("*.html"))) == 4
    narrowed = run("report", *parts, "--clinic", "b-clinic", "--out", str(out))
    assert narrowed.exit_code == ExitCode.OK, narrowed.output
    assert [p.name for p in (out / "clinics").glob("*.html")] == ["b-clinic.html"]
    unknown = run("report", *parts, "--clinic", "zzz", "--out", str(out))
    assert unknown.exit_code == ExitCode.INVALID and "--clinic zzz" in unknown.output


def test_what_report_refuses(run: Run, db: OscarDB, tmp_path: Path) -> None:
    clinics = tmp_path / "clinics"
    path = clinic_file(clinics, "riverside-fht")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    result = run("report", str(clinics), "--out", str(precious))
    assert result.exit_code == ExitCode.INVALID
    assert "not a report `reconcile report` wrote" in result.output
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]
    result = run("report", str(clinics), "--out", str(path))
    assert result.exit_code == ExitCode.INVALID
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "site")
    result = run("report", str(clinics), "--out", str(link))
    assert result.exit_code == ExitCode.INVALID and "symbolic link" in result.output
    result = run("report", str(clinics), "--plan", str(tmp_path / "p.json"), "--out", "x")
    assert result.exit_code == ExitCode.INVALID and "not both" in result.output
    assert "repeat --plan: --plan a.json --plan b.json" in result.output
    assert run("report", str(clinics)).exit_code == ExitCode.INVALID  # --out is required
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    result = run("report", str(clinics), "--out", str(blocked / "site"))
    assert result.exit_code == ExitCode.INVALID and "cannot use it for the report" in result.output


def test_a_report_is_replaced_whole_or_not_at_all(
    run: Run, db: OscarDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinics = tmp_path / "clinics"
    clinic_file(clinics, "riverside-fht")
    clinic_file(clinics, "old-clinic")
    out = tmp_path / "site"
    assert run("report", str(clinics), "--out", str(out)).exit_code == ExitCode.OK
    (clinics / "old-clinic.yaml").unlink()
    good = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    written = 0
    real = Path.write_text

    def full_disk(self: Path, *args: Any, **kwargs: Any) -> int:
        nonlocal written
        written += 1
        if written == 2:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(Path, "write_text", full_disk)
        result = run("report", str(clinics), "--out", str(out))
    assert result.exit_code == ExitCode.INVALID
    assert "cannot write the report (No space left on device)" in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == good
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []

    assert run("report", str(clinics), "--out", str(out)).exit_code == ExitCode.OK
    assert [p.name for p in (out / "clinics").iterdir()] == ["riverside-fht.html"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []
