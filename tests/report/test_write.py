"""A report folder is written whole, then swapped in: never half a report, never a folder
that is not a report replaced, nothing left behind beside it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.report import write as w
from reconciler.report.write import MARKER, ReportError, check_out_dir, write_report

FILES = [("index.html", "<p>new</p>"), ("clinics/a.html", "<p>a</p>")]


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text("utf-8") for p in folder.rglob("*") if p.is_file()
    }


def _leftovers(parent: Path, name: str) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_a_new_folder(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "site"
    assert write_report(FILES, out) == 2
    assert set(_tree(out)) == {"index.html", "clinics/a.html", MARKER}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o755
    assert _leftovers(out.parent, "site") == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_an_old_report_is_replaced_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    out = tmp_path / "site"
    write_report([("index.html", "old"), ("clinics/gone.html", "old")], out)
    if not exchange:
        monkeypatch.setattr(w, "_exchange", lambda a, b: False)
    write_report(FILES, out)
    assert _tree(out) == {
        "index.html": "<p>new</p>",
        "clinics/a.html": "<p>a</p>",
        MARKER: (out / MARKER).read_text("utf-8"),
    }
    assert _leftovers(tmp_path, "site") == []


def test_when_the_swap_fails_the_old_report_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    write_report([("index.html", "old")], out)
    monkeypatch.setattr(w, "_exchange", lambda a, b: False)
    real = os.rename
    calls = []

    def rename(src: object, dst: object) -> None:
        calls.append((src, dst))
        if len(calls) == 2:  # the new report into place
            raise OSError(13, "Permission denied")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(w.os, "rename", rename)
    with pytest.raises(ReportError, match="Permission denied"):
        write_report(FILES, out)
    monkeypatch.undo()
    assert _tree(out)["index.html"] == "old"
    assert _leftovers(tmp_path, "site") == []


def test_an_empty_folder_is_fine_and_anything_else_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    check_out_dir(empty)
    check_out_dir(tmp_path / "new")
    (empty / "x.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match="not a report"):
        check_out_dir(empty)
    with pytest.raises(ReportError, match="not a folder"):
        check_out_dir(empty / "x.txt")
    (tmp_path / "link").symlink_to(empty)
    with pytest.raises(ReportError, match="symbolic link"):
        check_out_dir(tmp_path / "link")


def test_an_interrupt_while_writing_leaves_the_old_report(tmp_path: Path) -> None:
    out = tmp_path / "site"
    write_report([("index.html", "old")], out)

    def pages() -> object:
        yield "index.html", "new"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_report(pages(), out)  # type: ignore[arg-type]
    assert _tree(out)["index.html"] == "old"
    assert _leftovers(tmp_path, "site") == []
