"""The second hostile review of the core: each class of defect it found, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.invisible import first_invisible, is_invisible, visible
from tests.cli_fixtures import (  # noqa: F401 - make_db_fixture, run_fixture: fixtures
    MakeDB,
    Run,
    clinic,
    make_db_fixture,
    primary_rows,
    run_fixture,
    security_row,
)
from tests.conftest import OC_PASSWORD, WriteClinic


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
