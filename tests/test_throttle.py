"""HostBudget: one rate-limit budget per API host (pause on 429, AIMD), with an injected
clock; the thread tests sleep a few milliseconds at most, the pause one a third of a second."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from reconciler.throttle import Budgets, HostBudget, HostPaused, Outcome, origin, retry_after


class FakeTime:
    """A clock that moves only when slept on (or told to)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(ceiling: int = 8, **options: object) -> tuple[HostBudget, FakeTime]:
    fake = FakeTime()
    made = HostBudget(ceiling, clock=fake.clock, sleep=fake.sleep, **options)  # type: ignore[arg-type]
    return made, fake


# -- Retry-After and origins ------------------------------------------------------------------


def test_retry_after_in_seconds_and_as_an_http_date():
    assert retry_after("2") == 2.0
    assert retry_after(" 120 ") == 120.0
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after(later, now.timestamp()) == 30.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert retry_after(earlier, now.timestamp()) == 0.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now.timestamp()) == 0.0


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "1.5e3", "Wed, 99 Foo"])
def test_a_retry_after_not_understood_is_none(value: str | None):
    assert retry_after(value) is None


def test_origin_writes_the_port_and_lower_case():
    assert origin("https://API.example.org/rest") == "https://api.example.org:443"
    assert origin("https://api.example.org:443") == "https://api.example.org:443"
    assert origin("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"
    assert origin("http://localhost") == "http://localhost:80"
    assert origin("http://[::1]:9000/x") == "http://[::1]:9000"


def test_one_budget_per_origin():
    budgets = Budgets(4)
    a = budgets.for_url("https://api.example.org/tenant-a")
    assert budgets.for_url("https://API.example.org:443/tenant-b") is a
    assert budgets.for_url("https://api.example.org:8443") is not a
    assert len(budgets.all()) == 2 and a.ceiling == 4


def test_a_budget_needs_a_sane_ceiling_and_floor():
    for ceiling, floor in ((0, 1), (4, 0), (4, 5)):
        with pytest.raises(ValueError):
            HostBudget(ceiling, floor=floor)


# -- the pause ----------------------------------------------------------------------------------


def test_a_429_pauses_the_host_for_its_retry_after():
    b, fake = budget()
    b.acquire().done(Outcome.THROTTLED, retry_after=2.0)
    started = fake.now
    b.acquire().done(Outcome.OK)
    assert fake.slept == [2.0] and fake.now - started == 2.0
    b.acquire().done(Outcome.OK)  # the pause is over: no more waiting
    assert fake.slept == [2.0]
    assert b.stats().waits == 1 and b.stats().throttled == 1


def test_a_pause_longer_than_the_caller_will_wait_sends_nothing():
    b, fake = budget()
    b.acquire().done(Outcome.THROTTLED, retry_after=3600)
    with pytest.raises(HostPaused) as caught:
        b.acquire(max_wait=60)
    assert caught.value.seconds == pytest.approx(3600)
    assert fake.slept == [] and b.stats().in_flight == 0
    fake.now += 3600
    b.acquire(max_wait=60).done(Outcome.OK)


def test_later_429s_extend_a_pause_never_shorten_it():
    b, fake = budget()
    b.pause(10)
    b.acquire(max_wait=None).done(Outcome.THROTTLED, retry_after=1)  # waited 10 s first
    assert fake.slept == [10]
    b.pause(5)
    b.pause(2)
    assert b.stats().paused_for == pytest.approx(5)


def test_a_sleep_that_does_not_move_the_clock_waits_once_per_pause():
    fake = FakeTime()
    slept: list[float] = []
    b = HostBudget(4, clock=fake.clock, sleep=slept.append)
    b.pause(2)
    b.acquire().done(Outcome.OK)
    assert slept == [2]


def test_a_pause_extended_while_waiting_is_waited_out_too():
    fake = FakeTime()
    b = HostBudget(4, clock=fake.clock)
    calls: list[float] = []

    def sleep(seconds: float) -> None:  # another thread's 429 lands while this one sleeps
        calls.append(seconds)
        fake.now += seconds
        if len(calls) == 1:
            b.pause(3)

    b._sleep = sleep
    b.pause(1)
    b.acquire().done(Outcome.OK)
    assert calls == [1, 3]


def test_every_thread_waits_for_the_pause_over_real_time():
    b = HostBudget(8)
    ticket = b.acquire()
    sent: list[float] = []
    lock = threading.Lock()
    ticket.done(Outcome.THROTTLED, retry_after=0.3)
    paused_at = time.monotonic()

    def request() -> None:
        t = b.acquire()
        with lock:
            sent.append(time.monotonic())
        t.done(Outcome.OK)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: request(), range(16)))
    assert len(sent) == 16
    assert min(sent) - paused_at >= 0.3 - 0.01


# -- AIMD -------------------------------------------------------------------------------------


def test_a_burst_of_429s_halves_the_limit_once():
    b, _ = budget(8)
    tickets = [b.acquire() for _ in range(8)]
    for t in tickets:  # all were on the wire when the first 429 came back
        t.done(Outcome.THROTTLED, retry_after=0)
    assert b.limit == 4 and b.stats().decreases == 1
    b.acquire().done(Outcome.THROTTLED, retry_after=0)  # sent after the decrease
    assert b.limit == 2
    b.acquire().done(Outcome.THROTTLED, retry_after=0)
    b.acquire().done(Outcome.THROTTLED, retry_after=0)
    assert b.limit == 1, "the floor"


def test_a_run_of_successes_adds_one_up_to_the_ceiling():
    b, _ = budget(4)
    b.acquire().done(Outcome.THROTTLED, retry_after=0)
    b.acquire().done(Outcome.THROTTLED, retry_after=0)
    assert b.limit == 1
    b.acquire().done(Outcome.OK)  # a run of 1 at limit 1
    assert b.limit == 2
    b.acquire().done(Outcome.OK)
    b.acquire().done(Outcome.FAILED)  # a 5xx ends the run
    b.acquire().done(Outcome.OK)
    assert b.limit == 2
    b.acquire().done(Outcome.OK)
    assert b.limit == 3
    for _ in range(20):
        b.acquire().done(Outcome.OK)
    assert b.limit == 4 == b.ceiling


def test_a_ticket_counts_once():
    b, _ = budget(2)
    t = b.acquire()
    t.done(Outcome.OK)
    t.done(Outcome.THROTTLED, retry_after=5)
    stats = b.stats()
    assert stats.in_flight == 0 and stats.throttled == 0 and stats.paused_for == 0


def test_the_limit_bounds_requests_in_flight_across_threads():
    b = HostBudget(8)
    b.acquire().done(Outcome.THROTTLED, retry_after=0)  # 8 -> 4
    active = peak = 0
    lock = threading.Lock()

    def request(_: int) -> None:
        nonlocal active, peak
        t = b.acquire()
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.002)
        with lock:
            active -= 1
        t.done(Outcome.FAILED)  # failures do not grow the limit back

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(request, range(64)))
    assert peak <= 4 and b.stats().max_in_flight <= 8
    assert b.limit == 4


def test_thread_safety_under_mixed_outcomes():
    b = HostBudget(6, floor=2)
    rng = random.Random(7)
    outcomes = [rng.choice(list(Outcome)) for _ in range(400)]

    def request(outcome: Outcome) -> None:
        t = b.acquire()
        t.done(outcome, retry_after=0)

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(request, outcomes))
    stats = b.stats()
    assert stats.in_flight == 0
    assert 2 <= stats.limit <= 6
    assert stats.max_in_flight <= 6
    assert stats.throttled == outcomes.count(Outcome.THROTTLED)
