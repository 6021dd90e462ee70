"""OSCAR's checks at validate: a PIN or password OSCAR would refuse is a located error wherever
its value can be read, named by its reference, never by its value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reconciler.config import load_clinics
from reconciler.diagnostics import Severity
from tests.conftest import WriteClinic, doc

TODAY = date(2026, 11, 23)


def problems(path: Path) -> list[tuple[str, str, Severity]]:
    result = load_clinics([path], TODAY)
    return [(d.field, d.message, d.severity) for d in result.diagnostics]


@pytest.mark.parametrize(
    ("pin", "rule"),
    [("12", "4 to 6 digits"), ("12345678", "4 to 6 digits"), ("12a4", "digits only")],
)
def test_a_pin_oscar_refuses_is_an_error_at_validate_when_it_can_be_read(
    write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch, pin: str, rule: str
) -> None:
    path = write_clinic(doc("oscar"))
    monkeypatch.delenv("T_OC_PIN", raising=False)
    assert problems(path) == []  # not readable here: plan checks it again
    monkeypatch.setenv("T_OC_PIN", pin)
    ((field, message, severity),) = problems(path)
    assert field == "ocean_connect.login.pin" and rule in message and severity is Severity.ERROR
    assert pin not in message


def test_a_pin_in_a_file_is_checked_too(write_clinic: WriteClinic) -> None:
    data = doc("oscar")
    data["ocean_connect"]["login"]["pin"] = {"file": "pin.txt"}
    path = write_clinic(data)
    (path.parent / "pin.txt").write_text("123\n", encoding="utf-8")
    ((field, message, _),) = problems(path)
    assert field == "ocean_connect.login.pin" and "4 to 6 digits" in message


def test_passwords_oscar_cannot_take(
    write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_clinic(doc("oscar"))
    monkeypatch.setenv("T_OC_PASSWORD", "two words")
    ((field, message, severity),) = problems(path)
    assert field == "ocean_connect.login.password" and "backspaces" in message
    assert severity is Severity.ERROR and "two words" not in message
    monkeypatch.setenv("T_OC_PASSWORD", "x" * 73)
    ((field, message, severity),) = problems(path)
    assert severity is Severity.WARNING and "Open-O" in message and "72 bytes" in message


def test_a_past_expiry_says_what_each_oscar_does(write_clinic: WriteClinic) -> None:
    data = doc("oscar")
    data["ocean_connect"]["login"]["expires"] = "2025-01-01"
    ((field, message, _),) = problems(write_clinic(data))
    assert field == "ocean_connect.login.expires"
    assert "refuse the login" in message and "OSCAR 15+ warns" in message


def test_update_user_is_a_provider_number(write_clinic: WriteClinic) -> None:
    data = doc("oscar")
    data["emr"]["database"]["update_user"] = "not a provider"
    ((field, _message, _),) = problems(write_clinic(data))
    assert field == "emr.database.update_user"
    data["emr"]["database"]["update_user"] = "-1"
    assert problems(write_clinic(data)) == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql+pymysql://u:dbPW@leak-42@db.example.org/oscar", "more than one '@'"),
        ("mysql+pymysql://u:pw-Zq9@db.example.org:notaport/oscar", "port is a number"),
        ("mysql+pymysql://u:pw-Zq9@db.example.org/oscar?charset=x", "unknown charset"),
        ("mysql+pymysql://u:pw-Zq9@db.example.org/oscar?foo=1", "unknown query parameter"),
    ],
)
def test_a_database_url_that_cannot_work_is_told_at_validate(
    write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch, url: str, says: str
) -> None:
    path = write_clinic(doc("oscar"))
    monkeypatch.setenv("T_OSCAR_DB_URL", url)
    ((field, message, severity),) = problems(path)
    assert field == "emr.database.url" and says in message and severity is Severity.ERROR
    assert "pw-Zq9" not in message and "leak-42" not in message and "dbPW" not in message
    monkeypatch.setenv("T_OSCAR_DB_URL", "sqlite:///not/created/yet.db")  # fine before seeding
    assert problems(path) == []
