"""Running over a fleet: limits, fairness, order, stopping, shards, progress (no EMR)."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from reconciler.engine import Result, apply_plan, make_plan
from reconciler.fleet import (
    LOCAL,
    SEQUENTIAL,
    Limits,
    Progress,
    Shard,
    Site,
    SiteKind,
    run_bounded,
)
from reconciler.model import Clinic
from reconciler.plan import SafetyRule
from reconciler.progress import ProgressDisplay
from tests.test_engine import DRIFT, FakeAdapter, clinic

HOST_A, HOST_B = Site(SiteKind.HOST, "https://a"), Site(SiteKind.HOST, "https://b")
DB = Site(SiteKind.DATABASE, "mysql://db:3306")


class Meter:
    """Counts work in flight, in all and per site, and keeps the highest counts seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Counter[Site | str] = Counter()
        self.peak: Counter[Site | str] = Counter()
        self.threads: set[int] = set()

    def work(self, item: tuple[int, Site], seconds: float = 0.02) -> int:
        index, site = item
        with self.lock:
            self.now[site] += 1
            self.now["all"] += 1
            for key in (site, "all"):
                self.peak[key] = max(self.peak[key], self.now[key])
            self.threads.add(threading.get_ident())
        time.sleep(seconds)
        with self.lock:
            self.now[site] -= 1
            self.now["all"] -= 1
        return index


def items(*sites: tuple[Site, int]) -> list[tuple[int, Site]]:
    out: list[tuple[int, Site]] = []
    for site, count in sites:
        out += [(len(out) + i, site) for i in range(count)]
    return out


def site(item: tuple[int, Site]) -> Site:
    return item[1]


def test_limits_hold_in_all_and_per_site() -> None:
    meter = Meter()
    work = items((HOST_A, 12), (HOST_B, 12), (DB, 12), (LOCAL, 6))
    limits = Limits(parallelism=8, per_host=3, per_database=2)
    done = sorted(i for i, _ in run_bounded(work, site, meter.work, limits))
    assert done == list(range(len(work)))
    assert meter.peak["all"] <= 8
    assert meter.peak[HOST_A] <= 3 and meter.peak[HOST_B] <= 3 and meter.peak[DB] <= 2
    assert meter.peak["all"] >= 6  # the limits were used, not just respected


def test_a_busy_host_does_not_hold_up_the_others() -> None:
    """Each host's clinics wait only for their own host: a slow host with many clinics
    does not take the workers that another host's clinics need."""
    release = threading.Event()
    finished: list[Site] = []

    def work(item: tuple[int, Site]) -> Site:
        if item[1] == HOST_A:
            release.wait(5)
        return item[1]

    work_items = items((HOST_A, 20), (HOST_B, 20))
    limits = Limits(parallelism=6, per_host=3)
    for _, result in run_bounded(work_items, site, work, limits):
        finished.append(result)
        if finished.count(HOST_B) == 20:
            release.set()
    assert finished[:20] == [HOST_B] * 20  # every B clinic finished while A was stuck


def test_one_at_a_time_runs_in_this_thread_in_order() -> None:
    meter = Meter()
    work = items((HOST_A, 3), (HOST_B, 3))
    order = [i for i, _ in run_bounded(work, site, lambda x: meter.work(x, 0), SEQUENTIAL)]
    assert order == list(range(6)) and meter.threads == {threading.get_ident()}


@pytest.mark.parametrize("limits", [SEQUENTIAL, Limits(parallelism=4)])
def test_once_told_to_stop_nothing_else_starts(limits: Limits) -> None:
    started: list[int] = []
    lock = threading.Lock()

    def work(item: tuple[int, Site]) -> str:
        with lock:
            started.append(item[0])
        return "done"

    def may_start() -> bool:
        with lock:
            return len(started) < 3

    results = dict(
        run_bounded(
            items((HOST_A, 10)),
            site,
            work,
            limits,
            may_start=may_start,
            skipped=lambda item: "skipped",
        )
    )
    assert sorted(results) == list(range(10))
    assert Counter(results.values()) == {"done": 3, "skipped": 7}
    assert len(started) == 3


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="parallelism must be at least 1"):
        Limits(parallelism=0)


def test_per_site_limits_never_exceed_the_global_one() -> None:
    limits = Limits(parallelism=2, per_host=32, per_database=16)
    assert limits.for_site(HOST_A) == 2 and limits.for_site(DB) == 2


# --- the engine over many clinics --------------------------------------------------------


class SlowFake(FakeAdapter):
    """A fake whose read takes ``seconds``; counts reads in flight."""

    def __init__(self, seconds: float, meter: Meter) -> None:
        super().__init__(DRIFT)
        self.seconds, self.meter = seconds, meter

    def read(self, clinic: Clinic) -> Any:
        self.meter.work((0, LOCAL), self.seconds)
        return super().read(clinic)


def fleet(count: int) -> list[Clinic]:
    return [clinic(clinic__id=f"clinic-{i:03d}") for i in range(count)]


def test_a_plan_lists_clinics_in_the_order_given_whatever_order_they_finish_in() -> None:
    meter = Meter()
    clinics = fleet(12)
    # The first clinics are the slowest: they finish last.
    fakes = {c.id: SlowFake(0.12 - 0.01 * i, meter) for i, c in enumerate(clinics)}
    plan = make_plan(clinics, lambda c: fakes[c.id], limits=Limits(parallelism=6))
    assert [cp.clinic.id for cp in plan.clinics] == [c.id for c in clinics]
    assert meter.peak["all"] == 6


def test_apply_records_and_reports_in_plan_order_and_counts_progress() -> None:
    meter = Meter()
    clinics = fleet(8)
    fakes = {c.id: SlowFake(0.08 - 0.01 * i, meter) for i, c in enumerate(clinics)}
    plan = make_plan(clinics, lambda c: fakes[c.id], limits=Limits(parallelism=4))

    class Sink:
        def __init__(self) -> None:
            self.clinics: list[str] = []

        def record(self, clinic: Clinic, results: Sequence[Any], plan_id: str) -> None:
            self.clinics.append(clinic.id)

    sink, reported = Sink(), []
    progress = Progress(len(clinics))
    report = apply_plan(
        plan,
        lambda c: fakes[c.id],
        [SafetyRule.REVOKE_ROLE],
        sink,
        lambda o: reported.append(o.clinic_id),
        limits=Limits(parallelism=4),
        progress=progress,
    )
    ids = [c.id for c in clinics]
    assert sink.clinics == ids and reported == ids
    assert [o.clinic_id for o in report.outcomes] == ids
    assert all(o.ok for o in report.outcomes) and report.exit_code == 0
    assert (progress.done, progress.failed, progress.remaining) == (8, 0, 0)
    assert all(r.outcome is Result.APPLIED for o in report.outcomes for r in o.results)


def test_a_failing_clinic_does_not_stop_the_others_in_a_concurrent_apply() -> None:
    clinics = fleet(6)
    fakes = {c.id: FakeAdapter(DRIFT, fail=c.id == "clinic-002") for c in clinics}
    plan = make_plan(clinics, lambda c: fakes[c.id])
    progress = Progress(len(clinics))
    report = apply_plan(
        plan, lambda c: fakes[c.id], [SafetyRule.REVOKE_ROLE], limits=Limits(), progress=progress
    )
    assert [o.ok for o in report.outcomes] == [True, True, False, True, True, True]
    assert report.exit_code == 3 and progress.failed == 1


# --- shards ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_shards_cover_every_clinic_exactly_once(count: int) -> None:
    ids = [f"clinic-{i}" for i in range(2000)]
    picked = Counter(cid for i in range(1, count + 1) for cid in ids if Shard(i, count).picks(cid))
    assert set(picked) == set(ids) and set(picked.values()) == {1}
    sizes = [sum(Shard(i, count).picks(cid) for cid in ids) for i in range(1, count + 1)]
    mean = 2000 / count
    assert all(abs(size - mean) < 5 * mean**0.5 for size in sizes)  # roughly even


def test_a_clinic_stays_on_its_shard_whatever_the_run_or_the_rest_of_the_fleet() -> None:
    """The slice is a hash of the id alone (not Python's per-process hash): every runner,
    in every run, agrees, and a clinic added elsewhere moves no other clinic."""
    expected = {"lakeside-medical": 3, "riverside-fht": 3, "clinic-001": 1}
    for cid, index in expected.items():
        assert [i for i in range(1, 6) if Shard(i, 5).picks(cid)] == [index]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/3", "I must be between 1 and N"),
        ("4/3", "I must be between 1 and N"),
        ("1/0", "I must be between 1 and N"),
        ("1", "is not I/N"),
        ("a/b", "is not I/N"),
        ("-1/3", "is not I/N"),
    ],
)
def test_a_bad_shard_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Shard.parse(text)


def test_shard_text_round_trips() -> None:
    assert str(Shard.parse(" 3/8 ")) == "3/8"


# --- progress -----------------------------------------------------------------------------


def test_progress_is_one_line_rewritten_and_erased_at_the_end() -> None:
    stream = io.StringIO()
    with ProgressDisplay(3, "planning", enabled=True, stream=stream) as progress:
        progress.finished(True)
        progress.finished(False)
        progress.finished(True)
    text = stream.getvalue()
    assert "\n" not in text
    assert "planning: 0/3 clinics done, 3 remaining" in text
    assert "planning: 3/3 clinics done, 1 failing, 0 remaining" in text
    assert text.endswith("\r")


def test_progress_is_quiet_when_not_asked_and_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    with ProgressDisplay(5, "planning", stream=stream) as progress:
        progress.finished(True)
    assert stream.getvalue() == ""
    monkeypatch.setenv("CI", "true")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    with ProgressDisplay(5, "planning", stream=terminal) as progress:
        progress.finished(True)
    assert terminal.getvalue() == ""  # CI: quiet even on a terminal


# --- the flags, as a user types them -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--read-timeout", "1e309"], "must be a number greater than 0, not inf"),
        (["--connect-timeout", "nan"], "must be a number greater than 0, not nan"),
        (["--read-timeout", "7200"], "must be at most 3600"),
        (["--parallelism", "0"], "must be a number greater than 0"),
        (["--parallelism", "100000"], "must be at most 1024"),
        (["--attempts", "50"], "must be at most 20"),
        (["--shard", ""], "'' is not I/N"),
        (["--shard", "\uff11/\uff13"], "is not I/N"),  # full-width digits
        (["--shard", "1/" + "9" * 5000], "is not I/N"),
        (["--shard", "3/2"], "I must be between 1 and N"),
    ],
)
def test_a_bad_fleet_flag_is_a_usage_error(args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from reconciler.cli import cli

    result = CliRunner().invoke(cli, ["plan", *args, "clinics/none.yaml"])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
