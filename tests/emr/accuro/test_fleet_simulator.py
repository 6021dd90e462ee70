"""The simulator as one API host of many clinics: tenants picked by ``?tenant=`` and then by
the token, a synthetic fleet and its clinic files, host-wide faults (a reset among them),
and a threading server that keeps 64 slow requests in flight at once."""

from __future__ import annotations

import http.client
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emr.accuro.client import AccuroClient, RetryPolicy
from reconciler.emr.accuro.sim_fleet import (
    FleetClinic,
    clinic,
    fleet_clinics,
    requests_per_read,
    write_clinic_files,
)
from reconciler.emr.accuro.sim_seed import SeedError, seeds_from_dict
from reconciler.emr.accuro.simulator import (
    Fault,
    SimState,
    Simulator,
    fleet_seed,
    running_simulator,
)
from reconciler.errors import EMRConnectionError
from tests.conftest import ROOT
from tests.emr.accuro.conftest import ENV, example_data

SCOPES = "user/provider.User.read user/provider.Office.read user/provider.ProviderPermissions.read"
FAST = RetryPolicy(attempts=2, backoff=0.01, backoff_max=0.02, max_retry_after=5)


@pytest.fixture
def fleet() -> Iterator[Simulator]:
    with running_simulator(fleet_seed(4, offices=2, providers=3)) as sim:
        yield sim


def client_of(sim: Simulator, c: FleetClinic, **options: Any) -> AccuroClient:
    settings: dict[str, Any] = {
        "tenant": c.tenant,
        "uuid": c.uuid,
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "subscription_key": c.subscription_key,
        "retry": FAST,
        **options,
    }
    return AccuroClient(sim.base_url, **settings)


def token(sim: Simulator, tenant: str, c: FleetClinic) -> httpx.Response:
    return httpx.post(
        f"{sim.base_url}/v1/token",
        params={"tenant": tenant},
        auth=(c.client_id, c.client_secret),
        data={"grant_type": "client_credentials", "scope": SCOPES},
    )


def rest(sim: Simulator, bearer: str, key: str, uuid: str, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}", "X-QHR-Subscription-Key": key}
    return httpx.get(f"{sim.base_url}{path}", params={"uuid": uuid}, headers=headers)


# -- the synthetic fleet ----------------------------------------------------------------------


def test_a_fleet_is_the_same_every_time_and_salted_apart():
    a, b = fleet_seed(3, offices=2, providers=4), fleet_seed(3, offices=2, providers=4)
    assert a == b
    assert [s.tenant for s in a] == ["SIM0001", "SIM0002", "SIM0003"]
    assert len({s.uuid for s in a}) == 3
    salted = fleet_seed(3, offices=2, providers=4, salt="other")
    assert {s.clients[0].client_secret for s in salted}.isdisjoint(
        {s.clients[0].client_secret for s in a}
    )
    later = fleet_seed(2, start=3, offices=2, providers=4)
    assert later[0] == a[2], "a fleet split over hosts is the same fleet"


def test_a_fleet_clinics_shape():
    c = clinic(7, offices=3, providers=12)
    assert [o.office_id for o in c.offices] == [1, 2, 3]
    names = [(p.last_name, p.first_name) for o in c.offices for p in o.providers]
    ids = [p.provider_id for o in c.offices for p in o.providers]
    assert len(set(names)) == len(names) == 36 and len(set(ids)) == 36
    assert requests_per_read(c) == 3 + 6
    big = clinic(1, offices=2, providers=400)  # more than the name lists: numbered
    assert len({(p.last_name, p.first_name) for o in big.offices for p in o.providers}) == 800
    assert "cs-" not in repr(c) and c.client_secret not in repr(c)


def test_drift_removes_a_box_from_some_rows():
    (none,) = fleet_seed(1, offices=3, providers=10, drift=0.0)
    (some,) = fleet_seed(1, offices=3, providers=10, drift=0.5)
    (user,) = none.grid
    assert all(len(cell) == 6 for cell in none.grid[user].values())
    short = [cell for cell in some.grid[user].values() if len(cell) < 6]
    assert 5 <= len(short) <= 25


# -- seed files: one tenant, or several ----------------------------------------------------


def test_a_single_tenant_seed_is_one_tenant_and_tenants_are_many():
    one = seeds_from_dict(example_data(), ENV)
    assert [s.tenant for s in one] == ["LAKESIDE"]
    first, second = example_data(), example_data()
    second.update(tenant="HARBOUR", uuid="9b2e7c1a-0f4d-4e8b-a1c3-5d6e7f809a1b")
    del first["token_lifetime_seconds"], second["token_lifetime_seconds"], first["province"]
    second["province"] = "NS"  # a tenant's own value wins over the host's
    host = {"token_lifetime_seconds": 60, "province": "BC", "tenants": [first, second]}
    many = seeds_from_dict(host, ENV)
    assert [s.tenant for s in many] == ["LAKESIDE", "HARBOUR"]
    assert [(s.token_lifetime_seconds, s.province) for s in many] == [(60, "BC"), (60, "NS")]
    with pytest.raises(SeedError, match="same tenant: LAKESIDE"):
        seeds_from_dict({"tenants": [example_data(), example_data()]}, ENV)
    with pytest.raises(SeedError, match=r"tenants\[1\]: seed.uuid"):
        seeds_from_dict({"tenants": [example_data(), {"tenant": "X"}]}, ENV)
    with pytest.raises(SeedError, match="non-empty list"):
        seeds_from_dict({"tenants": []}, ENV)


# -- one host, many tenants ---------------------------------------------------------------


def test_the_token_endpoint_picks_the_tenant_and_the_token_carries_it(fleet: Simulator):
    a, b = fleet_clinics(2, offices=2, providers=3)
    assert token(fleet, a.tenant, b).status_code == 401, "B's client is not A's"
    bearer = token(fleet, a.tenant, a).json()["access_token"]
    me = rest(fleet, bearer, a.subscription_key, a.uuid, "/rest/v1/whoami").json()
    assert me["tenant"] == a.tenant and me["authGrantTypeDetail"]["id"] == a.username
    # A's token with B's key, or B's uuid: refused
    assert rest(fleet, bearer, b.subscription_key, a.uuid, "/rest/v1/whoami").status_code == 401
    mismatch = rest(fleet, bearer, a.subscription_key, b.uuid, "/rest/v1/whoami")
    assert mismatch.status_code == 400 and "does not match" in mismatch.json()["error"]
    assert rest(fleet, bearer, "nobodys", a.uuid, "/rest/v1/whoami").status_code == 401
    records = [r for r in fleet.state.requests if r.path == "/rest/v1/whoami"]
    assert {r.tenant for r in records} == {a.tenant}


def test_each_tenant_sees_its_own_clinic(fleet: Simulator):
    seen = {}
    for c in fleet_clinics(4, offices=2, providers=3):
        with client_of(fleet, c) as client:
            me = client.whoami()
            user = client.find_user(c.username)
            providers = client.providers_of_office(1)
        assert me.tenant == c.tenant and me.username == c.username and user is not None
        assert [p.provider_id for p in providers] == [p.provider_id for p in c.offices[0].providers]
        seen[c.tenant] = [p.display_name for p in providers]
    assert len({tuple(v) for v in seen.values()}) == 4, "names differ from clinic to clinic"


def test_the_admin_api_takes_a_tenant(fleet: Simulator):
    c = fleet_clinics(2, offices=2, providers=3)[1]
    base = f"{fleet.base_url}/_sim"
    with httpx.Client() as admin:
        rows = admin.get(f"{base}/grid/{c.username}", params={"tenant": c.tenant}).json()
        assert len(rows) == 6
        assert admin.get(f"{base}/grid/{c.username}").status_code == 404, "not the primary's"
        assert admin.get(f"{base}/grid/x", params={"tenant": "NOPE"}).status_code == 404
        row = f"{base}/grid/{c.username}/offices/1/providers/1001"
        admin.patch(row, params={"tenant": c.tenant}, json={"scheduling": False})
        assert fleet.state.row(c.username, 1, 1001, tenant=c.tenant).get("scheduling") is None
        tenants = admin.get(f"{base}/tenants").json()
        assert [t["tenant"] for t in tenants] == ["SIM0001", "SIM0002", "SIM0003", "SIM0004"]
        assert tenants[1]["service_users"] == [c.username]
        fault = {"status": 503, "count": None, "tenant": c.tenant}
        assert admin.post(f"{base}/faults", json=fault).status_code == 201
        assert admin.post(f"{base}/faults", json={"reset": True, "status": 503}).status_code == 400
        stats = admin.get(f"{base}/stats").json()
    assert stats["tenants"] == 4 and stats["connections"] >= 1


# -- faults, per host and per tenant ----------------------------------------------------------


def test_a_fault_for_one_tenant_leaves_the_others_alone(fleet: Simulator):
    a, b = fleet_clinics(2, offices=2, providers=3)
    fleet.state.add_fault(Fault(status=503, count=None, tenant=b.tenant))
    with client_of(fleet, a) as client:
        assert client.whoami().tenant == a.tenant
    with client_of(fleet, b) as client, pytest.raises(EMRConnectionError, match="HTTP 503 2"):
        client.whoami()
    failed = {r.tenant for r in fleet.state.requests if r.status == 503}
    assert failed == {b.tenant}


def test_a_host_wide_fault_hits_every_tenant(fleet: Simulator):
    fleet.state.add_fault(Fault(status=502, count=None, path_prefix="/rest/v1/offices"))
    for c in fleet_clinics(3, offices=2, providers=3):
        with client_of(fleet, c) as client, pytest.raises(EMRConnectionError, match="502"):
            client.offices()
    assert {r.tenant for r in fleet.state.requests if r.status == 502} == {
        "SIM0001",
        "SIM0002",
        "SIM0003",
    }


def test_a_reset_closes_the_connection_without_an_answer(fleet: Simulator):
    c = fleet_clinics(1, offices=2, providers=3)[0]
    fleet.state.add_fault(Fault(reset=True, count=1, path_prefix="/rest/v1/offices"))
    with client_of(fleet, c) as client:
        assert len(client.offices()) == 2, "retried on a fresh connection"
    statuses = [r.status for r in fleet.state.requests if r.path == "/rest/v1/offices"]
    assert statuses == [0, 200]
    fleet.state.add_fault(Fault(reset=True, count=None, path_prefix="/rest/v1/offices"))
    with (
        client_of(fleet, c) as client,
        pytest.raises(EMRConnectionError, match=r"could not reach Accuro .* 2 attempts"),
    ):
        client.offices()


def test_a_429_can_say_retry_after_as_an_http_date(fleet: Simulator):
    fleet.state.add_fault(Fault(status=429, retry_after=2, retry_after_date=True))
    answer = httpx.get(f"{fleet.base_url}/rest/v1/offices")
    assert answer.status_code == 429
    when = parsedate_to_datetime(answer.headers["Retry-After"])
    ahead = (when - datetime.now(UTC)).total_seconds()
    assert 1.0 <= ahead <= 3.0


# -- the server under load ----------------------------------------------------------------


def test_64_slow_requests_are_served_at_once(fleet: Simulator):
    """64 connections, 3 requests each, 50 ms of latency on every one: together 0.15 s, one
    after another 9.6 s."""
    fleet.state.add_fault(Fault(latency=0.05, count=None))
    where = urlsplit(fleet.base_url)
    start = threading.Barrier(64)

    def work(_: int) -> list[int]:
        conn = http.client.HTTPConnection(where.hostname or "", where.port)
        conn.connect()
        start.wait()
        statuses = []
        for _ in range(3):
            conn.request("GET", "/rest/v1/offices")
            answer = conn.getresponse()
            answer.read()
            statuses.append(answer.status)
        conn.close()
        return statuses

    began = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(work, range(64)))
    elapsed = time.monotonic() - began
    assert all(s == [401, 401, 401] for s in results)
    stats = fleet.state.stats()
    assert stats["max_in_flight"] >= 48, stats
    assert stats["connections"] == 64
    assert elapsed < 2.0, f"{elapsed:.2f}s: the simulator is the bottleneck"


def test_a_state_needs_distinct_tenants():
    seeds = fleet_seed(1)
    with pytest.raises(ValueError, match="same name"):
        SimState([seeds[0], seeds[0]])
    with pytest.raises(ValueError, match="at least one"):
        SimState([])


# -- clinic files for a fleet -------------------------------------------------------------


def test_clinic_files_validate_and_hold_no_secret(tmp_path: Path):
    folder = tmp_path / "clinics"
    written = write_clinic_files(folder, "http://127.0.0.1:8765", 3, offices=2, providers=2)
    assert [p.name for p in written.paths] == ["sim-0001.yaml", "sim-0002.yaml", "sim-0003.yaml"]
    assert written.environ == {}
    text = written.paths[0].read_text("utf-8")
    c = clinic(1, offices=2, providers=2)
    for what in ("client_id", "client_secret", "subscription_key", "password"):
        assert c.secret(what) not in text
        secret_file = folder / "secrets" / "sim-0001" / what
        assert secret_file.read_text("utf-8") == c.secret(what) + "\n"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert f"file: secrets/sim-0001/{what}" in text
    result = CliRunner().invoke(cli, ["validate", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_clinic_files_with_secrets_in_the_environment(tmp_path: Path):
    written = write_clinic_files(
        tmp_path, "http://127.0.0.1:1", 2, offices=1, providers=1, secrets="env"
    )
    assert sorted(written.environ)[:2] == ["SIM_0001_CLIENT_ID", "SIM_0001_CLIENT_SECRET"]
    assert len(written.environ) == 8
    assert "env: SIM_0002_PASSWORD" in written.paths[1].read_text("utf-8")
    assert not (tmp_path / "secrets").exists()


def test_the_command_line_serves_a_fleet_and_writes_its_clinic_files(tmp_path: Path):
    folder = tmp_path / "clinics"
    command = [sys.executable, "-m", "reconciler.emr.accuro.simulator", "--fleet", "3"]
    command += ["--offices", "2", "--providers", "2", "--port", "0"]
    command += ["--write-clinics", str(folder), "--latency", "0.01"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            assert f"base_url: {base_url}" in (folder / "sim-0002.yaml").read_text("utf-8")
            c = clinic(2, offices=2, providers=2)
            with AccuroClient(
                base_url,
                tenant=c.tenant,
                uuid=c.uuid,
                client_id=(folder / "secrets/sim-0002/client_id").read_text().strip(),
                client_secret=c.client_secret,
                subscription_key=c.subscription_key,
            ) as client:
                assert [o.name for o in client.offices()] == [o.name for o in c.offices]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "wrote 3 clinic files" in err
    assert c.client_secret not in err


def test_the_command_line_wants_a_seed_or_a_fleet():
    env = {**os.environ}
    for args, complaint in (
        ([], "either --seed FILE or --fleet N"),
        (["--fleet", "2", "--seed", __file__], "either --seed FILE or --fleet N"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "reconciler.emr.accuro.simulator", *args, "--port", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2 and complaint in done.stderr
