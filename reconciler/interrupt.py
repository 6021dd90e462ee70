"""Ctrl-C and SIGTERM during apply: stop cleanly, never in the middle of recording.

While :func:`handling_interrupts` is in force, SIGINT and SIGTERM only note the signal,
except inside an :func:`interruptible` block (an adapter writing or re-reading one
clinic), where the first one raises :class:`Interrupted` at once. So an interrupt never cuts
an audit line in two, and the engine checks :func:`pending` before starting each clinic: no
clinic is written after the interrupt. Exit codes follow the shell: 128 + the signal's number
(130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was interrupted by ``signum`` (SIGINT or SIGTERM); ``during`` is False when
    it was noted before the :func:`interruptible` block began (nothing in it ran)."""

    def __init__(self, signum: int = signal.SIGINT, *, during: bool = True) -> None:
        super().__init__(signum)
        self.signum = signum
        self.during = during

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class _State:
    armed = False
    pending: int | None = None


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.pending is None:
        _state.pending = signum
    if _state.armed:
        _state.armed = False
        raise Interrupted(signum)


@contextmanager
def handling_interrupts() -> Iterator[None]:
    """SIGINT and SIGTERM are noted, raised only inside :func:`interruptible`. Outside the
    main thread (where no handler can be set) Python's own handling stays."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _state.pending, _state.armed = None, False
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _state.pending, _state.armed = None, False


@contextmanager
def interruptible() -> Iterator[None]:
    """A block an interrupt may cut short (raising :class:`Interrupted`); one already noted
    raises before the block starts. Only the main thread's block can be cut short (signals
    are handled there); in a worker thread the block runs to its end."""
    if _state.pending is not None:
        raise Interrupted(_state.pending, during=False)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.armed = True
    try:
        yield
    finally:
        _state.armed = False


def pending() -> Interrupted | None:
    """The interrupt noted since :func:`handling_interrupts` began, if any."""
    return Interrupted(_state.pending, during=False) if _state.pending is not None else None


def as_interrupted(exc: KeyboardInterrupt) -> Interrupted:
    """A plain KeyboardInterrupt (no handler installed) is a SIGINT."""
    return exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
