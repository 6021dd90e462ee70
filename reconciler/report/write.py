"""Writing a report folder whole: into a new folder beside it, then swapped in, so a report
half-written (a full disk, Ctrl-C) never replaces a good one, and a folder that is not a
report this tool wrote is never replaced at all."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from reconciler.errors import ReconcilerError

MARKER = ".reconcile-report"
"""The file that says a folder is a report this tool wrote (and may replace)."""


class ReportError(ReconcilerError):
    """The report cannot be written where asked (exit 1)."""


def check_out_dir(out: Path) -> None:
    """Refuse (exit 1, naming it) a target that is a symbolic link, not a folder, or a
    folder that holds anything but a report this tool wrote; a new path is fine."""
    try:
        info = os.lstat(out)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ReportError(f"{out}: cannot use it for the report ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise ReportError(
            f"{out}: is a symbolic link; refusing to replace it with the report (name the "
            "folder itself, or a new path)"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise ReportError(f"{out}: not a folder; refusing to replace it with the report")
    try:
        with os.scandir(out) as entries:
            empty = next(entries, None) is None
    except OSError as exc:
        raise ReportError(f"{out}: cannot read the folder ({exc.strerror})") from None
    if not empty and not (out / MARKER).is_file():
        raise ReportError(
            f"{out}: a folder that holds files but is not a report `reconcile report` wrote "
            f"(no {MARKER} in it); refusing to replace it: name a new or empty folder"
        )


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system cannot."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(result == 0)


def write_report(files: Iterable[tuple[str, str]], out: Path) -> int:
    """Write ``files`` (path inside the report, text) as the folder ``out``, replacing the
    report there whole; returns how many files. ReportError when it cannot."""
    check_out_dir(out)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report ({exc.strerror})") from None
    written = 0
    try:
        for name, text in files:
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written += 1
        (tmp / MARKER).write_text(
            "A report written by `reconcile report`; the next one replaces this folder whole.\n",
            encoding="utf-8",
        )
        os.chmod(tmp, 0o755)
        _swap_in(tmp, out.absolute())
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ReportError(f"{out}: cannot write the report ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _swap_in(new: Path, out: Path) -> None:
    """Put the folder ``new`` at ``out``: a new path is a rename; an old report is exchanged
    with it in one step where the system can, else moved aside first (and put back if the
    second rename fails); then the old one is removed."""
    check_out_dir(out)
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old report
        return
    aside = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    os.rename(out, aside / "report")
    try:
        os.rename(new, out)
    except OSError:
        os.rename(aside / "report", out)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
