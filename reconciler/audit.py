"""The audit log: one JSON line per change apply attempted, written once it was verified.

A line says what was attempted and what re-reading live state found, so the log alone tells
the end state: ``attempt`` (what the adapter reported: ``applied``, ``failed``,
``not attempted``), ``verified`` (``converged``, ``not converged``, ``not verified``) and
``result``, the end result (``applied`` only when both agree). It names the clinic file as
planned: its path, the sha256 of its bytes, the git commit of its repository and ``dirty``,
whether the file differs from that commit (edited, staged, untracked or ignored). Lines hold
names, addresses and the tool's own messages, never a secret.
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
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def config_commit(path: Path) -> str | None:
    """The git commit of the folder holding ``path``, when it is in a git work tree."""
    folder = path if path.is_dir() else path.parent
    commit = (_git(folder, "rev-parse", "--verify", "-q", "HEAD") or "").strip()
    return commit if len(commit) == 40 else None


@dataclass(frozen=True, slots=True)
class FileState:
    """A clinic file against git: the commit of its repository, and whether the file differs
    from it. Both None outside a git work tree."""

    commit: str | None
    dirty: bool | None


class _Repository:
    """One ``git status`` per folder, however many clinic files it holds."""

    def __init__(self, folder: Path) -> None:
        top = _git(folder, "rev-parse", "--show-toplevel")
        self.top = Path(top.strip()).resolve() if top else None
        self.commit = config_commit(folder) if self.top else None
        self.changed: set[str] = set()
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

    def state(self, file: Path) -> FileState:
        if self.top is None:
            return FileState(None, None)
        try:
            rel = file.resolve().relative_to(self.top).as_posix()
        except ValueError:
            return FileState(self.commit, None)
        dirty = rel in self.changed or any(
            c.endswith("/") and rel.startswith(c) for c in self.changed
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
        """``file`` against git (one ``git status`` per folder, however many files)."""
        folder = file.resolve().parent
        if folder not in self._repositories:
            self._repositories[folder] = _Repository(folder)
        return self._repositories[folder].state(file)

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
        """Append one line per result, flushed to disk; :class:`AuditLogError` if it cannot."""
        text = "".join(
            json.dumps(e, sort_keys=True) + "\n" for e in self.entries(clinic, results, plan_id)
        )
        try:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                _fsync(fh.fileno())
        except OSError as exc:
            raise AuditLogError(
                f"cannot write the audit log {self.path} ({exc.strerror or type(exc).__name__})"
            ) from None
