"""The second hostile review of the core: each class of defect it found, end to end."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.invisible import first_invisible, is_invisible, visible
from reconciler.secrets import Secret, SecretRef, contains_secret, secret_scope
from tests.cli_fixtures import (  # noqa: F401 - make_db_fixture, run_fixture: fixtures
    MakeDB,
    Run,
    clinic,
    make_db_fixture,
    primary_rows,
    run_fixture,
    security_row,
)
from tests.conftest import OC_PASSWORD, WriteClinic, doc


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- invisible characters: the whole default-ignorable class, for secrets and names ---------

HIDDEN = {
    "\u034f": "U+034F (COMBINING GRAPHEME JOINER)",
    "\ufe0f": "U+FE0F (VARIATION SELECTOR-16)",
    "\ufe00": "U+FE00 (VARIATION SELECTOR-1)",
    "\U000e0100": "U+E0100 (VARIATION SELECTOR-17)",
    "\u3164": "U+3164 (HANGUL FILLER)",
    "\u1160": "U+1160 (HANGUL JUNGSEONG FILLER)",
    "\uffa0": "U+FFA0 (HALFWIDTH HANGUL FILLER)",
    "\u115f": "U+115F (HANGUL CHOSEONG FILLER)",
    "\u17b4": "U+17B4 (KHMER VOWEL INHERENT AQ)",
    "\u17b5": "U+17B5 (KHMER VOWEL INHERENT AA)",
    "\u2800": "U+2800 (BRAILLE PATTERN BLANK)",
    "\ue000": "U+E000 (a private-use character)",
    "\ufffe": "U+FFFE (an unassigned code point)",
    "\U0010fffd": "U+10FFFD (a private-use character)",
    "\u0378": "U+0378 (an unassigned code point)",
    "\u00a0": "U+00A0 (NO-BREAK SPACE)",
    "\u3000": "U+3000 (IDEOGRAPHIC SPACE)",
    "\u061c": "U+061C (ARABIC LETTER MARK)",
    "\U0001d173": "U+1D173 (MUSICAL SYMBOL BEGIN BEAM)",
    "\U0001bca0": "U+1BCA0 (SHORTHAND FORMAT LETTER OVERLAP)",
}


def test_every_default_ignorable_and_blank_looking_character_is_invisible() -> None:
    for ch in HIDDEN:
        assert is_invisible(ch), f"U+{ord(ch):04X}"
        assert first_invisible(f"Ocean{ch}Connect") == ch
        assert ch not in visible(f"a{ch}b")
    for ch in "aZ9 -'.é\u0301ñ漢字😀ß":  # letters, accents, CJK, emoji and a plain space are fine
        assert not is_invisible(ch), f"U+{ord(ch):04X}"


@pytest.mark.parametrize(("ch", "named"), sorted(HIDDEN.items()))
def test_a_hidden_character_inside_a_password_is_refused_by_its_reference(
    run: Run, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch, ch: str, named: str
) -> None:
    path = clinic(write_clinic, monkeypatch, "env-clinic", "sqlite:///nowhere.db")
    monkeypatch.setenv("T_OC_PASSWORD", OC_PASSWORD[:4] + ch + OC_PASSWORD[4:])
    result = run("validate", str(path))
    assert result.exit_code == 1, result.output
    assert "environment variable T_OC_PASSWORD" in result.output and named in result.output
    assert OC_PASSWORD[4:] not in result.output and ch not in result.output


@pytest.mark.parametrize(
    ("changes", "field", "ch"),
    [
        ({"ocean_connect__login__username": "Ocean\u034fConnect"}, "login.username", "\u034f"),
        (
            {
                "ocean_connect__provider": {
                    "number": "999990",
                    "last_name": "Connect\u3164",
                    "first_name": "Ocean",
                }
            },
            "provider.last_name",
            "\u3164",
        ),
        ({"clinic__name": "Riverside FHT\ufe0f"}, "clinic.name", "\ufe0f"),
        ({"clinic__name": "Riverside\u00a0FHT"}, "clinic.name", "\u00a0"),
        ({"clinic__name": "Riverside \u2800"}, "clinic.name", "\u2800"),
        ({"clinic__name": "Riverside\ue000"}, "clinic.name", "\ue000"),
    ],
)
def test_a_hidden_character_in_a_name_is_a_located_error_and_nothing_is_written(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    field: str,
    ch: str,
) -> None:
    db = make_db("names")
    path = clinic(write_clinic, monkeypatch, "names-clinic", db.url, **changes)
    result = run("validate", str(path))
    assert result.exit_code == 1, result.output
    assert re.search(
        rf"{re.escape(field)}: contains the invisible character {re.escape(HIDDEN[ch])}",
        result.output,
    ), result.output
    assert ch not in result.output
    before = security_row(db)
    assert run("apply", str(path), "--auto-approve").exit_code == 1
    assert security_row(db) == before and primary_rows(db) == 0


# --- secret files: bounded, regular files only -----------------------------------------------


def _file_secret(path: Path, target: str) -> None:
    data = yaml.safe_load(path.read_text())
    data["ocean_connect"]["login"]["password"] = {"file": target}
    path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda folder: "/dev/zero", "is not a regular file"),
        (lambda folder: (os.mkfifo(folder / "pw.fifo"), "pw.fifo")[1], "is not a regular file"),
        (lambda folder: ".", "is a folder"),
        (
            lambda folder: ((folder / "big.txt").write_text("x" * (64 * 1024 + 1)), "big.txt")[1],
            "is larger than 64 KiB",
        ),
    ],
)
def test_a_secret_file_that_is_not_a_small_regular_file_is_refused_unread(
    run: Run,
    make_db: MakeDB,
    write_clinic: WriteClinic,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Path], str],
    named: str,
) -> None:
    db = make_db("files")
    path = clinic(write_clinic, monkeypatch, "files-clinic", db.url)
    _file_secret(path, make(path.parent))
    before = security_row(db)
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = run(*command, str(path))
        assert result.exit_code == 1, result.output
        assert "ocean_connect.login.password: secret file" in result.output
        assert named in result.output and "Traceback" not in result.output
    assert security_row(db) == before


def test_a_secret_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    target = tmp_path / "pw.txt"
    target.write_text("x" * (64 * 1024 - 1) + "\n")
    assert SecretRef("file", str(target)).resolve().reveal() == "x" * (64 * 1024 - 1)


# --- contains_secret: a secret touching other text, for foreign messages ---------------------


def test_contains_secret_finds_any_form_anywhere_within_the_scope_only() -> None:
    with secret_scope("clinic-one"):
        Secret("4711")
        Secret("pa:ss@word/Long1")
        Secret("ab")  # however short
    with secret_scope("clinic-two"):
        Secret("9183")
    with secret_scope("clinic-one"):
        assert contains_secret("new pin is PIN4711 / 4711x")
        assert contains_secret("trigger said: xx4711yy")
        assert contains_secret("the value pa%3Ass%40word%2FLong1 was refused")
        assert contains_secret("crab")
        assert not contains_secret("new pin is PIN9183")  # another clinic's
        assert not contains_secret("nothing here")
    with secret_scope("clinic-two"):
        assert contains_secret("PIN9183x") and not contains_secret("PIN4711")
    assert contains_secret("PIN4711") and contains_secret("PIN9183")  # outside any scope


# --- YAML hints say what to do about what was written ---------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ('!!int "999990"', "must be a string, not an integer (remove the tag !!int: it makes"),
        ("!!binary aGVsbG8=", "invalid YAML: unsupported tag tag:yaml.org,2002:binary"),
        ("012345", 'quote it: "012345"'),
    ],
)
def test_a_yaml_tag_gets_a_hint_about_the_tag(
    run: Run, write_clinic: WriteClinic, number: str, expected: str
) -> None:
    path = write_clinic(doc("oscar"))
    text = path.read_text()
    assert "number: '999990'" in text
    path.write_text(text.replace("number: '999990'", f"number: {number}"))
    result = run("validate", str(path))
    assert result.exit_code == 1 and expected in result.output, result.output
    assert "not a mapping" not in result.output


def test_a_name_is_literal_text_in_the_markdown_plan(
    run: Run, make_db: MakeDB, write_clinic: WriteClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "<b>Riverside</b> [click](https://evil.example) @ocean-team *now* `x` a|b ~~s~~"
    path = clinic(write_clinic, monkeypatch, "md-clinic", make_db("md").url, clinic__name=name)
    result = run("plan", str(path), "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert (
        "&lt;b&gt;Riverside&lt;/b&gt; \\[click\\](https://evil.example) &#64;ocean-team "
        "\\*now\\* \\`x\\` a\\|b \\~\\~s\\~\\~"
    ) in result.output
    assert "<b>" not in result.output and "@ocean" not in result.output
