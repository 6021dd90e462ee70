"""A live count on stderr while plan or apply runs over many clinics.

Shown when asked (``--progress``), or by default when stderr is a terminal and the run is
not in CI (``CI`` set, as GitHub Actions, GitLab and most others do). One line, rewritten in
place, at most a few times a second, and erased at the end, so it never mixes with the plan
on stdout or lands in a log.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from reconciler.fleet import Progress

REFRESH = 0.2  # seconds between redraws


def wanted(asked: bool | None, stream: TextIO) -> bool:
    if asked is not None:
        return asked
    return stream.isatty() and not os.environ.get("CI")


class ProgressDisplay:
    """``with ProgressDisplay(total, "planning") as progress:`` hands the engine a
    :class:`~reconciler.fleet.Progress` that redraws one status line on stderr."""

    def __init__(
        self,
        total: int,
        verb: str,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = total > 1 and wanted(enabled, self.stream)
        self.verb = verb
        self.progress = Progress(total, self._changed if self.enabled else None)
        self._lock = threading.Lock()
        self._last = 0.0
        self._width = 0
        self._started = time.monotonic()

    def line(self) -> str:
        p = self.progress
        elapsed = time.monotonic() - self._started
        failing = f", {p.failed} failing" if p.failed else ""
        return (
            f"{self.verb}: {p.done}/{p.total} clinics done{failing}, {p.remaining} remaining "
            f"({elapsed:.0f} s)"
        )

    def _changed(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < REFRESH and progress.remaining:
            return
        self._draw(now)

    def _draw(self, now: float) -> None:
        with self._lock:
            self._last = now
            text = self.line()
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._width = len(text)

    def __enter__(self) -> Progress:
        if self.enabled:
            self._draw(time.monotonic())
        return self.progress

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.enabled and self._width:
            with self._lock:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
