"""The client's edges with ``httpx.MockTransport``: shapes the simulator never sends."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from reconciler.emr.accuro import api_model as m
from reconciler.emr.accuro.client import AccuroApiError, AccuroClient, RetryPolicy
from reconciler.emr.accuro.spec import AccuroApi, AccuroSpec, Grant, OceanApiUser, UndeclaredPolicy
from reconciler.errors import AdapterError, EMRConnectionError, SecretError
from reconciler.secrets import SecretRef

Handler = Callable[[httpx.Request], httpx.Response]
TOKEN = {"token_type": "Bearer", "expires_in": 3600, "access_token": "tok-abcdef123456"}


def client(handler: Handler, **options: object) -> AccuroClient:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/token":
            return httpx.Response(200, json=TOKEN)
        return handler(request)

    settings: dict[str, object] = {
        "tenant": "T",
        "uuid": "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
        "client_id": "client-id-1234",
        "client_secret": "secret-value-5678",
        "subscription_key": "subkey-value-9012",
        "transport": httpx.MockTransport(route),
        "retry": RetryPolicy(3, 0.0, 0.0, 30),
    }
    settings.update(options)
    return AccuroClient("https://accuro.example.org", **settings)  # type: ignore[arg-type]


def answer(body: object, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"officeId": 1}, None),
        ([{"name": "x"}], "officeId"),
        ([{"officeId": "1", "name": "x"}], "officeId"),
        ([{"officeId": 1, "name": 5}], "name"),
        ([{"officeId": 1, "name": "x", "active": "yes"}], "active"),
    ],
)
def test_malformed_offices(body: object, field: str | None):
    with client(answer(body)) as c, pytest.raises(AdapterError) as caught:
        c.offices()
    assert "unexpected answer to /rest/v1/offices" in str(caught.value)
    if field:
        assert field in str(caught.value)


def test_a_body_that_is_not_json():
    bad = client(lambda r: httpx.Response(200, text="<html>oops</html>"))
    with bad as c, pytest.raises(AdapterError, match="is not JSON"):
        c.offices()


def test_locked_date_as_a_string_an_array_or_null():
    users = [
        {"userId": 1, "username": "a", "active": True, "systemAdmin": False, "lockedDate": None},
        {"userId": 2, "username": "b", "active": True, "lockedDate": "2017-11-08T00:00:00.000"},
        {"userId": 3, "username": "c", "active": False, "lockedDate": [2017, 11, 8, 0, 0, 0, 0]},
    ]
    envelope = {"contents": users, "count": 3, "total": 3, "lastId": 3}
    with client(answer(envelope)) as c:
        found = c.users()
    assert [u.locked_date for u in found] == [
        None,
        "2017-11-08T00:00:00.000",
        "2017-11-08T00:00:00.000",
    ]
    assert [u.locked for u in found] == [False, True, True]


def test_paging_that_does_not_advance_is_an_error():
    page = {"contents": [{"userId": 5, "username": "x", "active": True}], "total": 9, "lastId": 5}
    with client(answer(page)) as c, pytest.raises(AdapterError, match="did not advance"):
        c.users()


def test_an_empty_page_ends_paging():
    pages = iter(
        [
            {"contents": [{"userId": 5, "username": "x", "active": True}], "total": 9, "lastId": 5},
            {"contents": [], "count": 0, "total": 9, "lastId": None},
        ]
    )
    with client(lambda r: httpx.Response(200, json=next(pages))) as c:
        assert [u.user_id for u in c.users()] == [5]


def test_retry_after_as_an_http_date():
    sleeps: list[float] = []
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    replies = iter(
        [httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200, json=[])]
    )
    with client(lambda r: next(replies), sleep=sleeps.append) as c:
        assert c.offices() == ()
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 2


def test_404_and_403_are_api_errors_not_connection_errors():
    not_found = answer({"error": "Resource not found."}, 404)
    with client(not_found) as c, pytest.raises(AccuroApiError) as caught:
        c.whoami()
    assert caught.value.status == 404
    assert not isinstance(caught.value, EMRConnectionError)
    forbidden = answer({"error": "Rest API Service is not enabled for this client."}, 403)
    with client(forbidden) as c, pytest.raises(AccuroApiError, match="HTTP 403: Rest API"):
        c.offices()


def test_a_long_server_message_is_cut_and_masked():
    long = "Access token expired: tok-abcdef123456 " + "x" * 500
    with client(answer({"error": long}, 400)) as c, pytest.raises(AccuroApiError) as caught:
        c.offices()
    assert "tok-abcdef123456" not in str(caught.value)
    assert "(sensitive)" in str(caught.value)
    assert len(caught.value.detail) <= 160


def test_the_guides_401_body_renews_the_token():
    replies = iter([httpx.Response(401, json={"code": "401", "message": "Unauthorized"})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(replies, httpx.Response(200, json=[1, 2]))

    with client(handler) as c:
        assert c.accessible_providers(m.PermissionsType.READ_APPOINTMENTS) == (1, 2)


def test_a_token_response_without_a_token():
    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token_type": "Bearer"})

    no_token = client(route, transport=httpx.MockTransport(route))
    with no_token as c, pytest.raises(AdapterError, match="lacks access_token"):
        c.offices()


def test_every_request_carries_the_key_and_rest_calls_the_uuid():
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/token":
            form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
            assert form["grant_type"] == "client_credentials"
            assert request.headers["Authorization"].startswith("Basic ")
            assert request.url.params["tenant"] == "T"
            return httpx.Response(200, json=TOKEN)
        assert request.headers["Authorization"] == "Bearer tok-abcdef123456"
        return httpx.Response(200, json=json.loads("[]"))

    with client(route, transport=httpx.MockTransport(route)) as c:
        c.offices()
        c.providers_of_office(7)
    assert all(r.headers["X-QHR-Subscription-Key"] == "subkey-value-9012" for r in seen)
    assert [r.url.params.get("uuid") for r in seen[1:]] == [
        "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11"
    ] * 2


def spec(grant: Grant, *, password: bool = True, login_office: int | None = None) -> AccuroSpec:
    api = AccuroApi(
        base_url="https://accuro.example.org",
        tenant="T",
        uuid="3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
        client_id=SecretRef("env", "T_ACC_ID"),
        client_secret=SecretRef("env", "T_ACC_SECRET"),
        subscription_key=SecretRef("env", "T_ACC_KEY"),
        grant=grant,
        login_office=login_office,
    )
    user = OceanApiUser(
        username="OceanAPI12345",
        password=SecretRef("env", "T_ACC_PASSWORD") if password else None,
        offices=(),
        undeclared_providers=UndeclaredPolicy.REPORT,
    )
    return AccuroSpec(api=api, ocean_api_user=user, full_schedule_sync=True)


def test_from_spec_resolves_references(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(SecretError, match="T_ACC_ID"):
        AccuroClient.from_spec(spec(Grant.CLIENT_CREDENTIALS))
    monkeypatch.setenv("T_ACC_ID", "id-0001")
    monkeypatch.setenv("T_ACC_SECRET", "secret-0002")
    monkeypatch.setenv("T_ACC_KEY", "key-0003")
    cc = spec(Grant.CLIENT_CREDENTIALS)
    with AccuroClient.from_spec(cc, transport=httpx.MockTransport(answer([]))) as c:
        assert c.base_url == "https://accuro.example.org"
        assert c.grant is Grant.CLIENT_CREDENTIALS
    with pytest.raises(SecretError, match="T_ACC_PASSWORD"):
        AccuroClient.from_spec(spec(Grant.PASSWORD))
    monkeypatch.setenv("T_ACC_PASSWORD", "pw-0004-long")
    pw = spec(Grant.PASSWORD, login_office=2)
    with AccuroClient.from_spec(pw, transport=httpx.MockTransport(answer([]))) as c:
        assert (c.grant, c.username, c.login_office) == (Grant.PASSWORD, "OceanAPI12345", 2)
        assert "pw-0004-long" not in repr(c)


def test_from_spec_resolves_the_password_only_for_the_password_grant(
    monkeypatch: pytest.MonkeyPatch,
):
    for name, value in (("T_ACC_ID", "id-1"), ("T_ACC_SECRET", "s-2"), ("T_ACC_KEY", "k-3")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("T_ACC_PASSWORD", raising=False)
    # The file gives a password, but grant: client_credentials: it is never read.
    with AccuroClient.from_spec(spec(Grant.CLIENT_CREDENTIALS)) as c:
        assert c.grant is Grant.CLIENT_CREDENTIALS


def test_provider_display_names():
    assert m.Provider(1, "Jane", "Smith").display_name == "Smith, Jane"
    assert m.Provider(1, None, "Smith").display_name == "Smith"
    assert m.Provider(1, "Jane", None).display_name == "Jane"
