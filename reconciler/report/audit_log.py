"""The last run of ``apply`` per clinic, read from the audit log (``reconcile apply
--audit-log``). The report only reads it: a missing log means no clinic was applied from
here; lines it cannot read (a line cut by a crash, another tool's) are passed over."""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reconciler.report.model import LastApply


@dataclass(slots=True)
class _Run:
    time: datetime
    run: str
    results: Counter[str] = field(default_factory=Counter)


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def last_applies(path: Path) -> tuple[dict[str, LastApply], str | None]:
    """Per clinic id, its latest apply run (when, and how many of its lines ended how); and
    a warning when the log exists but cannot be read."""
    latest: dict[str, _Run] = {}
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block: never opened
            return {}, f"the audit log {path} is not a regular file; not read"
        with path.open("rb") as fh:
            for raw in fh:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(entry, dict):
                    continue
                clinic, run, result = entry.get("clinic"), entry.get("run"), entry.get("result")
                when = _time(entry.get("time"))
                if not isinstance(clinic, str) or not isinstance(run, str) or when is None:
                    continue
                seen = latest.get(clinic)
                if seen is None or (seen.run != run and when >= seen.time):
                    seen = latest[clinic] = _Run(when, run)
                if seen.run == run:
                    seen.time = max(seen.time, when)
                    seen.results[result if isinstance(result, str) else "unknown"] += 1
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"cannot read the audit log {path} ({exc.strerror or type(exc).__name__})"
    return {cid: LastApply(r.time, dict(r.results)) for cid, r in latest.items()}, None
