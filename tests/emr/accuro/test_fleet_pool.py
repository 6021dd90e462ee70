"""The Accuro adapter shared by a fleet, from many threads: one httpx pool and one
rate-limit budget per API host, shared by every clinic there; credentials, tokens and
masks per clinic; the log filter safe with clients coming and going in threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from reconciler.config import load_clinics
from reconciler.emr.accuro import client as client_module
from reconciler.emr.accuro.adapter import AccuroAdapter
from reconciler.emr.accuro.client import AccuroClient, RetryPolicy, http_client
from reconciler.emr.accuro.live import AccuroLive
from reconciler.emr.accuro.sim_fleet import fleet_clinics, write_clinic_files
from reconciler.emr.accuro.simulator import Fault, Simulator, fleet_seed, running_simulator
from reconciler.errors import EMRConnectionError
from reconciler.fleet import Network
from reconciler.model import Clinic
from reconciler.throttle import origin

SHAPE = {"offices": 2, "providers": 2}


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[tuple[list[Simulator], list[Clinic]]]:
    """Two simulated hosts, clinics 1-6 on the first and 7-12 on the second."""
    with ExitStack() as stack:
        sims = [
            stack.enter_context(running_simulator(fleet_seed(6, start=start, **SHAPE)))
            for start in (1, 7)
        ]
        for sim, start in zip(sims, (1, 7), strict=True):
            write_clinic_files(tmp_path / "clinics", sim.base_url, 6, start=start, **SHAPE)
        clinics = list(load_clinics([tmp_path / "clinics"], here_and_now=False).clinics)
        assert len(clinics) == 12
        yield sims, clinics


def read_all(adapter: AccuroAdapter, clinics: list[Clinic], threads: int = 8) -> list[AccuroLive]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(adapter.read, clinics))


def test_one_pool_and_one_budget_per_host(two_hosts: tuple[list[Simulator], list[Clinic]]):
    sims, clinics = two_hosts
    adapter = AccuroAdapter(Network(host_connections=3))
    lives = read_all(adapter, clinics)
    assert all(live.user is not None for live in lives)
    hosts = adapter.hosts()
    assert sorted(hosts) == sorted(origin(s.base_url) for s in sims)
    for sim in sims:
        stats = sim.state.stats()
        assert stats["connections"] <= 3 and stats["max_in_flight"] <= 3, stats
        assert len({r.tenant for r in sim.state.requests}) == 6
    assert all(h.budget.ceiling == 3 and h.budget.stats().in_flight == 0 for h in hosts.values())
    assert adapter.host(sims[0].base_url + "/") is hosts[origin(sims[0].base_url)]
    adapter.close()
    assert all(h.http.is_closed for h in hosts.values())
    assert adapter.hosts() == {}
    read_all(adapter, clinics[:2])  # a read after close opens a new pool
    adapter.close()


def test_each_clinic_keeps_its_own_credentials_and_token(
    two_hosts: tuple[list[Simulator], list[Clinic]],
):
    sims, clinics = two_hosts
    adapter = AccuroAdapter(Network(host_connections=4))
    read_all(adapter, clinics * 2, threads=12)
    adapter.close()
    for sim in sims:
        by_tenant: dict[str | None, int] = {}
        for token in sim.state.tokens.values():
            by_tenant[token.tenant] = by_tenant.get(token.tenant, 0) + 1
        assert sorted(by_tenant.values()) == [2] * 6, "one token per clinic per read"
        assert all(r.status == 200 for r in sim.state.requests), "no clinic used another's"


def test_a_429_storm_halves_the_hosts_budget_and_pauses_it(
    two_hosts: tuple[list[Simulator], list[Clinic]],
):
    sims, clinics = two_hosts
    sims[0].state.add_fault(Fault(status=429, retry_after=1, count=4, path_prefix="/v1/token"))
    adapter = AccuroAdapter(Network(host_connections=4))
    read_all(adapter, clinics)
    hosts = adapter.hosts()
    stats = hosts[origin(sims[0].base_url)].budget.stats()
    assert stats.throttled == 4 and stats.decreases >= 1 and stats.waits >= 1
    other = hosts[origin(sims[1].base_url)].budget.stats()
    assert other.throttled == 0 and other.waits == 0, "the other host did not wait"
    adapter.close()


def test_an_injected_pool_is_left_open(two_hosts: tuple[list[Simulator], list[Clinic]]):
    sims, _ = two_hosts
    c = fleet_clinics(1, **SHAPE)[0]
    shared = http_client(connections=2)
    for _ in range(3):
        with AccuroClient(
            sims[0].base_url,
            tenant=c.tenant,
            uuid=c.uuid,
            client_id=c.client_id,
            client_secret=c.client_secret,
            subscription_key=c.subscription_key,
            http=shared,
        ) as client:
            assert client.whoami().tenant == c.tenant
    assert not shared.is_closed
    assert sims[0].state.stats()["connections"] == 1
    shared.close()


def test_a_shared_pool_keeps_no_cookies():
    seen: list[str | None] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Cookie"))
        if request.url.path == "/v1/token":
            body = {"token_type": "Bearer", "expires_in": 3600, "access_token": "tok-1234567"}
            return httpx.Response(200, json=body, headers={"Set-Cookie": "affinity=tenant-a"})
        return httpx.Response(200, json=[], headers={"Set-Cookie": "session=abc; Path=/"})

    shared = http_client(transport=httpx.MockTransport(route))
    for tenant in ("A", "B"):
        with AccuroClient(
            "https://accuro.example.org",
            tenant=tenant,
            uuid="3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
            client_id="client-id-1234",
            client_secret="secret-value-5678",
            subscription_key="subkey-value-9012",
            http=shared,
            retry=RetryPolicy(1),
        ) as client:
            client.offices()
    assert seen == [None] * 4 and not shared.cookies
    shared.close()


def test_one_log_filter_masks_every_open_clients_secrets_across_threads(
    caplog: pytest.LogCaptureFixture,
):
    """Clients open and close in eight threads while a ninth logs, through httpx's logger,
    a line holding its own client's secret: it is masked every time, and httpx's logger
    carries one mask filter however many clients there were."""
    caplog.set_level(logging.DEBUG, logger="httpx")
    options = {
        "tenant": "T",
        "uuid": "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
        "client_id": "client-id-1234",
        "subscription_key": "subkey-value-9012",
        "http": http_client(),
    }
    stop = threading.Event()

    def churn(n: int) -> None:
        while not stop.is_set():
            AccuroClient(
                "https://a.example.org", client_secret=f"churn-secret-{n:04d}", **options
            ).close()

    mine = AccuroClient("https://a.example.org", client_secret="mine-Secret-0042", **options)
    httpx_log = logging.getLogger("httpx")
    with ThreadPoolExecutor(8) as pool:
        for n in range(8):
            pool.submit(churn, n)
        for i in range(300):
            httpx_log.debug("header echo %s: mine-Secret-0042", i)
        stop.set()
    mine.close()
    options["http"].close()
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(lines) == 300
    assert all("mine-Secret-0042" not in line and "(sensitive)" in line for line in lines)
    filters = [f for f in httpx_log.filters if isinstance(f, client_module._LogMasks)]
    assert len(filters) == 1
    assert client_module._LOG_MASKS.open_clients() == 0


def test_a_pause_too_long_for_one_clinic_is_too_long_for_all(
    two_hosts: tuple[list[Simulator], list[Clinic]],
):
    sims, clinics = two_hosts
    sims[0].state.add_fault(Fault(status=429, retry_after=3600, count=1))
    adapter = AccuroAdapter(Network(host_connections=2))
    first, *rest = clinics[:6]
    with pytest.raises(EMRConnectionError, match="is rate limiting"):
        adapter.read(first)
    sent = len(sims[0].state.requests)
    for clinic in rest:
        with pytest.raises(EMRConnectionError, match="asked for a pause of 3600 more seconds"):
            adapter.read(clinic)
    assert len(sims[0].state.requests) == sent, "nothing was sent to the paused host"
    assert all(live.user is not None for live in read_all(adapter, clinics[6:]))
    adapter.close()
