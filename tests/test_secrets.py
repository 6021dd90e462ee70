from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from reconciler.errors import SecretError
from reconciler.secrets import REDACTED, Secret, SecretRef, redact


def test_secret_never_prints_itself() -> None:
    s = Secret("tr0ub4dor&3")
    assert str(s) == REDACTED and "tr0ub4dor" not in repr(s)
    assert f"{s}" == REDACTED and "tr0ub4dor" not in f"{s!r}"
    assert s.reveal() == "tr0ub4dor&3"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_redact_masks_every_resolved_value() -> None:
    Secret("mysql-pw-9f8e7d")
    assert redact("Access denied (mysql-pw-9f8e7d)") == f"Access denied ({REDACTED})"


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_SECRET_X", "value-123")
    assert SecretRef("env", "T_SECRET_X").resolve().reveal() == "value-123"
    monkeypatch.delenv("T_SECRET_X")
    with pytest.raises(SecretError, match="T_SECRET_X is not set"):
        SecretRef("env", "T_SECRET_X").resolve()
    monkeypatch.setenv("T_SECRET_X", "")
    with pytest.raises(SecretError, match="is empty"):
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
    with pytest.raises(SecretError, match="is empty"):
        SecretRef("file", "empty", tmp_path).resolve()


def test_short_secrets_are_masked_as_whole_tokens_only() -> None:
    Secret("9999")
    assert redact("provider 999990 has PIN 9999.") == f"provider 999990 has PIN {REDACTED}."
    assert redact("pin=9999") == f"pin={REDACTED}"
