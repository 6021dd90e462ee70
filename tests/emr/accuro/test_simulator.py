"""The simulator itself: the token endpoint, the filter chain's bodies, paging limits,
the grid, the admin endpoint, faults and the seed file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from reconciler.emr.accuro.sim_seed import Level, SeedError, seed_from_dict
from reconciler.emr.accuro.simulator import Fault, Simulator, running_simulator
from reconciler.emr.accuro.spec import Permission
from tests.conftest import ROOT
from tests.emr.accuro.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENV,
    OCEAN_USER,
    SUBSCRIPTION_KEY,
    UUID,
    example_data,
    make_seed,
)

ALL_SCOPES = (
    "user/provider.User.read user/provider.Office.read user/provider.ProviderPermissions.read"
)


class Raw:
    """Plain HTTP against the simulator, to see its exact answers."""

    def __init__(self, sim: Simulator) -> None:
        self.http = httpx.Client(base_url=sim.base_url)

    def token(self, **form: str) -> httpx.Response:
        data = {"grant_type": "client_credentials", "scope": ALL_SCOPES, **form}
        return self.http.post(
            "/v1/token", params={"tenant": "LAKESIDE"}, auth=(CLIENT_ID, CLIENT_SECRET), data=data
        )

    def get(self, path: str, *, token: str | None = None, **params: Any) -> httpx.Response:
        bearer = token if token is not None else self.token().json()["access_token"]
        headers = {"Authorization": f"Bearer {bearer}", "X-QHR-Subscription-Key": SUBSCRIPTION_KEY}
        return self.http.get(path, params={"uuid": UUID, **params}, headers=headers)


@pytest.fixture
def raw(sim: Simulator) -> Iterator[Raw]:
    r = Raw(sim)
    yield r
    r.http.close()


def test_a_token_as_the_guide_shows_it(raw: Raw):
    answer = raw.token()
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == ALL_SCOPES
    assert "refresh_token" not in body, "client credentials get no refresh token"


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({"grant_type": "authorization_code"}, 400),
        ({"scope": ""}, 400),
        ({"scope": "qhr-first-party"}, 400),
    ],
)
def test_token_requests_the_token_api_refuses(raw: Raw, how: dict[str, str], status: int):
    answer = raw.token(**how)
    assert answer.status_code == status
    assert answer.json() == {"code": "400", "message": "Bad Request"}


def test_token_requests_without_credentials_or_tenant(sim: Simulator, raw: Raw):
    form = {"grant_type": "client_credentials", "scope": ALL_SCOPES}
    no_auth = raw.http.post("/v1/token", params={"tenant": "LAKESIDE"}, data=form)
    assert (no_auth.status_code, no_auth.json()) == (
        401,
        {"code": "401", "message": "Unauthorized"},
    )
    wrong = raw.http.post("/v1/token", params={"tenant": "X"}, auth=(CLIENT_ID, "no"), data=form)
    assert wrong.status_code == 401
    no_tenant = raw.http.post("/v1/token", auth=(CLIENT_ID, CLIENT_SECRET), data=form)
    assert (no_tenant.status_code, no_tenant.json()["code"]) == (400, "400")


def test_an_unknown_tenant_gets_a_token_but_no_clinic(raw: Raw):
    form = {"grant_type": "client_credentials", "scope": ALL_SCOPES}
    answer = raw.http.post(
        "/v1/token", params={"tenant": "ACRON-NOWHERE"}, auth=(CLIENT_ID, CLIENT_SECRET), data=form
    )
    refused = raw.get("/rest/v1/offices", token=answer.json()["access_token"])
    assert (refused.status_code, refused.json()) == (
        401,
        {"error": "Configuration error: Accuro clinic not found."},
    )


def test_the_filter_chains_bodies(raw: Raw):
    no_bearer = raw.http.get(
        "/rest/v1/offices",
        params={"uuid": UUID},
        headers={"X-QHR-Subscription-Key": SUBSCRIPTION_KEY},
    )
    assert no_bearer.status_code == 401
    assert no_bearer.json()["error_description"].startswith("Full authentication is required")
    unknown = raw.get("/rest/v1/offices", token="made-up")
    assert unknown.json() == {
        "error": "invalid_token",
        "error_description": "Error verifying the access token",
    }
    assert unknown.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    no_uuid = raw.http.get(
        "/rest/v1/offices",
        headers={
            "Authorization": f"Bearer {raw.token().json()['access_token']}",
            "X-QHR-Subscription-Key": SUBSCRIPTION_KEY,
        },
    )
    assert (no_uuid.status_code, no_uuid.json()) == (400, {"error": "Required Parameter Missing."})
    missing = raw.http.get("/rest/v1/offices", params={"uuid": UUID})
    assert missing.json()["message"].startswith("Access denied due to missing subscription key")


def test_accessible_providers_needs_a_valid_type(raw: Raw):
    assert raw.get("/rest/v1/accessible-providers").json() == {
        "error": "permissionsType is required."
    }
    bad = raw.get("/rest/v1/accessible-providers", permissionsType="READ_LABS")
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid permission Type: READ_LABS"})


def test_user_paging_limits(sim: Simulator, raw: Raw):
    data = example_data()
    data["users"] += [{"userId": 100 + i, "username": f"u{i}"} for i in range(80)]
    with running_simulator(make_seed(data)) as big:
        r = Raw(big)
        try:
            default = r.get("/rest/v1/users").json()
            assert (default["count"], default["total"], default["lastId"]) == (25, 84, 120)
            clamped = r.get("/rest/v1/users", pageSize=500).json()
            assert clamped["count"] == 50
            assert r.get("/rest/v1/users", pageSize=0).json()["count"] == 25
            after = r.get("/rest/v1/users", startingId=57, pageSize=2).json()
            assert [u["userId"] for u in after["contents"]] == [60, 100], "startingId exclusive"
            one = r.get("/rest/v1/users", userName=OCEAN_USER).json()
            assert (one["count"], one["total"], one["contents"][0]["userId"]) == (1, 1, 57)
            assert r.get("/rest/v1/users", userName="oceanapi12345").json()["total"] == 0
            empty = r.get("/rest/v1/users", startingId=10_000).json()
            assert (empty["contents"], empty["lastId"]) == ([], None)
        finally:
            r.http.close()


def test_providers_of_office_can_be_filtered_by_the_grid():
    data = example_data()
    data["filter_office_providers"] = True
    with running_simulator(make_seed(data)) as sim:
        r = Raw(sim)
        try:
            listed = r.get("/rest/v1/providers/offices/1").json()
            assert sorted(p["providerId"] for p in listed) == [1001, 1002, 1003]
            assert r.get("/rest/v1/providers/offices/99").json() == []
        finally:
            r.http.close()


def test_module_disabled_and_unauthorized_client():
    data = example_data()
    data["rest_api_module"] = False
    with running_simulator(make_seed(data)) as sim:
        r = Raw(sim)
        try:
            answer = r.get("/rest/v1/offices")
            assert (answer.status_code, answer.json()) == (
                403,
                {"error": "Rest API Service is not enabled for this client."},
            )
        finally:
            r.http.close()
    data = example_data()
    data["clients"][0]["authorized"] = False
    with running_simulator(make_seed(data)) as sim:
        r = Raw(sim)
        try:
            answer = r.get("/rest/v1/offices")
            assert answer.status_code == 401
            assert answer.json()["error"].startswith("Provided clientId is not authorized")
        finally:
            r.http.close()


def test_a_client_without_a_service_user_sees_no_providers():
    data = example_data()
    del data["clients"][0]["service_user"]
    with running_simulator(make_seed(data)) as sim:
        r = Raw(sim)
        try:
            ids = r.get("/rest/v1/accessible-providers", permissionsType="READ_APPOINTMENTS")
            assert ids.json() == []
            assert "authGrantTypeDetail" not in r.get("/rest/v1/whoami").json()
        finally:
            r.http.close()


def test_the_admin_endpoint(sim: Simulator, raw: Raw):
    grid = f"/_sim/grid/{OCEAN_USER}/offices/2/providers/1005"
    empty = raw.http.get(grid).json()
    assert set(empty["permissions"].values()) == {None}
    put = raw.http.put(grid, json={"patient": True, "scheduling": "read_only", "visible": True})
    assert put.json()["permissions"] == {
        "patient": "full",
        "scheduling": "read_only",
        "billing": None,
        "emr": None,
        "labs": None,
        "visible": True,
    }
    assert sim.state.row(OCEAN_USER, 2, 1005) == {
        Permission.PATIENT: Level.FULL,
        Permission.SCHEDULING: Level.READ_ONLY,
        Permission.VISIBLE: Level.FULL,
    }
    assert raw.http.put(grid, json={"labs": "sometimes"}).status_code == 400
    assert raw.http.put(grid, json={"inbox": True}).status_code == 400
    assert raw.http.get("/_sim/grid/nobody").status_code == 404
    user = raw.http.patch(f"/_sim/users/{OCEAN_USER}", json={"active": False}).json()
    assert user["active"] is False
    assert raw.http.patch(f"/_sim/users/{OCEAN_USER}", json={"password": "x"}).status_code == 400
    fault = raw.http.post("/_sim/faults", json={"status": 503, "count": 2})
    assert fault.status_code == 201
    assert raw.http.get("/_sim/faults").json()[0]["status"] == 503
    assert raw.http.delete("/_sim/faults").status_code == 204
    assert raw.http.post("/_sim/faults", json={"count": 1}).status_code == 400
    assert raw.http.post("/_sim/tokens/expire").json() == {"expired": 0}
    assert all(not r.path.startswith("/_sim") for r in sim.state.requests)


def test_a_fraction_of_requests_fail(sim: Simulator, raw: Raw):
    sim.state.add_fault(Fault(status=503, count=None, fraction=0.5, path_prefix="/rest/"))
    token = raw.token().json()["access_token"]
    statuses = [raw.get("/rest/v1/offices", token=token).status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35
    assert set(statuses) == {200, 503}


def test_a_429_carries_retry_after_and_the_gateways_body(sim: Simulator, raw: Raw):
    sim.state.add_fault(Fault(status=429, retry_after=7, count=1))
    answer = raw.get("/rest/v1/offices", token="irrelevant")
    assert answer.headers["Retry-After"] == "7"
    assert answer.json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 7 seconds.",
    }


def test_the_example_seed_matches_the_lakeside_clinic_file():
    seed = make_seed()
    clinic = yaml.safe_load((ROOT / "clinics" / "lakeside-medical.yaml").read_text())
    api = clinic["emr"]["api"]
    assert (seed.tenant, seed.uuid) == (api["tenant"], api["uuid"])
    assert seed.clients[0].service_user == clinic["ocean_api_user"]["username"]
    offices = {o.name: o.office_id for o in seed.offices}
    for office in clinic["ocean_api_user"]["offices"]:
        office_id = offices[office["name"]]  # the exact Office Name exists
        here = [p for p in seed.providers if office_id in p.offices]
        for declared in office["providers"]:
            if "id" in declared:
                assert declared["id"] in {p.provider_id for p in here}
            else:
                names = [f"{p.last_name}, {p.first_name}" for p in here]
                assert names.count(declared["name"]) == 1, declared["name"]
    secret_env = {api["client_secret"]["env"], api["subscription_key"]["env"]}
    assert secret_env <= set(ENV)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["clients"][0].update(client_secret="literal"), r"must be \{env: NAME\}"),
        (lambda d: d.update(subscription_keys=["literal"]), r"must be \{env: NAME\}"),
        (lambda d: d["clients"][0].update(client_secret={"env": "UNSET_X"}), "UNSET_X"),
        (lambda d: d["users"].append({"userId": 1, "username": "dup"}), "duplicate userId"),
        (lambda d: d["clients"][0].update(service_user="ghost"), "ghost"),
        (lambda d: d["grid"].update(ghost=[]), "grid.ghost"),
        (lambda d: d["grid"][OCEAN_USER].append({"office": 1}), r"provider: must be a int"),
        (
            lambda d: d["grid"][OCEAN_USER].append(
                {"office": 1, "provider": 1, "permissions": ["inbox"]}
            ),
            "unknown column",
        ),
    ],
)
def test_bad_seeds(change: Any, message: str):
    data = example_data()
    change(data)
    with pytest.raises(SeedError, match=message) as caught:
        seed_from_dict(data, ENV)
    assert CLIENT_SECRET not in str(caught.value)


def test_a_seed_never_shows_its_secrets():
    shown = repr(make_seed())
    assert CLIENT_SECRET not in shown
    assert SUBSCRIPTION_KEY not in shown


def test_admin_token_lifetime_and_request_log(sim: Simulator, raw: Raw):
    assert raw.http.put("/_sim/tokens/lifetime", json={"seconds": 5}).json() == {"seconds": 5}
    assert raw.token().json()["expires_in"] == 5
    assert raw.http.put("/_sim/tokens/lifetime", json={"seconds": -1}).status_code == 400
    token = raw.token().json()["access_token"]
    raw.get("/rest/v1/whoami", token=token)
    log = raw.http.get("/_sim/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/v1/token", 200),
        ("POST", "/v1/token", 200),
        ("GET", "/rest/v1/whoami", 200),
    ]
    assert log[-1]["query"] == {"uuid": UUID} and log[-1]["subscription_key_sent"] is True
    assert token not in str(log)
    assert raw.http.delete("/_sim/requests").status_code == 204
    assert raw.http.get("/_sim/requests").json() == []
    assert raw.http.post("/_sim/faults", json={"status": 404}).status_code == 400
    once = raw.http.post("/_sim/faults", json={"status": 503}).json()
    assert (once["count"], once["fraction"], once["path_prefix"]) == (1, 1.0, "/")
    forever = raw.http.post("/_sim/faults", json={"latency": 0.01, "count": None}).json()
    assert forever["count"] is None
    assert raw.http.get("/_sim/nothing").status_code == 404


def test_unknown_paths_and_methods(raw: Raw):
    assert raw.get("/rest/v1/nothing").json() == {"error": "Resource not found."}
    assert raw.http.get("/v1/token").status_code in (401, 405)
    assert raw.http.get("/elsewhere").status_code == 404
