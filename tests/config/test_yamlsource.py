from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.yamlsource import (
    MAX_FILE_BYTES,
    YamlLoadError,
    parse_yaml_bytes,
    read_yaml_file,
)


def load_error(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(YamlLoadError) as info:
        parse_yaml_bytes(raw, "c.yaml")
    return info.value.diagnostic.format()


def test_positions_are_recorded_for_values_and_keys() -> None:
    doc = parse_yaml_bytes(b"version: 1\nclinic:\n  id: abc\n  list:\n    - x\n    - y\n", "c.yaml")
    assert doc.data == {"version": 1, "clinic": {"id": "abc", "list": ["x", "y"]}}
    assert doc.position(("clinic", "id")) == (pos := doc.values[("clinic", "id")])
    assert (pos.line, pos.col) == (3, 7)
    assert doc.position(("clinic", "id"), key=True).col == 3
    assert doc.position(("clinic", "list", 1)).line == 6
    # a missing path falls back to its nearest ancestor
    assert doc.position(("clinic", "nope", 3)).line == 3


def test_dates_stay_text_and_yaml_booleans_are_booleans() -> None:
    doc = parse_yaml_bytes(b"a: 2027-01-31\nb: yes\nc: null\n", "c.yaml")
    assert doc.data == {"a": "2027-01-31", "b": True, "c": None}


def test_malformed_yaml_names_line_and_column() -> None:
    msg = load_error("version: 1\nclinic:\n  id: [unclosed\n")
    assert msg.startswith("c.yaml:4:1: (document): invalid YAML:")


def test_tab_indentation_is_reported_at_the_tab() -> None:
    assert load_error("a:\n\tb: 1\n").startswith("c.yaml:2:1:")


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", "---\n"])
def test_empty_file(text: str) -> None:
    assert "file is empty" in load_error(text)


def test_not_utf8_names_the_byte_position() -> None:
    msg = load_error(b"version: 1\nclinic:\n  name: Caf\xe9\n")
    assert msg.startswith("c.yaml:3:12:")
    assert "not UTF-8" in msg and "0xe9" in msg


def test_utf8_bom_is_accepted() -> None:
    assert parse_yaml_bytes("\ufeffa: é\n".encode(), "c.yaml").data == {"a": "é"}


def test_duplicate_key_is_an_error_not_last_one_wins() -> None:
    msg = load_error("clinic:\n  id: a\n  name: x\n  id: b\n")
    assert msg == "c.yaml:4:3: clinic.id: duplicate key 'id' (first defined on line 2)"


def test_multiple_documents_are_refused() -> None:
    assert "invalid YAML" in load_error("a: 1\n---\nb: 2\n")


def test_merge_keys_are_refused() -> None:
    assert "merge keys" in load_error("base: &b {x: 1}\nother:\n  <<: *b\n")


def test_unsafe_tags_are_refused() -> None:
    assert "invalid YAML" in load_error("a: !!python/object:os.system {}\n")


def test_plain_aliases_still_work() -> None:
    doc = parse_yaml_bytes(b"p: &all [patient, emr]\nq: *all\n", "c.yaml")
    assert doc.data == {"p": ["patient", "emr"], "q": ["patient", "emr"]}


def test_alias_bomb_is_refused_without_expanding() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    msg = load_error("\n".join(lines) + "\n")
    assert "alias bomb" in msg


def test_recursive_alias_is_refused() -> None:
    msg = load_error("a: &x [1, *x]\n")
    assert "alias" in msg or "nesting" in msg


def test_file_over_one_mib_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# x\n" * (MAX_FILE_BYTES // 4 + 1))
    with pytest.raises(YamlLoadError) as info:
        read_yaml_file(big)
    assert "limited to 1 MiB" in info.value.diagnostic.message


def test_unreadable_path_is_a_diagnostic(tmp_path: Path) -> None:
    with pytest.raises(YamlLoadError) as info:
        read_yaml_file(tmp_path / "missing.yaml")
    assert "cannot read file" in info.value.diagnostic.message
