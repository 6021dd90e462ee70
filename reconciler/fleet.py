"""Running over a fleet: how many clinics at once, where they live, how hard to try.

Clinics are read and applied concurrently, within three limits: ``parallelism`` clinics in
all, ``per_host`` per API host and ``per_database`` per database server. Where a clinic lives
is its EMR package's :attr:`~reconciler.emr.contract.EmrPackage.site`; clinics that share a
site share its limit. :func:`run_bounded` starts a clinic only when both its limits have
room, so no worker ever sits waiting for a busy host while another host's clinics wait.

:class:`Network` is what adapters are told about timeouts and retries; each adapter keeps
one connection pool per host or database server and shares it between the clinics there.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_PARALLELISM = 10  # Terraform's default
DEFAULT_PER_HOST = 8  # requests in flight to one API host, from one run
DEFAULT_PER_DATABASE = 4  # connections to one database server, from one run


class SiteKind(StrEnum):
    HOST = "host"  # an API host (scheme://host:port)
    DATABASE = "database"  # a database server (driver://host:port)
    LOCAL = "local"  # nothing shared: a file on this machine, or no backend at all


@dataclass(frozen=True, slots=True)
class Site:
    """Where a clinic's live state is: clinics with the same site share its limit."""

    kind: SiteKind
    key: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value} {self.key}" if self.key else self.kind.value


LOCAL = Site(SiteKind.LOCAL)


@dataclass(frozen=True, slots=True)
class Network:
    """How adapters talk to EMRs: timeouts in seconds, attempts per request in all (reads,
    and writes that are safe to repeat), and the most connections an adapter keeps open to
    one API host or one database server (its pool there, shared by every clinic there)."""

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    attempts: int = 4
    host_connections: int = DEFAULT_PER_HOST
    database_connections: int = DEFAULT_PER_DATABASE


@dataclass(frozen=True, slots=True)
class Limits:
    """How many clinics at once: in all, per API host, per database server."""

    parallelism: int = DEFAULT_PARALLELISM
    per_host: int = DEFAULT_PER_HOST
    per_database: int = DEFAULT_PER_DATABASE

    def __post_init__(self) -> None:
        for name in ("parallelism", "per_host", "per_database"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    def for_site(self, site: Site) -> int:
        if site.kind is SiteKind.HOST:
            return min(self.per_host, self.parallelism)
        if site.kind is SiteKind.DATABASE:
            return min(self.per_database, self.parallelism)
        return self.parallelism

    @property
    def sequential(self) -> bool:
        return self.parallelism == 1


SEQUENTIAL = Limits(parallelism=1, per_host=1, per_database=1)


@dataclass(slots=True)
class _Queue(Generic[T]):
    waiting: deque[tuple[int, T]]
    running: int = 0


def run_bounded(
    items: Sequence[T],
    site_of: Callable[[T], Site],
    work: Callable[[T], R],
    limits: Limits,
    *,
    may_start: Callable[[], bool] = lambda: True,
    skipped: Callable[[T], R] | None = None,
) -> Iterator[tuple[int, R]]:
    """Run ``work`` on every item, within ``limits``; yield ``(index, result)`` as each
    finishes (the caller orders them if it wants to). ``work`` must not raise.

    Before each item starts, ``may_start()`` is asked; once it says no, no further item
    starts and each of the rest is handed to ``skipped`` (which must then be given). Items
    already running finish. With ``parallelism`` 1 everything runs in the calling thread,
    one item after another, in order.
    """
    if limits.sequential or len(items) <= 1:
        stopped = False
        for index, item in enumerate(items):
            stopped = stopped or not may_start()
            if stopped:
                assert skipped is not None, "may_start said no, and there is no skipped()"
                yield index, skipped(item)
            else:
                yield index, work(item)
        return
    queues: dict[Site, _Queue[T]] = {}
    order: list[Site] = []  # sites in the order their first item came: fair round-robin
    for index, item in enumerate(items):
        site = site_of(item)
        if site not in queues:
            queues[site] = _Queue(deque())
            order.append(site)
        queues[site].waiting.append((index, item))
    running: dict[Future[R], tuple[int, Site]] = {}
    stopped = False
    turn = 0
    with ThreadPoolExecutor(max_workers=limits.parallelism, thread_name_prefix="reconcile") as pool:
        while True:
            started = True
            while started and len(running) < limits.parallelism and not stopped:
                started = False
                for offset in range(len(order)):
                    site = order[(turn + offset) % len(order)]
                    queue = queues[site]
                    if not queue.waiting or queue.running >= limits.for_site(site):
                        continue
                    if not may_start():
                        stopped = True
                        break
                    index, item = queue.waiting.popleft()
                    queue.running += 1
                    running[pool.submit(work, item)] = (index, site)
                    turn = (turn + offset + 1) % len(order)
                    started = True
                    break
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, site = running.pop(future)
                queues[site].running -= 1
                yield index, future.result()
        if stopped:
            assert skipped is not None, "may_start said no, and there is no skipped()"
            rest = sorted((index, item) for site in order for index, item in queues[site].waiting)
            for index, item in rest:
                yield index, skipped(item)


class Progress:
    """Counts clinics as they finish (thread-safe); :mod:`reconciler.progress` shows it."""

    def __init__(self, total: int, listener: Callable[[Progress], None] | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._listener = listener

    @property
    def remaining(self) -> int:
        return self.total - self.done

    def finished(self, ok: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
        if self._listener is not None:
            self._listener(self)


@dataclass(frozen=True, slots=True)
class Shard:
    """``--shard I/N``: the clinics whose id hashes to ``I`` of ``N`` (1-based), so N runners
    split a fleet with no overlap and no gap, and a clinic stays on its runner as others
    come and go."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        found = re.fullmatch(r"\s*([0-9]{1,6})/([0-9]{1,6})\s*", text, re.ASCII)
        if found is None:
            raise ValueError(f"{text!r} is not I/N (for example 1/4; at most 6 digits each)")
        shard = cls(int(found.group(1)), int(found.group(2)))
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"{text!r}: I must be between 1 and N")
        return shard

    def picks(self, clinic_id: str) -> bool:
        digest = hashlib.sha256(clinic_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
