"""`reconcile validate` end to end through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.conftest import ROOT, WriteClinic, doc


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_examples_validate_clean(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "3 files checked: 0 errors, 0 warnings"


def test_reports_every_problem_and_counts(runner: CliRunner, write_clinic: WriteClinic) -> None:
    write_clinic(doc("oscar", ocean_connect__primary_role="nurse", clinic__id="X"), "a.yaml")
    write_clinic(doc("accuro", ocean_api_user__username="ocean"), "b.yaml")
    path = write_clinic("version: 1\nversion: 1\n", "c.yaml")
    result = runner.invoke(cli, ["validate", str(path.parent)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == "3 files checked: 3 errors, 1 warning"
    assert any(":3:7: clinic.id: must be lowercase" in line for line in lines)
    assert any("c.yaml:2:1: version: duplicate key 'version'" in line for line in lines)
    assert any("b.yaml:" in line and ": warning: " in line for line in lines)
    assert "Traceback" not in result.output


def test_warnings_alone_exit_zero(runner: CliRunner, write_clinic: WriteClinic) -> None:
    path = write_clinic(doc("accuro", ocean_api_user__username="ocean"))
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0
    assert result.output.strip().endswith("1 file checked: 0 errors, 1 warning")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "file is empty"),
        (b"a: [1,\n", "invalid YAML"),
        (b"a: \xc3\x28\n", "not UTF-8"),
        (b"a: 1\na: 2\n", "duplicate key"),
        (b"- 1\n- 2\n", "must be a mapping"),
        (b"version: 1\nclinic: {id: x, name: 5}\nemr: {kind: oscar}\n", "must be a string"),
    ],
)
def test_bad_input_exits_one_without_traceback(
    runner: CliRunner, write_clinic: WriteClinic, content: bytes, expected: str
) -> None:
    result = runner.invoke(cli, ["validate", str(write_clinic(content))])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_alias_bomb_exits_one(runner: CliRunner, write_clinic: WriteClinic) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    result = runner.invoke(cli, ["validate", str(write_clinic("\n".join(lines)))])
    assert result.exit_code == 1 and "alias bomb" in result.output


def test_big_file_exits_one(runner: CliRunner, write_clinic: WriteClinic) -> None:
    result = runner.invoke(cli, ["validate", str(write_clinic(b"#" * (1 << 20) + b"\n"))])
    assert result.exit_code == 1 and "1 MiB" in result.output


def test_empty_folder_and_missing_path(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "no clinic files" in result.output
    result = runner.invoke(cli, ["validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1 and "no such file or folder" in result.output


def test_usage_errors_exit_one_not_two(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["validate", "--nope"]).exit_code == 1
    assert runner.invoke(cli, ["frobnicate"]).exit_code == 1


def test_help_lists_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for code in ("0  success", "1  invalid input", "2  changes pending", "3  an EMR", "4  refused"):
        assert code in result.output
    assert "4  refused" in runner.invoke(cli, ["validate", "--help"]).output


def test_console_script_is_installed() -> None:
    import shutil
    import subprocess
    import sys

    exe = shutil.which("reconcile", path=str(Path(sys.executable).parent))
    assert exe is not None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert "reconcile" in out.stdout


def test_debug_shows_the_traceback_and_keeps_the_exit_code(
    runner: CliRunner, tmp_path: Path
) -> None:
    plain = runner.invoke(cli, ["validate", str(tmp_path)])
    debug = runner.invoke(cli, ["--debug", "validate", str(tmp_path)])
    assert plain.exit_code == debug.exit_code == 1
    assert "Traceback" in debug.stderr and "UsageError" in debug.stderr
    assert "Traceback" not in plain.output
    assert debug.stderr.rstrip().endswith(plain.stderr.rstrip())  # the same one-line error


def test_unexpected_errors_are_one_line_without_their_text(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from reconciler.secrets import Secret

    leaked = Secret("leaky-Secret-42")

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"bug holding {leaked.reveal()} and pieces leaky-")

    monkeypatch.setattr("reconciler.cli.load_clinics", boom)
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 3
    assert result.output.startswith("error: internal error (RuntimeError at test_cli_validate.py:")
    assert "bug holding" not in result.output and "leaky" not in result.output
    assert "Traceback" not in result.output
    debug = runner.invoke(cli, ["--debug", "validate", str(tmp_path)])
    assert debug.exit_code == 3  # --debug changes no exit code
    assert "Traceback" in debug.stderr and "RuntimeError: bug holding (sensitive)" in debug.stderr
    assert "leaky-Secret-42" not in debug.output
