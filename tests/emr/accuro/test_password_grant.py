"""The password grant: the OceanAPI user signs in with its own password, against the
simulator over real sockets (and, for shapes the simulator never sends, a mock transport).
What the token then reads is what that user, and so Ocean, sees; every refusal names the
setting to look at; the password appears in no message, log record or repr."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import httpx
import pytest

from reconciler.emr.accuro import sim_state
from reconciler.emr.accuro.api_model import PermissionsType
from reconciler.emr.accuro.client import AccuroApiError, AccuroClient, RetryPolicy
from reconciler.emr.accuro.sim_seed import SeedError, seed_from_dict
from reconciler.emr.accuro.simulator import Fault, Simulator, running_simulator
from reconciler.emr.accuro.spec import Grant, Permission
from reconciler.errors import EMRConnectionError, ReconcilerError
from tests.emr.accuro.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENV,
    OCEAN_PASSWORD,
    OCEAN_USER,
    SUBSCRIPTION_KEY,
    TENANT,
    ClientFactory,
    example_data,
    make_seed,
    rest_requests,
    token_requests,
)

READ, WRITE = PermissionsType.READ_APPOINTMENTS, PermissionsType.WRITE_APPOINTMENTS
SIGN_IN_REFUSED = (
    r"Accuro at 127\.0\.0\.1:\d+ refused the OceanAPI user's sign-in for tenant LAKESIDE "
    r"\(HTTP 400: {}\); check ocean_api_user\.password, and that the user is active and not "
    r"locked"
)
JSMITH_PASSWORD = "jsmith-own-password-51"
ADMIN_PASSWORD = "admin-password-without-offices"


def password_forms(password: str) -> set[str]:
    """The password as sent and as a third party may print it."""
    return {password, quote_plus(password), quote(password, safe="")}


def with_passwords(data: dict[str, Any]) -> dict[str, Any]:
    for user in data["users"]:
        if user["username"] == "jsmith":
            user["password"] = JSMITH_PASSWORD
        if user["username"] == "admin":
            user["password"] = ADMIN_PASSWORD
    return data


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """The example Accuro; jsmith and admin (who belongs to no office) have passwords too."""
    with running_simulator(make_seed(with_passwords(example_data()))) as running:
        yield running


SignIn = Callable[..., AccuroClient]


@pytest.fixture
def sign_in(sim: Simulator, client_for: ClientFactory) -> SignIn:
    """A password-grant client for ``sim``, as the OceanAPI user unless told otherwise."""

    def make(**options: Any) -> AccuroClient:
        settings: dict[str, Any] = {
            "grant": Grant.PASSWORD,
            "username": OCEAN_USER,
            "password": OCEAN_PASSWORD,
        }
        settings.update(options)
        return client_for(sim, **settings)

    return make


# -- it works, as that user ------------------------------------------------------------------


def test_the_password_grant_end_to_end(sim: Simulator, sign_in: SignIn):
    client = sign_in()
    assert [o.office_id for o in client.offices()] == [1, 2, 3]
    me = client.whoami()
    assert (me.username, me.user_id, me.grant_type, me.office_ids) == (
        OCEAN_USER,
        57,
        "password",
        (1, 2),
    )
    assert client.accessible_providers(READ) == (1001, 1003, 1004)
    user = client.find_user(OCEAN_USER)
    assert user is not None and user.active
    assert token_requests(sim) == 1
    assert all(r.status == 200 for r in rest_requests(sim))
    (token,) = sim.state.tokens.values()
    assert (token.grant, token.service_user, token.office) == ("password", OCEAN_USER, None)


def test_the_token_acts_as_the_user_who_signed_in_not_the_clients_service_user(
    sim: Simulator, sign_in: SignIn
):
    sim.state.set_cells("jsmith", 1, 1002, {Permission.SCHEDULING: "read_only"})
    client = sign_in(username="jsmith", password=JSMITH_PASSWORD)
    me = client.whoami()
    assert (me.username, me.user_id, me.grant_type) == ("jsmith", 12, "password")
    assert client.accessible_providers(READ) == (1002,), "jsmith's grid, not OceanAPI's"
    assert client.accessible_providers(WRITE) == ()


def test_what_the_api_shows_follows_the_users_grid(sim: Simulator, sign_in: SignIn):
    client = sign_in()
    assert 1002 not in client.accessible_providers(READ)
    sim.state.set_cells(OCEAN_USER, 1, 1002, {Permission.SCHEDULING: True})
    assert 1002 in client.accessible_providers(WRITE)


def test_login_office_is_sent_as_office(sim: Simulator, sign_in: SignIn):
    client = sign_in(login_office=2)
    assert client.whoami().username == OCEAN_USER
    (token,) = sim.state.tokens.values()
    assert token.office == 2


def test_an_expired_password_grant_token_is_renewed_as_the_same_user(
    sim: Simulator, sign_in: SignIn
):
    client = sign_in()
    client.offices()
    sim.state.expire_tokens()
    assert client.whoami().username == OCEAN_USER
    assert token_requests(sim) == 2
    assert {t.service_user for t in sim.state.tokens.values()} == {OCEAN_USER}


def test_the_client_credentials_grant_is_unchanged(sim: Simulator, client_for: ClientFactory):
    client = client_for(sim, password=OCEAN_PASSWORD)  # given, but not the grant asked for
    me = client.whoami()
    assert (me.username, me.grant_type) == (OCEAN_USER, "client_credentials")


# -- refusals, each naming its setting ----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"password": "not-the-password"}, "Bad credentials"),
        ({"password": OCEAN_PASSWORD.upper()}, "Bad credentials"),
        ({"username": "oceanapi12345"}, "Bad credentials"),  # user names are exact
        ({"username": "nobody-here"}, "Bad credentials"),
        ({"username": "frontdesk", "password": "anything-at-all"}, "Bad credentials"),  # none
    ],
)
def test_a_wrong_password_or_user(
    sim: Simulator, sign_in: SignIn, options: dict[str, str], why: str
):
    with pytest.raises(EMRConnectionError, match=SIGN_IN_REFUSED.format(why)):
        sign_in(**options).offices()
    assert token_requests(sim) == 1, "a refused sign-in is not retried"
    assert rest_requests(sim) == []


def test_a_locked_user(sim: Simulator, sign_in: SignIn):
    sim.state.set_user(OCEAN_USER, locked_date="2026-11-30T09:00:00.000")
    with pytest.raises(EMRConnectionError, match=SIGN_IN_REFUSED.format("User account is locked")):
        sign_in().offices()


def test_an_inactive_user(sim: Simulator, sign_in: SignIn):
    sim.state.set_user(OCEAN_USER, active=False)
    with pytest.raises(EMRConnectionError, match=SIGN_IN_REFUSED.format("User is disabled")):
        sign_in().offices()


def test_locked_is_told_before_disabled_and_neither_without_the_password(
    sim: Simulator, sign_in: SignIn
):
    sim.state.set_user(OCEAN_USER, active=False, locked_date="2026-11-30T09:00:00.000")
    with pytest.raises(EMRConnectionError, match="User account is locked"):
        sign_in().offices()
    with pytest.raises(EMRConnectionError, match="Bad credentials"):
        sign_in(password="a-wrong-password").offices()


@pytest.mark.parametrize(
    ("options", "asked", "why"),
    [
        ({"login_office": 3}, "office 3", "User does not belong to the requested Office."),
        ({"login_office": 99}, "office 99", "User does not belong to the requested Office."),
        (
            {"login_office": 1, "username": "admin", "password": ADMIN_PASSWORD},
            "office 1",
            "User does not belong to any Office.",
        ),
    ],
)
def test_an_office_the_user_does_not_belong_to(
    sign_in: SignIn, options: dict[str, Any], asked: str, why: str
):
    with pytest.raises(EMRConnectionError) as caught:
        sign_in(**options).offices()
    assert str(caught.value).endswith(
        f"refused the OceanAPI user's sign-in for tenant LAKESIDE with {asked} "
        f"(HTTP 401: {why}); check emr.api.login_office"
    )


def test_an_accuro_that_insists_on_an_office(client_for: ClientFactory):
    data = example_data()
    data["require_login_office"] = True
    with running_simulator(make_seed(data)) as sim:
        settings = {"grant": Grant.PASSWORD, "username": OCEAN_USER, "password": OCEAN_PASSWORD}
        with pytest.raises(EMRConnectionError, match=r"with no office .*login_office") as caught:
            client_for(sim, **settings).offices()
        assert "Office must be supplied" in str(caught.value)
        assert client_for(sim, login_office=1, **settings).whoami().username == OCEAN_USER


def test_an_unknown_tenant_is_refused_at_sign_in(sim: Simulator, sign_in: SignIn):
    with pytest.raises(EMRConnectionError, match=r"Invalid tenant id\.\); check emr\.api\.tenant"):
        sign_in(tenant="ELSEWHERE").offices()
    assert rest_requests(sim) == []


def test_the_client_credentials_are_still_checked_first(sim: Simulator, sign_in: SignIn):
    with pytest.raises(EMRConnectionError, match="check client_id and client_secret"):
        sign_in(client_secret="not-the-client-secret").offices()
    with pytest.raises(EMRConnectionError, match="check client_id and client_secret"):
        sign_in(client_secret="not-the-client-secret", password="wrong-too").offices()


def test_a_scope_the_client_may_not_ask_for(sign_in: SignIn):
    with pytest.raises(AccuroApiError, match=r"HTTP 400: Bad Request\); check the tenant"):
        sign_in(scopes=("qhr-first-party",)).offices()


def test_a_deactivated_user_after_sign_in_is_the_apis_401(sim: Simulator, sign_in: SignIn):
    client = sign_in()
    client.offices()
    sim.state.set_user(OCEAN_USER, active=False)
    with pytest.raises(AccuroApiError, match="has been deactivated"):
        client.offices()


def test_a_5xx_on_the_token_endpoint_is_retried(sim: Simulator, sign_in: SignIn):
    sim.state.add_fault(Fault(status=503, count=2, path_prefix="/v1/token"))
    assert sign_in().whoami().username == OCEAN_USER
    assert token_requests(sim) == 3


# -- the simulator's token endpoint, as plain HTTP ------------------------------------------


def post_token(sim: Simulator, **form: str) -> httpx.Response:
    data = {
        "grant_type": "password",
        "username": OCEAN_USER,
        "password": OCEAN_PASSWORD,
        "scope": "user/provider.User.read",
        **form,
    }
    with httpx.Client(base_url=sim.base_url) as raw:
        return raw.post(
            "/v1/token", params={"tenant": TENANT}, auth=(CLIENT_ID, CLIENT_SECRET), data=data
        )


def test_the_token_endpoints_answers(sim: Simulator):
    ok = post_token(sim, office="1")
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"token_type", "expires_in", "access_token", "scope", "office"}
    assert (body["expires_in"], body["office"]) == (3600, 1)
    assert "office" not in post_token(sim).json()
    cases = {
        ("password", "nope"): (400, "invalid_grant", "Bad credentials"),
        ("office", "one"): (400, "invalid_request", "Office must be an integer."),
        ("office", "1.0"): (400, "invalid_request", "Office must be an integer."),
        ("office", "3"): (401, "unauthorized", "User does not belong to the requested Office."),
    }
    for (field, value), (status, error, description) in cases.items():
        answer = post_token(sim, **{field: value})
        assert answer.status_code == status, (field, value)
        assert answer.json() == {"error": error, "error_description": description}
    assert post_token(sim, scope="").json() == {"code": "400", "message": "Bad Request"}
    with httpx.Client(base_url=sim.base_url) as raw:
        form = {
            "grant_type": "password",
            "username": OCEAN_USER,
            "scope": "user/provider.User.read",
        }
        missing = raw.post(
            "/v1/token", params={"tenant": TENANT}, auth=(CLIENT_ID, CLIENT_SECRET), data=form
        )
    assert (missing.status_code, missing.json()["error_description"]) == (400, "Bad credentials")


def test_passwords_are_compared_in_constant_time(sim: Simulator, monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[bytes, bytes]] = []
    real = sim_state.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(sim_state.hmac, "compare_digest", spy)
    assert post_token(sim).status_code == 200
    assert post_token(sim, username="nobody").status_code == 400
    assert len(calls) == 2, "compared even for an unknown user"


def test_the_admin_endpoint_and_request_log_never_show_a_password(sim: Simulator):
    post_token(sim)
    post_token(sim, password="wrong-password-xyz")
    with httpx.Client(base_url=sim.base_url) as raw:
        # a password in the query string (never in a form body) is kept as (sensitive)
        raw.post(
            "/v1/token",
            params={"tenant": TENANT, "password": OCEAN_PASSWORD},
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "password", "username": OCEAN_USER, "scope": "x"},
        )
        shown = [
            raw.get(f"/_sim/users/{OCEAN_USER}").text,
            raw.get("/_sim/requests").text,
        ]
    assert '"username": "OceanAPI12345"' in shown[0]
    assert "password" not in shown[0].lower()
    assert "(sensitive)" in shown[1]
    for text in shown:
        for secret in (*password_forms(OCEAN_PASSWORD), "wrong-password-xyz"):
            assert secret not in text
    assert OCEAN_PASSWORD not in repr(sim.state.seed)
    assert OCEAN_PASSWORD not in repr(sim.state.users)


# -- the seed ---------------------------------------------------------------------------------


def test_a_seed_users_password_from_the_environment_or_literal():
    seed = make_seed()
    ocean = next(u for u in seed.users if u.username == OCEAN_USER)
    assert ocean.password == OCEAN_PASSWORD
    assert OCEAN_PASSWORD not in repr(ocean)
    assert next(u for u in seed.users if u.username == "jsmith").password is None
    literal = with_passwords(example_data())
    assert (
        next(u for u in make_seed(literal).users if u.username == "jsmith").password
        == JSMITH_PASSWORD
    )
    env = {k: v for k, v in ENV.items() if k != "LAKESIDE_OCEANAPI_PASSWORD"}
    unset = r"users\[2\]\.password: environment variable LAKESIDE_OCEANAPI_PASSWORD is not set"
    with pytest.raises(SeedError, match=unset):
        seed_from_dict(example_data(), env)
    bad = example_data()
    bad["users"][0]["password"] = ""
    with pytest.raises(SeedError, match=r"users\[0\]\.password"):
        make_seed(bad)


# -- the client's side: the form, the messages, the masks -----------------------------------

TOKEN = {"token_type": "bearer", "expires_in": 3600, "access_token": "tok-abcdef123456"}


def mock_client(route: Callable[[httpx.Request], httpx.Response], **options: Any) -> AccuroClient:
    settings: dict[str, Any] = {
        "tenant": "T",
        "uuid": "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
        "client_id": "client-id-1234",
        "client_secret": "secret-value-5678",
        "subscription_key": "subkey-value-9012",
        "grant": Grant.PASSWORD,
        "username": OCEAN_USER,
        "password": OCEAN_PASSWORD,
        "transport": httpx.MockTransport(route),
        "retry": RetryPolicy(3, 0.0, 0.0, 30),
    }
    settings.update(options)
    return AccuroClient("https://accuro.example.org", **settings)


def test_the_token_request_form():
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/token":
            return httpx.Response(200, json={**TOKEN, "refresh_token": "refresh-0123456789"})
        return httpx.Response(200, json=[])

    with mock_client(route, login_office=7) as client:
        client.offices()
    token = seen[0]
    assert (token.method, token.url.path, token.url.params["tenant"]) == ("POST", "/v1/token", "T")
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    basic = base64.b64encode(b"client-id-1234:secret-value-5678").decode()
    assert token.headers["Authorization"] == f"Basic {basic}"
    assert token.headers["X-QHR-Subscription-Key"] == "subkey-value-9012"
    body = token.content.decode()
    assert list(parse_qs(body)) == ["grant_type", "username", "password", "scope", "office"]
    form = {k: v[0] for k, v in parse_qs(body).items()}
    assert form == {
        "grant_type": "password",
        "username": OCEAN_USER,
        "password": OCEAN_PASSWORD,
        "scope": "user/provider.User.read user/provider.Office.read "
        "user/provider.ProviderPermissions.read",
        "office": "7",
    }
    assert seen[1].headers["Authorization"] == "Bearer tok-abcdef123456"


def test_no_office_without_login_office():
    forms: list[dict[str, list[str]]] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/token":
            forms.append(parse_qs(request.content.decode()))
            return httpx.Response(200, json=TOKEN)
        return httpx.Response(200, json=[])

    with mock_client(route) as client:
        client.offices()
    assert "office" not in forms[0]


def test_a_password_echoed_by_the_server_is_masked_in_every_form():
    echoed = f"Bad credentials for {OCEAN_PASSWORD} ({quote_plus(OCEAN_PASSWORD)})"

    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": echoed})

    with mock_client(route) as client, pytest.raises(EMRConnectionError) as caught:
        client.offices()
    message = str(caught.value)
    assert "check ocean_api_user.password" in message
    assert message.count("(sensitive)") == 2
    for form in password_forms(OCEAN_PASSWORD):
        assert form not in message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}),
        (400, {"error": "unauthorized_client", "error_description": "The client is not ..."}),
        (
            401,
            {"error": "invalid_client", "error_description": "Unauthorized grant type: password"},
        ),
    ],
)
def test_a_token_endpoint_without_the_password_grant(status: int, body: dict[str, str]):
    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    with mock_client(route) as client, pytest.raises(EMRConnectionError) as caught:
        client.offices()
    assert "does not offer the password grant to this client for tenant T" in str(caught.value)
    assert str(caught.value).endswith("; check emr.api.grant")


def test_a_non_integer_office_refusal_names_login_office():
    def route(request: httpx.Request) -> httpx.Response:
        body = {"error": "invalid_request", "error_description": "Office must be an integer."}
        return httpx.Response(400, json=body)

    with mock_client(route) as client, pytest.raises(AccuroApiError, match="login_office"):
        client.offices()


def test_a_refresh_token_is_masked_too():
    replies = iter(
        [
            httpx.Response(200, json={**TOKEN, "refresh_token": "refresh-0123456789"}),
            httpx.Response(403, json={"error": "refresh-0123456789 is not allowed"}),
        ]
    )
    with mock_client(lambda request: next(replies)) as client, pytest.raises(AccuroApiError) as e:
        client.offices()
    assert "refresh-0123456789" not in str(e.value)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"password": None}, "password"),
        ({"password": ""}, "password"),
        ({"username": None}, "username"),
        ({"username": ""}, "username"),
        ({"login_office": "1"}, "login_office"),
        ({"login_office": True}, "login_office"),
    ],
)
def test_a_password_grant_without_what_it_needs(options: dict[str, Any], complaint: str):
    with pytest.raises(ValueError, match=complaint) as caught:
        mock_client(lambda request: httpx.Response(500), **options)
    for form in password_forms(OCEAN_PASSWORD):
        assert form not in str(caught.value)


def test_the_client_shows_no_password(sign_in: SignIn):
    client = sign_in(login_office=1)
    client.offices()
    for shown in (repr(client), str(client), repr(vars(client))):
        for form in password_forms(OCEAN_PASSWORD):
            assert form not in shown
    assert repr(client).endswith("tenant='LAKESIDE', grant='password')")


# -- the sweep: no password in any error, log record or repr -------------------------------

Scenario = Callable[[Simulator, SignIn], AccuroClient]


def _user(**changes: Any) -> Scenario:
    def scenario(sim: Simulator, make: SignIn) -> AccuroClient:
        sim.state.set_user(OCEAN_USER, **changes)
        return make()

    return scenario


def _faulty(**fault: Any) -> Scenario:
    def scenario(sim: Simulator, make: SignIn) -> AccuroClient:
        sim.state.add_fault(Fault(**fault))
        return make(timeout=httpx.Timeout(0.2), retry=RetryPolicy(2, 0.01, 0.02, 5))

    return scenario


def _expired(sim: Simulator, make: SignIn) -> AccuroClient:
    sim.state.token_lifetime = 0
    return make()


SCENARIOS: dict[str, Scenario] = {
    "wrong password": lambda sim, make: make(password=OCEAN_PASSWORD + "x"),
    "locked": _user(locked_date="2026-11-30T09:00:00.000"),
    "inactive": _user(active=False),
    "no external access": _user(external_access=False),
    "wrong office": lambda sim, make: make(login_office=3),
    "wrong tenant": lambda sim, make: make(tenant="ELSEWHERE"),
    "bad client secret": lambda sim, make: make(client_secret=CLIENT_SECRET + "x"),
    "wrong key": lambda sim, make: make(subscription_key=SUBSCRIPTION_KEY[::-1]),
    "expired tokens": _expired,
    "503 on sign-in": _faulty(status=503, count=None, path_prefix="/v1/token"),
    "slow sign-in": _faulty(latency=0.5, count=None, path_prefix="/v1/token"),
    "429": _faulty(status=429, retry_after=0, count=None),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_password_in_errors_or_logs(
    name: str, sim: Simulator, sign_in: SignIn, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    for logger in ("httpx", "httpcore"):
        logging.getLogger(logger).setLevel(logging.DEBUG)
    client = SCENARIOS[name](sim, sign_in)
    with pytest.raises(ReconcilerError) as caught:
        client.offices()
        client.accessible_providers(READ)
        client.whoami()
    assert {r.name.split(".")[0] for r in caplog.records} >= {"httpcore", "reconciler"}
    secrets = password_forms(OCEAN_PASSWORD) | {CLIENT_SECRET, SUBSCRIPTION_KEY}
    secrets |= {base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()}
    secrets |= set(sim.state.tokens)
    texts = [str(caught.value), repr(caught.value), repr(client), repr(vars(client))]
    texts += [str(c) for c in (caught.value.__cause__, caught.value.__context__) if c]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) for r in caplog.records]
    texts += [repr(r.query) for r in sim.state.requests]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{name}: a secret leaked into {text[:80]!r}"


def test_the_happy_path_logs_no_password(
    sim: Simulator, sign_in: SignIn, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    client = sign_in(login_office=2)
    client.offices()
    sim.state.expire_tokens()
    client.whoami()
    joined = "\n".join(
        [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    )
    assert "new password token for tenant LAKESIDE" in joined
    assert "POST /v1/token" in joined  # the simulator's own request line
    for secret in (*password_forms(OCEAN_PASSWORD), *sim.state.tokens):
        assert secret not in joined
