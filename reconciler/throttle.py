"""One rate-limit budget per API host, shared by every clinic whose requests go there.

EMR-neutral: any adapter that talks HTTP to a host many clinics share passes every request
to that host (token requests included) through the host's :class:`HostBudget`::

    ticket = budget.acquire(max_wait=60)      # waits out a pause, then for a free slot
    try:
        response = send()
    except Exception:
        ticket.done(Outcome.FAILED)
        raise
    ticket.done(Outcome.THROTTLED if response.status_code == 429 else Outcome.OK,
                retry_after=...)

What a budget does:

- **A 429 pauses the whole host.** Its ``Retry-After`` (seconds or an HTTP-date, see
  :func:`retry_after`) sets the time before which no request is sent to the host, from any
  thread: a request that asks for a slot while the host is paused waits until then (or,
  when the pause is longer than it will wait, raises :class:`HostPaused` at once, having
  sent nothing). Requests already on the wire finish; later 429s can only extend a pause.
- **AIMD on requests in flight.** The host starts at ``ceiling`` requests in flight (the
  adapter's connections there). A 429 halves it (floor ``floor``, 1 by default), once per
  burst: the 429s of requests sent before that decrease do not halve it again. After a run
  of successes as long as the current limit (one "window"), it grows by one, up to
  ``ceiling``. Other failures (5xx, timeouts, broken connections) end a run and change
  nothing else: they are the retry loop's business, not a sign of rate limiting.

Time comes from ``clock`` (monotonic seconds) and waits from ``sleep``: both can be
injected, so tests need no real sleeping. A waiter that has slept as long as a pause asked
is not put to sleep again for the same pause, even if an injected clock did not move.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit

__all__ = [
    "BudgetStats",
    "Budgets",
    "HostBudget",
    "HostPaused",
    "Outcome",
    "Ticket",
    "origin",
    "retry_after",
]


class Outcome(StrEnum):
    OK = "ok"  # an answer that was not a 429 or a retryable failure
    THROTTLED = "throttled"  # a 429: pause the host, halve what it may have in flight
    FAILED = "failed"  # a 5xx, a timeout, a broken connection: ends a run of successes


class HostPaused(Exception):
    """The host is paused for longer than the caller will wait; nothing was sent."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the host is paused for {seconds:.1f} more seconds")
        self.seconds = seconds


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header value asks to wait: ``120`` or an HTTP-date
    (``Wed, 21 Oct 2015 07:28:00 GMT``, against ``now``, wall-clock seconds, default the
    current time); a date in the past is 0. None when absent or not understood."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower case, the port always written
    (``https://API.example.org/x`` -> ``https://api.example.org:443``): requests to
    one origin share its connections and its budget."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme, 0)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class BudgetStats:
    """A budget at one moment, and what happened to it so far."""

    limit: int
    in_flight: int
    paused_for: float  # seconds of pause left (0: not paused)
    max_in_flight: int
    throttled: int  # 429s reported
    decreases: int  # times the limit was halved
    increases: int  # times it grew by one
    waits: int  # times a request waited out a pause


class Ticket:
    """One request's slot; :meth:`done` gives it back (only the first call counts)."""

    __slots__ = ("_budget", "_done", "epoch")

    def __init__(self, budget: HostBudget, epoch: int) -> None:
        self._budget, self.epoch, self._done = budget, epoch, False

    def done(self, outcome: Outcome, *, retry_after: float | None = None) -> None:
        """The request is over: ``outcome``, and for a 429 the seconds it asked to wait."""
        if self._done:
            return
        self._done = True
        self._budget._release(self, outcome, retry_after)


class HostBudget:
    """The requests one host may have in flight, and when it may be sent any; thread-safe."""

    def __init__(
        self,
        ceiling: int,
        *,
        floor: int = 1,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if ceiling < 1 or not 1 <= floor <= ceiling:
            raise ValueError("a budget needs 1 <= floor <= ceiling")
        self.name, self.ceiling, self.floor = name, ceiling, floor
        self._clock, self._sleep = clock, sleep
        self._cond = threading.Condition(threading.Lock())
        self._limit = ceiling
        self._in_flight = 0
        self._paused_until = float("-inf")
        self._epoch = 0
        self._run = 0
        self._max_in_flight = 0
        self._throttled = self._decreases = self._increases = self._waits = 0

    def __repr__(self) -> str:
        return f"HostBudget({self.name!r}, limit={self._limit}/{self.ceiling})"

    @property
    def limit(self) -> int:
        """Requests the host may have in flight now."""
        return self._limit

    def stats(self) -> BudgetStats:
        with self._cond:
            return BudgetStats(
                limit=self._limit,
                in_flight=self._in_flight,
                paused_for=max(0.0, self._paused_until - self._clock()),
                max_in_flight=self._max_in_flight,
                throttled=self._throttled,
                decreases=self._decreases,
                increases=self._increases,
                waits=self._waits,
            )

    def pause(self, seconds: float) -> None:
        """Send nothing to the host for ``seconds`` from now (extends, never shortens)."""
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
            self._cond.notify_all()

    def acquire(self, max_wait: float | None = None) -> Ticket:
        """A slot for one request: first wait out any pause of the host (raising
        :class:`HostPaused` at once when what is left of it exceeds ``max_wait``), then
        wait until fewer than :attr:`limit` requests are in flight."""
        with self._cond:
            slept_to = float("-inf")  # the end of the pause this caller already waited out
            while True:
                now = self._clock()
                until = self._paused_until
                if now < until and until > slept_to:
                    left = until - now
                    if max_wait is not None and left > max_wait:
                        raise HostPaused(left)
                    self._waits += 1
                    self._cond.release()
                    try:
                        self._sleep(left)
                    finally:
                        self._cond.acquire()
                    slept_to = until
                    continue
                if self._in_flight < self._limit:
                    break
                self._cond.wait()
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return Ticket(self, self._epoch)

    def _release(self, ticket: Ticket, outcome: Outcome, seconds: float | None) -> None:
        with self._cond:
            self._in_flight -= 1
            if outcome is Outcome.THROTTLED:
                self._throttled += 1
                self._run = 0
                if seconds is not None and seconds > 0:
                    self._paused_until = max(self._paused_until, self._clock() + seconds)
                if ticket.epoch == self._epoch:  # the first 429 of this burst
                    self._epoch += 1
                    halved = max(self.floor, self._limit // 2)
                    if halved < self._limit:
                        self._limit = halved
                        self._decreases += 1
            elif outcome is Outcome.OK:
                self._run += 1
                if self._run >= self._limit and self._limit < self.ceiling:
                    self._limit += 1
                    self._increases += 1
                    self._run = 0
            else:
                self._run = 0
            self._cond.notify_all()


class Budgets:
    """One :class:`HostBudget` per origin (see :func:`origin`), made on first use;
    thread-safe."""

    def __init__(
        self,
        ceiling: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ceiling = ceiling
        self._clock, self._sleep = clock, sleep
        self._budgets: dict[str, HostBudget] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str) -> HostBudget:
        key = origin(url)
        with self._lock:
            budget = self._budgets.get(key)
            if budget is None:
                budget = HostBudget(self.ceiling, name=key, clock=self._clock, sleep=self._sleep)
                self._budgets[key] = budget
            return budget

    def all(self) -> dict[str, HostBudget]:
        with self._lock:
            return dict(self._budgets)
