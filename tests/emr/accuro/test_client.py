"""The Accuro client against the simulator, over real sockets."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from reconciler.emr.accuro.api_model import PermissionsType
from reconciler.emr.accuro.client import AccuroApiError, AccuroClient, RetryPolicy
from reconciler.emr.accuro.simulator import Fault, Simulator, running_simulator
from reconciler.emr.accuro.spec import Permission
from reconciler.errors import EMRConnectionError
from tests.emr.accuro.conftest import (
    OCEAN_USER,
    SUBSCRIPTION_KEY,
    UUID,
    ClientFactory,
    example_data,
    make_seed,
    rest_requests,
    token_requests,
)

READ, WRITE = PermissionsType.READ_APPOINTMENTS, PermissionsType.WRITE_APPOINTMENTS


def test_happy_path_reads_what_the_adapter_needs(sim: Simulator, client_for: ClientFactory):
    with client_for(sim) as client:
        offices = client.offices()
        assert [(o.office_id, o.name, o.active) for o in offices] == [
            (1, "Main Street Office", True),
            (2, "Lakeshore Walk-In Clinic", True),
            (3, "Lakeside Physiotherapy", False),
        ]
        providers = client.providers_of_office(1)
        assert [p.provider_id for p in providers] == [1001, 1002, 1003, 1006, 1042]
        assert providers[0].display_name == "Smith, Jane"
        assert providers[0].email == "jsmith@lakeside.example"
        assert [p.display_name for p in client.providers_of_office(2)] == [
            "Smith, Jane",
            "Patel, Arjun",
            "Bouchard, Marie-Ève",
        ]
        user = client.find_user(OCEAN_USER)
        assert user is not None
        assert (user.user_id, user.active, user.system_admin, user.locked) == (
            57,
            True,
            False,
            False,
        )
        assert client.find_user("oceanapi12345") is None
        assert client.accessible_providers(READ) == (1001, 1003, 1004)
        assert client.accessible_providers(WRITE) == (1001, 1003, 1004)
        me = client.whoami()
        assert (me.tenant, me.username, me.user_id, me.office_ids) == (
            "LAKESIDE",
            OCEAN_USER,
            57,
            (1, 2),
        )
        assert me.grant_type == "client_credentials"
        assert [o.name for o in client.user_offices(57)] == [
            "Main Street Office",
            "Lakeshore Walk-In Clinic",
        ]
    assert token_requests(sim) == 1, "one token serves every call until it expires"
    calls = rest_requests(sim)
    assert len(calls) == 9
    assert all(r.query.get("uuid") == UUID and r.subscription_key_sent for r in calls)
    assert all(r.status == 200 for r in calls)


def test_a_bad_client_secret_is_a_connection_error(sim: Simulator, client_for: ClientFactory):
    client = client_for(sim, client_secret="not-the-secret-at-all")
    with pytest.raises(EMRConnectionError, match=r"refused the client credentials.*HTTP 401"):
        client.offices()
    assert rest_requests(sim) == []


def test_an_unknown_client_id_is_a_connection_error(sim: Simulator, client_for: ClientFactory):
    with pytest.raises(EMRConnectionError, match="client_id and client_secret"):
        client_for(sim, client_id="0oaUNKNOWNCLIENT").offices()


def test_a_wrong_uuid_is_refused_with_the_apis_message(sim: Simulator, client_for: ClientFactory):
    client = client_for(sim, uuid="3f1c8f2e-5a8b-4c1e-9d7a-000000000000")
    with pytest.raises(AccuroApiError) as caught:
        client.offices()
    assert caught.value.status == 400
    assert "database uuid does not match" in str(caught.value)
    assert "check emr.api.uuid" in str(caught.value)
    assert not isinstance(caught.value, EMRConnectionError)


def test_a_malformed_uuid_is_refused(sim: Simulator, client_for: ClientFactory):
    with pytest.raises(AccuroApiError, match=r"HTTP 400: Invalid UUID"):
        client_for(sim, uuid="not-a-uuid").offices()


@pytest.mark.parametrize(("key", "which"), [("", "a missing"), ("sk-wrong-key-000", "an invalid")])
def test_a_missing_or_wrong_subscription_key(
    sim: Simulator, client_for: ClientFactory, key: str, which: str
):
    client = client_for(sim, subscription_key=key)
    with pytest.raises(EMRConnectionError, match=f"{which} subscription key") as caught:
        client.offices()
    assert "check subscription_key" in str(caught.value)
    assert token_requests(sim) == 1, "a gateway refusal does not renew the token"


def test_an_expired_token_is_renewed_once(sim: Simulator, client: AccuroClient):
    assert len(client.offices()) == 3
    assert sim.state.expire_tokens() == 1
    assert len(client.offices()) == 3
    assert token_requests(sim) == 2
    assert [r.status for r in rest_requests(sim)] == [200, 401, 200]


def test_a_second_401_is_an_error_with_the_token_masked(sim: Simulator, client_for: ClientFactory):
    sim.state.token_lifetime = 0  # every token is born expired
    with pytest.raises(EMRConnectionError, match="rejected a newly issued token") as caught:
        client_for(sim).offices()
    assert token_requests(sim) == 2
    assert "Access token expired: (sensitive)" in str(caught.value)
    for token in sim.state.tokens:
        assert token not in str(caught.value)


def test_a_token_is_renewed_before_it_expires(sim: Simulator, client_for: ClientFactory):
    sim.state.token_lifetime = 1
    client = client_for(sim)
    client.offices()
    client.offices()
    assert token_requests(sim) == 1
    time.sleep(1.0)  # 1 s, less a margin of a tenth: the client renews first
    client.offices()
    assert token_requests(sim) == 2
    assert all(r.status == 200 for r in rest_requests(sim))


def test_paging_past_50_users(client_for: ClientFactory):
    data = example_data()
    data["users"] += [
        {"userId": 100 + i, "username": f"staff{i:03d}", "firstName": "S", "lastName": str(i)}
        for i in range(120)
    ]
    with running_simulator(make_seed(data)) as sim:
        users = client_for(sim).users()
        assert len(users) == 124
        assert [u.user_id for u in users] == sorted(u.user_id for u in users)
        assert len({u.user_id for u in users}) == 124
        pages = rest_requests(sim, "/rest/v1/users")
        assert [r.query.get("startingId") for r in pages] == [None, "145", "195"]
        assert all(r.query["pageSize"] == "50" for r in pages)
        assert [u.username for u in client_for(sim).users("staff077")] == ["staff077"]


def test_429_with_retry_after_then_success(sim: Simulator, client_for: ClientFactory):
    sim.state.add_fault(Fault(status=429, retry_after=1, count=1, path_prefix="/rest/v1/offices"))
    started = time.monotonic()
    assert len(client_for(sim).offices()) == 3
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was honoured"
    assert [r.status for r in rest_requests(sim)] == [429, 200]


def test_a_retry_after_beyond_the_limit_is_not_waited_for(
    sim: Simulator, client_for: ClientFactory
):
    sim.state.add_fault(Fault(status=429, retry_after=3600, count=None))
    started = time.monotonic()
    with pytest.raises(
        EMRConnectionError,
        match=r"rate limiting: it asked for a pause of 3600 seconds before POST /v1/token, "
        r"longer than the 5 worth waiting for",
    ):
        client_for(sim).offices()
    assert time.monotonic() - started < 1.0


def test_429_until_attempts_run_out(sim: Simulator, client_for: ClientFactory):
    sim.state.add_fault(Fault(status=429, retry_after=0, count=None, path_prefix="/rest/"))
    with pytest.raises(EMRConnectionError, match=r"HTTP 429 after 3 attempts"):
        client_for(sim).offices()


def test_one_5xx_is_retried(sim: Simulator, client_for: ClientFactory):
    sim.state.add_fault(Fault(status=500, count=1, path_prefix="/rest/"))
    assert len(client_for(sim).offices()) == 3
    assert [r.status for r in rest_requests(sim)] == [500, 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_exhausted_is_a_connection_error(
    sim: Simulator, client_for: ClientFactory, status: int
):
    sim.state.add_fault(Fault(status=status, count=None, path_prefix="/rest/"))
    with pytest.raises(EMRConnectionError, match=f"HTTP {status} 3 times"):
        client_for(sim).offices()
    assert len(rest_requests(sim)) == 3


def test_a_5xx_on_the_token_endpoint_is_retried(sim: Simulator, client_for: ClientFactory):
    sim.state.add_fault(Fault(status=503, count=2, path_prefix="/v1/token"))
    assert len(client_for(sim).offices()) == 3
    assert token_requests(sim) == 3


def test_latency_beyond_the_read_timeout(sim: Simulator, client_for: ClientFactory):
    sim.state.add_fault(Fault(latency=1.0, count=None, path_prefix="/rest/"))
    client = client_for(sim, timeout=httpx.Timeout(0.2), retry=RetryPolicy(2, 0.01, 0.05))
    started = time.monotonic()
    with pytest.raises(EMRConnectionError, match=r"did not answer GET /rest/v1/offices in time"):
        client.offices()
    assert time.monotonic() - started < 1.5


def test_latency_once_is_retried(sim: Simulator, client_for: ClientFactory):
    sim.state.add_fault(Fault(latency=1.0, count=1, path_prefix="/rest/"))
    client = client_for(sim, timeout=httpx.Timeout(0.3))
    assert len(client.offices()) == 3


def test_latency_within_the_timeout_is_fine(sim: Simulator, client_for: ClientFactory):
    sim.state.add_fault(Fault(latency=0.2, count=None))
    assert len(client_for(sim, timeout=httpx.Timeout(2.0)).offices()) == 3


def test_an_unreachable_api_is_a_connection_error(client_for: ClientFactory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EMRConnectionError, match=r"could not reach Accuro at 127\.0\.0\.1"):
        client_for(f"http://127.0.0.1:{port}").offices()


def test_an_inactive_ocean_user_gets_the_apis_401(sim: Simulator, client_for: ClientFactory):
    sim.state.set_user(OCEAN_USER, active=False)
    with pytest.raises(AccuroApiError, match="has been deactivated") as caught:
        client_for(sim).offices()
    assert caught.value.status == 401
    assert token_requests(sim) == 1, "a user refusal is not a token problem: no renewal"


def test_a_user_without_external_access(sim: Simulator, client_for: ClientFactory):
    sim.state.set_user(OCEAN_USER, external_access=False)
    with pytest.raises(AccuroApiError, match="External access is not enabled"):
        client_for(sim).whoami()


def test_inactive_and_locked_users_are_reported_as_such(sim: Simulator, client_for: ClientFactory):
    sim.state.set_user("jsmith", locked_date="2017-11-08T00:00:00.000")
    users = {u.username: u for u in client_for(sim).users()}
    assert users["frontdesk"].active is False
    assert users["jsmith"].locked
    assert users["admin"].system_admin


def test_accessible_providers_follow_the_admin_endpoint(sim: Simulator, client_for: ClientFactory):
    client = client_for(sim)
    grid = f"{sim.base_url}/_sim/grid/{OCEAN_USER}"
    assert client.accessible_providers(READ) == (1001, 1003, 1004)
    with httpx.Client() as admin:
        # a person ticks Scheduling for Okafor at Main Street
        row = admin.patch(f"{grid}/offices/1/providers/1002", json={"scheduling": "full"})
        assert row.json()["permissions"]["scheduling"] == "full"
        assert client.accessible_providers(READ) == (1001, 1002, 1003, 1004)
        # ... and clears Smith's row at Main Street: Lakeshore still has Scheduling read-only
        assert admin.delete(f"{grid}/offices/1/providers/1001").status_code == 200
        assert client.accessible_providers(READ) == (1001, 1002, 1003, 1004)
        assert client.accessible_providers(WRITE) == (1002, 1003, 1004)
        admin.patch(f"{grid}/offices/2/providers/1001", json={"scheduling": False})
        assert client.accessible_providers(READ) == (1002, 1003, 1004)
        # Visible is stored but enforced nowhere
        admin.patch(f"{grid}/offices/2/providers/1004", json={"visible": False})
        assert 1004 in client.accessible_providers(READ)
        rows = admin.get(grid).json()
    assert sim.state.row(OCEAN_USER, 2, 1004).get(Permission.VISIBLE) is None
    assert [(r["office"], r["provider"]) for r in rows] == [
        (1, 1001),
        (1, 1002),
        (1, 1003),
        (2, 1001),
        (2, 1004),
    ]


def test_a_token_without_a_scope_is_refused_with_401(sim: Simulator, client_for: ClientFactory):
    client = client_for(sim, scopes=("user/provider.Office.read",))
    assert len(client.offices()) == 3, "offices need no scope"
    with pytest.raises(AccuroApiError, match=r"HTTP 401: Access is denied"):
        client.users()


def test_a_scope_the_client_may_not_ask_for(sim: Simulator, client_for: ClientFactory):
    with pytest.raises(AccuroApiError, match=r"token request \(HTTP 400: Bad Request\)"):
        client_for(sim, scopes=("qhr-first-party",)).offices()


def test_a_subscription_key_is_never_needed_by_the_token_endpoint(sim: Simulator):
    with httpx.Client(base_url=sim.base_url) as raw:
        answer = raw.post(
            "/v1/token",
            params={"tenant": "LAKESIDE"},
            auth=(sim.state.seed.clients[0].client_id, sim.state.seed.clients[0].client_secret),
            data={"grant_type": "client_credentials", "scope": "user/provider.User.read"},
        )
    assert answer.status_code == 200
    assert SUBSCRIPTION_KEY not in answer.text


def test_an_unknown_tenant_names_the_tenant_setting(sim: Simulator, client_for: ClientFactory):
    with pytest.raises(AccuroApiError, match=r"clinic not found.*check emr\.api\.tenant"):
        client_for(sim, tenant="ELSEWHERE").offices()
    assert token_requests(sim) == 1


def test_many_clients_at_once(sim: Simulator, client_for: ClientFactory):
    clients = [client_for(sim) for _ in range(8)]

    def work(client: AccuroClient) -> int:
        return sum(len(client.providers_of_office(1)) for _ in range(10))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, clients)) == [50] * 8
    assert token_requests(sim) == 8
    assert all(r.status == 200 for r in rest_requests(sim))
