"""Secrets: what a value may hold, and masking that only ever touches text of foreign origin."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from reconciler.errors import SecretError, SecretValueError
from reconciler.secrets import REDACTED, Secret, SecretRef, forms, redact, secret_scope


def test_secret_never_prints_itself() -> None:
    s = Secret("tr0ub4dor&3")
    assert str(s) == REDACTED and "tr0ub4dor" not in repr(s)
    assert f"{s}" == REDACTED and "tr0ub4dor" not in f"{s!r}"
    assert s.reveal() == "tr0ub4dor&3"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_SECRET_X", "value-123")
    assert SecretRef("env", "T_SECRET_X").resolve().reveal() == "value-123"
    monkeypatch.delenv("T_SECRET_X")
    with pytest.raises(SecretError, match="T_SECRET_X is not set"):
        SecretRef("env", "T_SECRET_X").resolve()
    monkeypatch.setenv("T_SECRET_X", "")
    with pytest.raises(SecretValueError, match="is empty"):
        SecretRef("env", "T_SECRET_X").resolve()


def test_file_reference_is_relative_to_the_clinic_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pw").write_text("from-a-file\n")
    ref = SecretRef("file", "secrets/pw", tmp_path)
    assert ref.resolve().reveal() == "from-a-file"
    with pytest.raises(SecretError, match="does not exist") as info:
        SecretRef("file", "nope", tmp_path).resolve()
    assert "from-a-file" not in str(info.value)
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(SecretValueError, match="holds only white space"):
        SecretRef("file", "empty", tmp_path).resolve()
    (tmp_path / "nothing").write_text("\n")
    with pytest.raises(SecretValueError, match="is empty"):
        SecretRef("file", "nothing", tmp_path).resolve()


# --- what a file's bytes become --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"Pw-1234", "Pw-1234"),
        (b"Pw-1234\n", "Pw-1234"),
        (b"Pw-1234\r\n", "Pw-1234"),
        (b"\xef\xbb\xbfPw-1234\n", "Pw-1234"),  # a UTF-8 BOM (Notepad) and one newline
        (b"\xef\xbb\xbfPw-1234\r\n", "Pw-1234"),
        (b"correct horse battery staple\n", "correct horse battery staple"),  # inner spaces
        ("caf\u00e9-\U0001f30a-42\n".encode(), "caf\u00e9-\U0001f30a-42"),
    ],
)
def test_a_leading_bom_and_one_line_ending_are_removed(
    tmp_path: Path, raw: bytes, value: str
) -> None:
    (tmp_path / "s").write_bytes(raw)
    assert SecretRef("file", "s", tmp_path).resolve().reveal() == value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Pw-1234\n\n", r"U\+000A \(LINE FEED\); only one line ending"),
        (b"Pw-1234\r", r"U\+000D \(CARRIAGE RETURN\)"),
        (b"Pw\x001234", r"U\+0000 \(NUL\)"),
        (b"Pw\t1234", r"U\+0009 \(TAB\)"),
        (b"Pw\x1b[31m1234", r"U\+001B \(ESCAPE\)"),
        ("Pw\u200b1234".encode(), r"U\+200B \(ZERO WIDTH SPACE\)"),
        ("Pw-1234\ufeff".encode(), r"U\+FEFF .*removed only at the very start"),
        ("\ufeff\ufeffPw-1234".encode(), r"U\+FEFF"),  # a second BOM is not stripped
        ("Pw\u202e4321".encode(), r"U\+202E \(RIGHT-TO-LEFT OVERRIDE\)"),
        ("Pw\u00ad1234".encode(), r"U\+00AD \(SOFT HYPHEN\)"),
        ("Pw\u20281234".encode(), r"U\+2028 \(LINE SEPARATOR\)"),
        ("Pw\x851234".encode(), r"U\+0085"),  # a C1 control
        (b"Pw-1234 \n", "ends with white space"),
        (b" Pw-1234\n", "starts with white space"),
        ("Pw-1234\u00a0".encode(), r"U\+00A0 \(NO-BREAK SPACE\)"),  # anywhere, not only at an end
        (b"\xff\xfeP\x00w\x00", "not UTF-8 text"),  # UTF-16
        (b"Pw-\xe9", "not UTF-8 text"),  # latin-1
    ],
)
def test_what_a_file_value_may_not_hold(tmp_path: Path, raw: bytes, expected: str) -> None:
    (tmp_path / "s").write_bytes(raw)
    with pytest.raises(SecretValueError, match=expected) as info:
        SecretRef("file", "s", tmp_path).resolve()
    message = str(info.value)
    assert f"secret file {tmp_path / 's'}" in message
    assert "Pw" not in message and "1234" not in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Pw-1234\n", r"U\+000A"),  # no newline is stripped from the environment
        ("\ufeffPw-1234", r"U\+FEFF"),  # nor a BOM
        ("Pw\u200c1234", r"U\+200C \(ZERO WIDTH NON-JOINER\)"),
        ("Pw\x7f1234", r"U\+007F \(DELETE\)"),
        ("Pw-1234 ", "ends with white space"),
        ("   ", "holds only white space"),
    ],
)
def test_what_an_environment_value_may_not_hold(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("T_SECRET_V", value)
    with pytest.raises(SecretValueError, match=expected) as info:
        SecretRef("env", "T_SECRET_V").resolve()
    assert "environment variable T_SECRET_V" in str(info.value)
    assert "Pw" not in str(info.value)


def test_environment_bytes_that_are_not_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environb, b"T_SECRET_B", b"Pw-\xff1234")  # POSIX: bytes
    with pytest.raises(SecretValueError, match="T_SECRET_B is not valid UTF-8"):
        SecretRef("env", "T_SECRET_B").resolve()


# --- masking: only foreign text, only the clinic's own secrets ------------------------------


def test_redact_masks_the_secrets_of_the_current_clinic_only() -> None:
    with secret_scope("clinic-a"):
        Secret("100101")  # clinic A's PIN
        Secret("a-long-db-password-1")
    with secret_scope("clinic-b"):
        Secret("b-long-db-password-2")
        foreign = "provider 100101 exists; login failed for a-long-db-password-1"
        # B's text is never masked with A's values: no garbling, and no signal about A
        assert redact(foreign) == foreign
        assert redact("pw b-long-db-password-2!") == f"pw {REDACTED}!"
    with secret_scope("clinic-a"):
        assert redact("PIN 100101 refused") == f"PIN {REDACTED} refused"
        assert redact("provider 1001010") == "provider 1001010"  # short: whole tokens only


def test_outside_any_clinic_every_secret_is_masked() -> None:
    with secret_scope("clinic-c"):
        Secret("c-secret-value-77")
    assert redact("bug holding c-secret-value-77") == f"bug holding {REDACTED}"


def test_forms_a_third_party_may_print() -> None:
    url = "mysql+pymysql://oscar:dbPW@leak-42@db.example.org:3306/oscar"
    found = forms(url)
    # every piece of the user-info, however a parser splits it at '@' or ':'
    assert {"dbPW@leak-42", "dbPW", "leak-42", "oscar:dbPW@leak-42"} <= found
    assert "db.example.org:3306" not in found and "oscar" in found
    emoji = forms("\U0001f30a12")
    assert "\\xF0\\x9F\\x8C\\x8A12" in emoji and "\\xf0\\x9f\\x8c\\x8a12" in emoji
    assert "%F0%9F%8C%8A12" in emoji
    assert "p%40ss%3Aword" in forms("p@ss:word")
    assert "ab" not in forms("ab")  # too short to mask anything


def test_pieces_of_a_url_are_masked_in_its_clinics_foreign_text() -> None:
    with secret_scope("clinic-url"):
        Secret("mysql+pymysql://u:dbPW@leak-42@host/db")
        message = "Can't connect to MySQL server on 'leak-42@host' (user u, password dbPW)"
        masked = redact(message)
    assert "leak-42" not in masked and "dbPW" not in masked
    assert "host" in masked


def test_raw_bytes_of_a_pin_in_a_driver_message_are_masked() -> None:
    with secret_scope("clinic-latin1"):
        Secret("\U0001f30a12")
        masked = redact("Incorrect string value: '\\xF0\\x9F\\x8C\\x8A12' for column 'pin'")
    assert masked == f"Incorrect string value: '{REDACTED}' for column 'pin'"
