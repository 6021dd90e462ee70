"""The audit log: one JSON line per change apply attempted, written once it was verified.

A line says what was attempted and what re-reading live state found, so the log alone tells
the end state: ``attempt`` (what the adapter reported: ``applied``, ``failed``,
``not attempted``), ``verified`` (``converged``, ``not converged``, ``not verified``) and
``result``, the end result (``applied`` only when both agree). It names the clinic file as
planned: its path, the sha256 of its bytes, the git commit of its repository and ``dirty``,
whether the file differs from that commit (edited, staged, untracked or ignored, or its
bytes differ from the commit's blob whatever git's index flags say). Lines hold names,
addresses and the tool's own messages, never a secret. A clinic's lines are appended in one
write or not at all.
"""

from __future__ import annotations

import errno
import getpass
import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.engine import ChangeReport
from reconciler.errors import AuditLogError, UsageError
from reconciler.model import Clinic

DEFAULT_AUDIT_LOG = Path(".reconcile/audit.jsonl")


def _git(folder: Path, *args: str) -> str | None:
    """Git's output as text; bytes that are not UTF-8 (a Latin-1 file name) are kept as the
    file system keeps them (surrogate escapes), so they compare equal to :class:`Path` names.
    Any failure is None: the audit log is never the reason a run crashes."""
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return os.fsdecode(out.stdout) if out.returncode == 0 else None


def config_commit(path: Path) -> str | None:
    """The git commit of the folder holding ``path``, when it is in a git work tree."""
    folder = path if path.is_dir() else path.parent
    commit = (_git(folder, "rev-parse", "--verify", "-q", "HEAD") or "").strip()
    return commit if len(commit) == 40 else None


def git_user_name(folder: Path = Path()) -> str | None:
    """Git's ``user.name`` for ``folder``, if set (who confirms, by default)."""
    name = (_git(folder, "config", "user.name") or "").strip()
    return name or None


@dataclass(frozen=True, slots=True)
class FileState:
    """A clinic file against git: the commit of its repository, and whether the file differs
    from it. Both None outside a git work tree; ``dirty`` is None when git does not hold the
    bytes read (a symlink whose target is outside the work tree)."""

    commit: str | None
    dirty: bool | None


class _Repository:
    """One ``git status`` and one ``git ls-tree`` per folder, however many clinic files it
    holds; then each file's bytes are hashed as git would and compared with the commit's blob,
    so a file marked ``--assume-unchanged`` or ``--skip-worktree`` is not taken on trust."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        top = _git(folder, "rev-parse", "--show-toplevel")
        self.top = Path(top.strip()).resolve() if top else None
        self.commit = config_commit(folder) if self.top else None
        self.changed: set[str] = set()
        self.blobs: dict[str, str] = {}
        status = _git(
            folder, "status", "--porcelain=v1", "-z", "--ignored=matching", "-uall", "--", "."
        )
        if self.top is None or status is None:
            self.top = None
            return
        entries = iter(status.split("\0"))
        for entry in entries:
            if len(entry) < 4:
                continue
            self.changed.add(entry[3:])
            if entry[0] in "RC":
                next(entries, None)  # the name it was renamed or copied from
        tree = _git(folder, "ls-tree", "-r", "-z", "--full-tree", "HEAD") if self.commit else ""
        for line in (tree or "").split("\0"):
            meta, _, name = line.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob":
                self.blobs[name] = parts[2]

    def _differs(self, file: Path, rel: str) -> bool:
        """Do the file's bytes (as ``git hash-object`` sees them, filters applied) differ from
        the blob of ``rel`` in HEAD? Not knowing counts as differing."""
        blob = self.blobs.get(rel)
        if blob is None:
            return True
        ours = _git(self.folder, "hash-object", f"--path={rel}", "--", str(file))
        return ours is None or ours.strip() != blob

    def state(self, file: Path) -> FileState:
        if self.top is None:
            return FileState(None, None)
        try:
            rel = file.resolve().relative_to(self.top).as_posix()
        except ValueError:
            return FileState(self.commit, None)
        dirty = (
            rel in self.changed
            or any(c.endswith("/") and rel.startswith(c) for c in self.changed)
            or self._differs(file.resolve(), rel)
        )
        return FileState(self.commit, dirty)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _fsync(fd: int) -> None:
    """Flush to disk; a device or pipe that cannot be synced (``/dev/null``) is fine."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
            raise


class AuditLog:
    """Appends to ``path``; ``file_hashes`` maps each clinic file (as shown) to the sha256 of
    the bytes that were planned from."""

    def __init__(self, path: Path, file_hashes: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.file_hashes = dict(file_hashes or {})
        self.user = os_user()
        self.run = uuid.uuid4().hex[:12]
        self._repositories: dict[Path, _Repository] = {}

    def check_writable(self) -> None:
        """Fail before apply writes anything, when the log cannot even be opened."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise UsageError(
                f"cannot write the audit log {self.path}: {exc.strerror}; nothing was applied"
            ) from None

    def file_state(self, file: Path) -> FileState:
        """``file`` against git (one ``git status`` per folder, however many files). Never
        raises: what cannot be found out is None."""
        try:
            folder = file.resolve().parent
            if folder not in self._repositories:
                self._repositories[folder] = _Repository(folder)
            return self._repositories[folder].state(file)
        except (OSError, ValueError, RuntimeError):
            return FileState(None, None)

    def _sha256(self, name: str) -> str | None:
        if name in self.file_hashes:
            return self.file_hashes[name]
        try:
            return hashlib.sha256(Path(name).read_bytes()).hexdigest()
        except OSError:
            return None

    def entries(
        self, clinic: Clinic, results: Sequence[ChangeReport], plan_id: str
    ) -> list[dict[str, object]]:
        """The lines :meth:`record` appends, as data."""
        name = clinic.source.file
        state = self.file_state(Path(name))
        time = datetime.now(UTC).isoformat(timespec="seconds")
        return [
            {
                "time": time,
                "run": self.run,
                "plan_id": plan_id,
                "clinic": clinic.id,
                "address": r.change.address,
                "action": r.change.action.value,
                "mode": r.change.mode.value,
                "attempt": r.attempt.value,
                "verified": r.verified.value if r.verified else None,
                "result": r.outcome.value,
                "detail": r.detail or None,
                "file": name,
                "file_sha256": self._sha256(name),
                "config_commit": state.commit,
                "dirty": state.dirty,
                "user": self.user,
            }
            for r in results
        ]

    def record(self, clinic: Clinic, results: Sequence[ChangeReport], plan_id: str) -> None:
        """Append the clinic's lines whole, in one write, flushed to disk, or none of them:
        on failure the file is cut back to where it was, and :class:`AuditLogError` says
        exactly what the log holds."""
        entries = self.entries(clinic, results, plan_id)
        data = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries).encode("ascii")
        try:
            fd = _open_append(self.path)
        except OSError as exc:
            raise AuditLogError(
                f"cannot write the audit log {self.path} ({_reason(exc)})"
            ) from None
        try:
            _append_whole(fd, data)
        except OSError as exc:
            raise AuditLogError(
                f"cannot write the audit log {self.path} ({_reason(exc)}), {_what_is_left(fd)}"
            ) from None
        finally:
            os.close(fd)


def _open_append(path: Path) -> int:
    """Open for appending, and for reading where allowed (to see how the file ends)."""
    flags = os.O_APPEND | os.O_CREAT
    try:
        return os.open(path, flags | os.O_RDWR, 0o644)
    except PermissionError:
        return os.open(path, flags | os.O_WRONLY, 0o644)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _append_whole(fd: int, data: bytes) -> None:
    """Write ``data`` at the end of the file (after a line feed if the file does not end with
    one, so a line cut by an earlier failure never glues onto this one), then sync. On any
    failure the file is cut back to its size before, and the error raised again."""
    size = os.fstat(fd).st_size
    if size and _last_byte(fd, size) not in (b"\n", None):
        data = b"\n" + data
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
        _fsync(fd)
    except BaseException:
        _truncate(fd, size)
        raise


def _truncate(fd: int, size: int) -> None:
    try:
        if os.fstat(fd).st_size > size:
            os.ftruncate(fd, size)
            _fsync(fd)
    except OSError:
        pass


def _last_byte(fd: int, size: int) -> bytes | None:
    """The file's last byte; None when it cannot be read (opened write-only, a device)."""
    try:
        return os.pread(fd, 1, size - 1)
    except OSError:
        return None


def _what_is_left(fd: int) -> str:
    """After a failed append, cut back: what the log holds. Should it not have been cut back,
    it may end with part of a line, which the next run starts a new line after."""
    try:
        size = os.fstat(fd).st_size
        whole = size == 0 or _last_byte(fd, size) == b"\n"
    except OSError:
        whole = False
    if whole:
        return "which holds every earlier line whole and none of these"
    return "which may end with part of one of these lines (the next run starts a new line)"
