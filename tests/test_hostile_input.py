"""What a hostile or careless user tries, end to end through the CLI (issue 8).

Each class of defect has the issue's example and cases of its own: secrets with invisible
characters, secrets leaking through database URLs or through another clinic's masking, one
clinic's failure taking down the run, invisible characters in names, hints that do not show
what the user wrote, wrong file counts, and --debug changing exit codes.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.emr.oscar.simulator import Scenario
from reconciler.emr.oscar.sql import OscarSqlAdapter
from tests.cli_fixtures import (  # noqa: F401 - make_db_fixture, run_fixture: fixtures
    MakeDB,
    Run,
    clinic,
    make_db_fixture,
    primary_rows,
    run_fixture,
    security_row,
    statuses,
)
from tests.conftest import OC_PASSWORD, OscarDB, WriteClinic, doc

# --- secrets: invisible characters change a password ----------------------------------------


def test_a_bom_and_newline_in_a_secret_file_are_not_part_of_the_password(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_db("bom", Scenario.IN_SYNC)
    path = clinic(write_clinic, monkeypatch, "bom-clinic", db.url)
    data = yaml.safe_load(path.read_text())
    data["ocean_connect"]["login"]["password"] = {"file": "pw.txt"}
    path.write_text(yaml.safe_dump(data))
    secret = path.parent / "pw.txt"
    for raw in (b"\xef\xbb\xbf%s\r\n", b"\xef\xbb\xbf%s", b"%s\n"):
        secret.write_bytes(raw % OC_PASSWORD.encode())
        assert run("validate", str(path)).exit_code == 0
        plan = run("plan", str(path), "--detailed-exitcode")
        assert plan.exit_code == 0 and "in sync" in plan.output  # the stored password verifies
    secret.write_bytes(b"Another-Password-1\n")  # the control: a different password is a change
    plan = run("plan", str(path), "--detailed-exitcode")
    assert plan.exit_code == 2 and "password: (sensitive) -> (sensitive)" in plan.output


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("Corr3ct-Horse\u200b-Battery\n", "U+200B (ZERO WIDTH SPACE)"),
        ("Corr3ct-Horse-Battery\n\n", "U+000A (LINE FEED)"),
        ("Corr3ct-Horse-Battery\ufeff\n", "U+FEFF"),
        ("Corr3ct-Horse-Battery \n", "ends with white space"),
        ("Corr3ct\x00Horse\n", "U+0000 (NUL)"),
    ],
)
def test_an_invisible_character_in_a_secret_file_is_a_located_error(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    named: str,
) -> None:
    db = make_db("zw")
    path = clinic(write_clinic, monkeypatch, "zw-clinic", db.url)
    (path.parent / "pw.txt").write_text(content, encoding="utf-8", newline="")
    data = yaml.safe_load(path.read_text())
    data["ocean_connect"]["login"]["password"] = {"file": "pw.txt"}
    path.write_text(yaml.safe_dump(data))
    before = security_row(db)
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = run(*command, str(path))
        assert result.exit_code == 1, result.output
        assert "ocean_connect.login.password: secret file" in result.output
        assert "pw.txt" in result.output and named in result.output
        assert "Horse" not in result.output and "Traceback" not in result.output
    assert security_row(db) == before


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (OC_PASSWORD + "\n", "U+000A (LINE FEED)"),
        ("\ufeff" + OC_PASSWORD, "U+FEFF"),
        (OC_PASSWORD + "\u2060", "U+2060 (WORD JOINER)"),
        (" " + OC_PASSWORD, "starts with white space"),
    ],
)
def test_an_invisible_character_in_an_environment_secret_is_an_error(
    run: Run, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch, value: str, named: str
) -> None:
    path = clinic(write_clinic, monkeypatch, "env-clinic", "sqlite:///nowhere.db")
    monkeypatch.setenv("T_OC_PASSWORD", value)
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert "environment variable T_OC_PASSWORD" in result.output and named in result.output
    assert OC_PASSWORD not in result.output


@pytest.mark.parametrize("pin", ["\U0001f30a12", "12\u00e934", "\u0661\u0662\u0663\u0664"])
def test_a_pin_the_database_could_only_echo_as_raw_bytes_is_refused_by_its_reference(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch, pin: str
) -> None:
    """The issue's PIN with an emoji showed up as '\\xF0\\x9F\\x8C\\x8A12' in a database error."""
    db = make_db("emoji")
    path = clinic(write_clinic, monkeypatch, "emoji-clinic", db.url)
    monkeypatch.setenv("T_OC_PIN", pin)
    before = security_row(db)
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = run(*command, str(path))
        assert result.exit_code in (1, 3), result.output
        assert "ocean_connect.login.pin" in result.output and "digits only" in result.output
        assert pin not in result.output and "\\x" not in result.output.lower()
    assert security_row(db) == before


# --- secrets: a database URL is a secret as a whole -----------------------------------------


BAD_URLS = [
    "mysql+pymysql://u:dbPW@leak-42@db.example.org/oscar",  # an unencoded '@' in the password
    "mysql+pymysql://u:dbPW@leak-42@db.example.org:notaport/oscar",
    "mysql+pymysql://u:dbPW-leak-42@db.example.org:notaport/oscar",
    "mysql+pymysql://u:dbPW-leak-42@db.example.org/oscar?charset=x",
    "mysql+pymysql://u:dbPW-leak-42@db.example.org/oscar?foo=1",
    "mysql+pymysql://u:dbPW:leak-42@[::1/oscar",
    "postgresql://u:dbPW-leak-42@db.example.org/oscar",
    "dbPW-leak-42",  # not a URL at all
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_database_url_is_that_clinics_error_and_never_printed(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    url: str,
) -> None:
    good = clinic(write_clinic, monkeypatch, "a-good", make_db("good").url)
    clinic(write_clinic, monkeypatch, "b-bad-url", url)
    planfile = tmp_path / "plan.json"
    for debug in ([], ["--debug"]):
        result = run(*debug, "plan", str(good.parent), "--format", "json", "--out", str(planfile))
        assert result.exit_code == 1, result.output  # that clinic's input; the other planned
        status = statuses(result.stdout)
        assert status["a-good"] == ("changes", None)  # the other clinic is still planned
        kind, error = status["b-bad-url"]
        assert kind == "error" and error and "database.url {env: T_URL_B_BAD_URL}" in error
        assert "internal error" not in error
        for text in (result.stdout, result.stderr, planfile.read_text()):
            assert "dbPW" not in text and "leak-42" not in text


def test_an_ambiguous_host_is_not_named_and_the_hint_says_percent_encode(
    run: Run, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clinic(write_clinic, monkeypatch, "at-clinic", BAD_URLS[0])
    result = run("plan", str(path))
    assert result.exit_code == 1
    assert "percent-encode" in result.output and "%40" in result.output
    assert "db.example.org" not in result.output  # which part is the host is not certain


# --- secrets: one clinic's secret never masks another clinic's message ---------------------


def test_a_clinics_pin_is_not_masked_in_another_clinics_message(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clinic A's PIN is 100101; clinic B's provider number 100101 belongs to Tremblay, Luc."""
    monkeypatch.setenv("T_PIN_A", "100101")
    a = clinic(write_clinic, monkeypatch, "a-clinic", make_db("a").url)
    data = yaml.safe_load(a.read_text())
    data["ocean_connect"]["login"]["pin"] = {"env": "T_PIN_A"}
    a.write_text(yaml.safe_dump(data))
    clinic(
        write_clinic,
        monkeypatch,
        "b-clinic",
        make_db("b").url,
        ocean_connect__provider={"number": "100101", "last_name": "Connect", "first_name": "Ocean"},
    )
    for fmt in ("json", "text", "markdown"):
        result = run("plan", str(a.parent), "--format", fmt)
        assert result.exit_code == 3
        assert "provider number 100101 belongs to 'Tremblay, Luc'" in result.output
        assert "(sensitive)" not in result.output.split("b-clinic", 1)[1].split("\n\n")[0]
    error = statuses(run("plan", str(a.parent), "--format", "json").stdout)["b-clinic"][1]
    assert error is not None and "(sensitive)" not in error


# --- one clinic's failure is that clinic's error --------------------------------------------


@pytest.fixture
def two_clinics(
    make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, OscarDB, OscarDB]:
    a, b = make_db("first"), make_db("second")
    clinic(write_clinic, monkeypatch, "a-first", a.url)
    path = clinic(write_clinic, monkeypatch, "b-second", b.url)
    return path.parent, a, b


def test_an_unexpected_exception_while_reading_is_that_clinics_error(
    run: Run, two_clinics: tuple[Path, OscarDB, OscarDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _, _ = two_clinics
    original = OscarSqlAdapter.read

    def read(self: OscarSqlAdapter, clinic: Any) -> Any:
        if clinic.id == "a-first":
            raise ValueError(f"parser choked on {OC_PASSWORD}")
        return original(self, clinic)

    monkeypatch.setattr(OscarSqlAdapter, "read", read)
    plain = run("plan", str(folder), "--format", "json")
    assert plain.exit_code == 3
    status = statuses(plain.stdout)
    assert status["b-second"] == ("changes", None)
    assert status["a-first"][0] == "error"
    assert "the oscar-sql adapter failed while reading: internal error (ValueError at " in str(
        status["a-first"][1]
    )
    debug = run("--debug", "plan", str(folder), "--format", "json")
    assert debug.exit_code == 3 and statuses(debug.stdout) == status
    assert (
        "Traceback" in debug.stderr and "ValueError: parser choked on (sensitive)" in debug.stderr
    )
    for text in (plain.output, debug.output):
        assert OC_PASSWORD not in text


def test_an_unexpected_exception_while_applying_is_verified_and_the_others_go_on(
    run: Run, two_clinics: tuple[Path, OscarDB, OscarDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, a, b = two_clinics
    original = OscarSqlAdapter.apply

    def apply(self: OscarSqlAdapter, clinic: Any, changes: Any) -> None:
        if clinic.id == "a-first":
            raise KeyError("no such column")
        original(self, clinic, changes)

    monkeypatch.setattr(OscarSqlAdapter, "apply", apply)
    result = run("apply", str(folder), "--auto-approve")
    assert result.exit_code == 3, result.output
    assert "failed        oscar.primary_role[999990]  (live state re-read: not converged)" in (
        result.output
    )
    assert "internal error (KeyError at test_hostile_input.py:" in result.output
    assert "Apply: 1 of 2 clinics done." in result.output
    assert (primary_rows(a), primary_rows(b)) == (0, 1)


def test_a_clinic_another_run_holds_is_refused_with_exit_4(
    run: Run, two_clinics: tuple[Path, OscarDB, OscarDB], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, a, b = two_clinics
    monkeypatch.setenv("T_URL_A_FIRST", a.url + "?timeout=0.2")
    holder = sqlite3.connect(a.url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another apply is writing clinic a-first
        plan = run("plan", str(folder), "--format", "json")
        assert plan.exit_code == 4
        assert statuses(plan.stdout)["b-second"] == ("changes", None)
        assert "locked" in str(statuses(plan.stdout)["a-first"][1])
        apply = run("apply", str(folder), "--auto-approve")
        assert apply.exit_code == 4, apply.output
        assert "Apply: 1 of 2 clinics done." in apply.output
        only = run("apply", str(folder), "--auto-approve", "--clinic", "a-first")
        assert only.exit_code == 4 and "Nothing to apply." in only.output
    finally:
        holder.rollback()
        holder.close()
    assert primary_rows(b) == 1 and primary_rows(a) == 0


# --- names: invisible characters are a located validation error -----------------------------


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"ocean_connect__login__username": "Ocean\x00Connect"}, "login.username", "U+0000"),
        ({"ocean_connect__login__username": "Ocean\u200bConnect"}, "login.username", "U+200B"),
        (
            {
                "ocean_connect__provider": {
                    "number": "999990",
                    "last_name": "Conn\u202eect",
                    "first_name": "Ocean",
                }
            },
            "provider.last_name",
            "U+202E (RIGHT-TO-LEFT OVERRIDE)",
        ),
        (
            {
                "ocean_connect__provider": {
                    "number": "999990",
                    "last_name": "Connect",
                    "first_name": "Oce\x1b[2Jan",
                }
            },
            "provider.first_name",
            "U+001B (ESCAPE)",
        ),
        ({"clinic__name": "Riverside\tFHT"}, "clinic.name", "U+0009 (TAB)"),
        ({"clinic__name": "Riverside\u2028FHT"}, "clinic.name", "U+2028 (LINE SEPARATOR)"),
        (
            {
                "ocean_connect__roles": ["doc\u00adtor"],
                "ocean_connect__primary_role": "doc\u00adtor",
            },
            "roles[0]",
            "U+00AD (SOFT HYPHEN)",
        ),
    ],
)
def test_invisible_characters_in_names_are_located_errors(
    run: Run, write_clinic: WriteClinic, changes: dict[str, Any], field: str, named: str
) -> None:
    path = write_clinic(doc("oscar", **changes))
    result = run("validate", str(path))
    assert result.exit_code == 1
    line = next(ln for ln in result.output.splitlines() if named in ln)
    assert re.match(
        rf"{re.escape(str(path))}:\d+:\d+: \S*{re.escape(field)}: contains the "
        rf"invisible character {re.escape(named)}",
        line,
    ), line
    assert not any(ch in result.output for ch in "\x00\u200b\u202e\x1b\t\u2028\u00ad")
    assert run("plan", str(path)).exit_code == 1


def test_invisible_characters_in_keys_and_database_values_are_printed_escaped(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = doc("oscar")
    data["clinic"]["na\u200bme"] = "x"
    result = run("validate", str(write_clinic(data, "key.yaml")))
    assert result.exit_code == 1
    assert "unknown field 'na\\u200bme'" in result.output and "\u200b" not in result.output
    db = make_db("esc")
    db.execute("UPDATE provider SET last_name = 'Evil\x1b[2J\u202e' WHERE provider_no = '999990'")
    path = clinic(write_clinic, monkeypatch, "esc-clinic", db.url)
    for fmt in ("text", "json", "markdown"):
        out = run("plan", str(path), "--format", fmt).output
        assert "\x1b" not in out and "\u202e" not in out
        assert "Evil\\u001b[2J\\u202e" in out


# --- formats: hints show what the user wrote; counts count every file ----------------------


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("012345", 'quote it: "012345"'),  # YAML 1.1 octal, read as 5349
        ("0x1F", 'quote it: "0x1F"'),
        ("1_000", 'quote it: "1_000"'),
        ("99999.0", 'quote it: "99999.0"'),
        ("+12345", 'quote it: "+12345"'),
    ],
)
def test_the_quote_hint_shows_what_the_user_wrote(
    run: Run, write_clinic: WriteClinic, written: str, hint: str
) -> None:
    text = yaml.safe_dump(doc("oscar"), sort_keys=False).replace(
        "number: '999990'", f"number: {written}"
    )
    result = run("validate", str(write_clinic(text)))
    assert result.exit_code == 1
    assert "ocean_connect.provider.number: must be a string, not a" in result.output
    assert hint in result.output


def test_a_name_yaml_reads_as_a_boolean_gets_the_hint_too(
    run: Run, write_clinic: WriteClinic
) -> None:
    text = yaml.safe_dump(doc("oscar"), sort_keys=False).replace(
        "last_name: Connect", "last_name: No"
    )
    result = run("validate", str(write_clinic(text)))
    assert 'must be a string, not true or false (quote it: "No")' in result.output


def test_an_enum_shows_the_value_as_written(run: Run, write_clinic: WriteClinic) -> None:
    text = yaml.safe_dump(doc("oscar"), sort_keys=False).replace(
        "edition: open-source", "edition: 010"
    )
    result = run("validate", str(write_clinic(text)))
    assert "unknown value '010'" in result.output


@pytest.mark.parametrize("command", [["validate"], ["plan"], ["apply", "--auto-approve"]])
def test_every_file_is_counted_when_one_is_bad(
    run: Run, write_clinic: WriteClinic, command: list[str]
) -> None:
    write_clinic(doc("oscar", clinic__id="one"), "one.yaml")
    write_clinic(doc("oscar", clinic__id="two"), "two.yaml")
    path = write_clinic("version: [1\n", "three.yaml")
    result = run(*command, str(path.parent))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "3 files checked: 1 error, 0 warnings"


# --- --debug changes no exit code -----------------------------------------------------------


def test_debug_changes_no_exit_code(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    db = make_db("dbg")
    db.execute(
        "INSERT INTO secUserRole (provider_no, role_name, orgcd, activeyn, lastUpdateDate) "
        "VALUES ('999990', 'admin', 'R0000001', 1, '2026-01-01 00:00:00')"
    )
    good = clinic(write_clinic, monkeypatch, "dbg-clinic", db.url)
    bad = write_clinic("version: 2\n", "bad/bad.yaml")
    unreachable = write_clinic(doc("oscar", clinic__id="far"), "far/far.yaml")
    monkeypatch.setenv("T_OSCAR_DB_URL", "mysql+pymysql://u:Far-Pw-77@127.0.0.1:9/oscar")
    planfile = tmp_path / "p.json"
    assert run("plan", str(good), "--out", str(planfile)).exit_code == 0
    db.execute("UPDATE security SET b_RemoteLockSet = 0 WHERE user_name = 'OceanConnect'")
    cases = {
        1: ["validate", str(bad)],
        3: ["plan", str(unreachable)],
        4: ["apply", str(good), "--auto-approve"],  # revoking admin needs --allow
    }
    cases_4_stale = ["apply", str(good), "--plan", str(planfile)]
    for code, args in [*cases.items(), (4, cases_4_stale), (1, ["plan", "--nope"])]:
        plain, debug = run(*args), run("--debug", *args)
        assert plain.exit_code == debug.exit_code == code, (args, plain.output, debug.output)
        assert "Far-Pw-77" not in plain.output + debug.output
