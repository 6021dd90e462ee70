"""The audit log: one JSON line per change apply attempted. No secrets, ever."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from reconciler.emr.contract import ChangeResult
from reconciler.errors import UsageError
from reconciler.secrets import redact

DEFAULT_AUDIT_LOG = Path(".reconcile/audit.jsonl")


def config_commit(path: Path) -> str | None:
    """The git commit of the folder holding ``path``, when it is in a git work tree."""
    folder = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


class AuditLog:
    def __init__(self, path: Path, commit: str | None) -> None:
        self.path = path
        self.commit = commit
        self.user = os_user()

    def check_writable(self) -> None:
        """Fail before apply writes anything, not halfway through a multi-clinic apply."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise UsageError(
                f"cannot write the audit log {self.path}: {exc.strerror}; nothing was applied"
            ) from None

    def record(self, clinic_id: str, result: ChangeResult) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "clinic": clinic_id,
            "address": result.change.address,
            "action": result.change.action.value,
            "mode": result.change.mode.value,
            "result": result.outcome.value,
            "detail": redact(result.detail) if result.detail else None,
            "config_commit": self.commit,
            "user": self.user,
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write the audit log {self.path}: {exc.strerror}") from None
