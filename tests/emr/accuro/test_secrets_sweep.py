"""No client secret, subscription key, Basic credential or token ever appears in an
exception message or a log record, whatever goes wrong."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import httpx
import pytest

from reconciler.emr.accuro.api_model import PermissionsType
from reconciler.emr.accuro.client import AccuroClient, RetryPolicy
from reconciler.emr.accuro.simulator import Fault, Simulator
from reconciler.errors import ReconcilerError
from tests.emr.accuro.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    OCEAN_USER,
    SUBSCRIPTION_KEY,
    ClientFactory,
)

Scenario = Callable[[Simulator, ClientFactory], AccuroClient]


def _expired_at_birth(sim: Simulator, make: ClientFactory) -> AccuroClient:
    sim.state.token_lifetime = 0
    return make(sim)


def _faulty(**fault: object) -> Scenario:
    def scenario(sim: Simulator, make: ClientFactory) -> AccuroClient:
        sim.state.add_fault(Fault(**fault))  # type: ignore[arg-type]
        return make(sim, timeout=httpx.Timeout(0.2), retry=RetryPolicy(2, 0.01, 0.02, 5))

    return scenario


def _user(**changes: object) -> Scenario:
    def scenario(sim: Simulator, make: ClientFactory) -> AccuroClient:
        sim.state.set_user(OCEAN_USER, **changes)
        return make(sim)

    return scenario


SCENARIOS: dict[str, Scenario] = {
    "bad secret": lambda sim, make: make(sim, client_secret=CLIENT_SECRET + "x"),
    "bad client id": lambda sim, make: make(sim, client_id=CLIENT_ID + "x"),
    "wrong key": lambda sim, make: make(sim, subscription_key=SUBSCRIPTION_KEY[::-1]),
    "no key": lambda sim, make: make(sim, subscription_key=""),
    "wrong uuid": lambda sim, make: make(sim, uuid="3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a12"),
    "wrong tenant": lambda sim, make: make(sim, tenant="ELSEWHERE"),
    "expired tokens": _expired_at_birth,
    "429": _faulty(status=429, retry_after=0, count=None),
    "503": _faulty(status=503, count=None),
    "latency": _faulty(latency=0.5, count=None),
    "inactive user": _user(active=False),
    "no external access": _user(external_access=False),
    "bad scope": lambda sim, make: make(sim, scopes=("qhr-first-party",)),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_secret_in_errors_or_logs(
    name: str, sim: Simulator, client_for: ClientFactory, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    client = SCENARIOS[name](sim, client_for)
    with pytest.raises(ReconcilerError) as caught:
        client.offices()
        client.users(OCEAN_USER)
        client.accessible_providers(PermissionsType.READ_APPOINTMENTS)
        client.whoami()
    secrets = {
        CLIENT_SECRET,
        SUBSCRIPTION_KEY,
        base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
        *sim.state.tokens,
    }
    texts = [str(caught.value), repr(caught.value), *(r.getMessage() for r in caplog.records)]
    texts += [str(c) for c in (caught.value.__cause__, caught.value.__context__) if c]
    assert caplog.records, "the sweep must see the client's log"
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{name}: a secret leaked into {text[:80]!r}"


def test_happy_path_logs_hold_no_secret(
    sim: Simulator, client_for: ClientFactory, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    client = client_for(sim)
    client.offices()
    sim.state.expire_tokens()
    client.whoami()
    assert len(sim.state.tokens) == 2
    joined = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (CLIENT_SECRET, SUBSCRIPTION_KEY, *sim.state.tokens):
        assert secret not in joined
    assert "renewing once" in joined


def test_a_client_never_shows_its_secrets(sim: Simulator, client_for: ClientFactory):
    client = client_for(sim)
    client.offices()
    shown = repr(vars(client)) if hasattr(client, "__dict__") else repr(client)
    for secret in (CLIENT_SECRET, SUBSCRIPTION_KEY, *sim.state.tokens):
        assert secret not in shown
