"""Fixtures for the Accuro client and simulator: a seed like the example's, a running
simulator on a free port, and clients that are closed after each test."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from reconciler.emr.accuro.client import AccuroClient, RetryPolicy
from reconciler.emr.accuro.sim_seed import Seed, seed_from_dict
from reconciler.emr.accuro.simulator import Simulator, running_simulator
from tests.conftest import ROOT

EXAMPLE_SEED = ROOT / "reconciler" / "emr" / "accuro" / "sim_seed.example.yaml"
CLIENT_ID = "0oa1ox6h9duvOltTa0h8"
CLIENT_SECRET = "cs-Zq8#rT5!wX2@pL9-secret"
SUBSCRIPTION_KEY = "sk-23456abcdfg456789abcds"
OCEAN_PASSWORD = "Ocean pw+&=%/ é-3d9f"  # form-encoding's special characters, on purpose
ENV = {
    "LAKESIDE_ACCURO_CLIENT_ID": CLIENT_ID,
    "LAKESIDE_ACCURO_CLIENT_SECRET": CLIENT_SECRET,
    "LAKESIDE_ACCURO_SUBSCRIPTION_KEY": SUBSCRIPTION_KEY,
    "LAKESIDE_OCEANAPI_PASSWORD": OCEAN_PASSWORD,
}
TENANT = "LAKESIDE"
UUID = "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11"
OCEAN_USER = "OceanAPI12345"
FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.05, max_retry_after=5)


def example_data() -> dict[str, Any]:
    """The example seed file, parsed (a fresh copy each time)."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_SEED.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def make_seed(data: dict[str, Any] | None = None) -> Seed:
    """A seed from ``data`` (default: the example), its secrets from :data:`ENV`."""
    return seed_from_dict(data if data is not None else example_data(), ENV)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """The example Accuro, running on a free loopback port."""
    with running_simulator(make_seed()) as running:
        yield running


ClientFactory = Callable[..., AccuroClient]


@pytest.fixture
def client_for() -> Iterator[ClientFactory]:
    """Make clients for a simulator (or any base URL); all are closed at teardown."""
    made: list[AccuroClient] = []

    def make(target: Simulator | str, **options: Any) -> AccuroClient:
        base = target if isinstance(target, str) else target.base_url
        settings: dict[str, Any] = {
            "tenant": TENANT,
            "uuid": UUID,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "subscription_key": SUBSCRIPTION_KEY,
            "retry": FAST,
        }
        settings.update(options)
        client = AccuroClient(base, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(sim: Simulator, client_for: ClientFactory) -> AccuroClient:
    """A client for the example simulator."""
    return client_for(sim)


def token_requests(sim: Simulator) -> int:
    """How many times the token endpoint was called."""
    return sum(1 for r in sim.state.requests if r.path == "/v1/token")


def rest_requests(sim: Simulator, path: str | None = None) -> list[Any]:
    """The ``/rest`` requests the simulator answered (optionally only to ``path``)."""
    return [
        r
        for r in sim.state.requests
        if r.path.startswith("/rest/") and (path is None or r.path == path)
    ]
