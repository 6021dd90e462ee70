"""``reconcile plan`` over a fleet of Accuro clinics on one simulated host, over real sockets:
the clinics share one connection pool and one rate-limit budget. A 429 pauses the whole
host; transient 5xx and resets are retried; a persistent 5xx or a timeout fails only the
clinics it hits (exit 3), and every other clinic is planned."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emr.accuro.sim_fleet import FleetClinic, fleet_clinics, write_clinic_files
from reconciler.emr.accuro.sim_state import RequestRecord
from reconciler.emr.accuro.simulator import Fault, Simulator, fleet_seed, running_simulator
from reconciler.exitcodes import ExitCode

CLINICS, OFFICES, PROVIDERS = 24, 2, 3
PER_HOST = 4  # --per-host, so also the host's connections (parallelism is larger)
LIMITS = ("--parallelism", "8", "--per-host", str(PER_HOST))


@dataclass
class Fleet:
    sim: Simulator
    folder: Path
    clinics: tuple[FleetClinic, ...]
    run: Callable[..., Result]

    def plan(self, *options: str) -> tuple[Result, dict[str, dict[str, Any]]]:
        """``reconcile plan`` of the whole fleet, as JSON: the result and the clinics by id."""
        result = self.run("plan", str(self.folder), "--format", "json", *LIMITS, *options)
        plan = json.loads(result.stdout)
        return result, {c["id"]: c for c in plan["clinics"]}

    def requests(self) -> list[RequestRecord]:
        return [r for r in self.sim.state.requests if not r.path.startswith("/_sim")]

    def secrets(self) -> set[str]:
        return {
            c.secret(w)
            for c in self.clinics
            for w in ("client_secret", "subscription_key", "password")
        } | set(self.sim.state.tokens)


def make_fleet(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clinics: int = CLINICS,
    providers: int = PROVIDERS,
) -> Iterator[Fleet]:
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("RECONCILER_CHECKLIST_DIR", str(tmp_path / "checklists"))
    monkeypatch.delenv("CI", raising=False)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--no-progress"], catch_exceptions=False)

    shape = {"offices": OFFICES, "providers": providers}
    with running_simulator(fleet_seed(clinics, **shape)) as sim:
        folder = tmp_path / "clinics"
        write_clinic_files(folder, sim.base_url, clinics, **shape)
        yield Fleet(sim, folder, fleet_clinics(clinics, **shape), run)


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    yield from make_fleet(tmp_path, monkeypatch)


def assert_all_planned(
    clinics: dict[str, dict[str, Any]], but: frozenset[str] | set[str] = frozenset()
) -> None:
    assert len(clinics) == CLINICS
    for cid, c in clinics.items():
        if cid in but:
            assert c["status"] == "error", cid
        else:
            assert c["status"] == "changes" and c["error"] is None, (cid, c["error"])


def per_clinic(requests: list[RequestRecord]) -> Counter[str | None]:
    return Counter(r.tenant for r in requests)


# -- the happy path: one pool, a fixed number of requests ---------------------------------------


def test_a_fleet_plans_through_one_connection_pool(fleet: Fleet) -> None:
    result, clinics = fleet.plan()
    assert result.exit_code == 0, result.output
    assert_all_planned(clinics)
    stats = fleet.sim.state.stats()
    assert stats["connections"] <= PER_HOST, f"{stats}: the pool was not reused across clinics"
    assert stats["max_in_flight"] <= PER_HOST
    counts = per_clinic(fleet.requests())
    # Password grant: users, users/{id}/offices, accessible-providers x2, the declared
    # offices and the token: at most (declared offices + 5), the token included.
    assert counts == {c.tenant: OFFICES + 5 for c in fleet.clinics}
    assert not [r for r in fleet.requests() if r.path in ("/rest/v1/whoami", "/rest/v1/offices")]
    assert all(r.status == 200 for r in fleet.requests())
    for secret in fleet.secrets():
        assert secret not in result.output


@pytest.mark.parametrize("providers", [1, 12])
def test_the_requests_per_clinic_do_not_grow_with_providers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, providers: int
) -> None:
    for fleet in make_fleet(tmp_path, monkeypatch, clinics=6, providers=providers):
        result = fleet.run("plan", str(fleet.folder), *LIMITS)
        assert result.exit_code == 0, result.output
        counts = per_clinic(fleet.requests())
        # the declared offices, users, users/{id}/offices, accessible-providers x2, a token
        assert set(counts.values()) == {OFFICES + 5} and len(counts) == 6
        tokens = [r for r in fleet.requests() if r.path == "/v1/token"]
        assert len(tokens) == 6


# -- 429: the whole host pauses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_date", "count", "fraction"),
    [(False, 4, 1.0), (True, 2, 0.1)],
    ids=["a-storm-in-seconds", "mid-run-as-an-http-date"],
)
def test_a_429_storm_pauses_the_whole_host(
    fleet: Fleet, as_date: bool, count: int, fraction: float
) -> None:
    """The first: the first four requests (the first clinics' token requests, at once) all
    get 429; the second: two requests picked at random mid-run."""
    fleet.sim.state.add_fault(
        Fault(status=429, retry_after=1, count=count, fraction=fraction, retry_after_date=as_date)
    )
    result, clinics = fleet.plan()
    assert result.exit_code == 0, result.output
    assert_all_planned(clinics)
    requests = fleet.requests()
    throttled = [r for r in requests if r.status == 429]
    assert len(throttled) == count
    for hit in throttled:
        # Until a client thread has read the 429, the others may still send (a few
        # milliseconds); from then on nothing reaches the host until the second is up.
        late = [r for r in requests if hit.answered + 0.3 < r.received < hit.answered + 1.0]
        assert not late, f"sent to a paused host: {late[0]}"
    assert max(r.received for r in requests) > min(r.answered for r in throttled) + 1.0
    assert per_clinic([r for r in requests if r.status == 200]) == {
        c.tenant: OFFICES + 5 for c in fleet.clinics
    }


def test_a_429_that_asks_too_long_fails_fast_and_says_why(fleet: Fleet) -> None:
    target = fleet.clinics[5]
    fleet.sim.state.add_fault(Fault(status=429, retry_after=3600, count=None, tenant=target.tenant))
    result, clinics = fleet.plan("--attempts", "2")
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    error = clinics[target.clinic_id]["error"]
    assert "is rate limiting" in error
    # The pause is the host's: clinics that asked after it fail at once, having sent nothing.
    failed = {cid for cid, c in clinics.items() if c["status"] == "error"}
    assert target.clinic_id in failed
    for cid in failed - {target.clinic_id}:
        assert "asked for a pause of" in clinics[cid]["error"]
        assert "longer than the 60" in clinics[cid]["error"]


# -- 5xx, resets and timeouts -----------------------------------------------------------------


def test_transient_5xx_and_resets_are_retried(fleet: Fleet) -> None:
    fleet.sim.state.add_fault(Fault(status=503, count=4, fraction=0.1))
    fleet.sim.state.add_fault(Fault(status=502, count=2, fraction=0.1, path_prefix="/rest/"))
    fleet.sim.state.add_fault(Fault(reset=True, count=3, fraction=0.1))
    result, clinics = fleet.plan()
    assert result.exit_code == 0, result.output
    assert_all_planned(clinics)
    statuses = Counter(r.status for r in fleet.requests())
    assert statuses[503] == 4 and statuses[502] == 2 and statuses[0] == 3, statuses


def test_a_persistent_5xx_fails_only_the_clinics_it_hits(fleet: Fleet) -> None:
    hit = {fleet.clinics[2], fleet.clinics[17]}
    for c in hit:
        fleet.sim.state.add_fault(Fault(status=503, count=None, tenant=c.tenant))
    result, clinics = fleet.plan("--attempts", "2")
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    assert_all_planned(clinics, but={c.clinic_id for c in hit})
    for c in hit:
        error = clinics[c.clinic_id]["error"]
        assert "failed POST /v1/token with HTTP 503 2 times" in error, error
    for secret in fleet.secrets():
        assert secret not in result.output


def test_a_timeout_fails_only_the_clinic_it_hits(fleet: Fleet) -> None:
    slow = fleet.clinics[9]
    fleet.sim.state.add_fault(
        Fault(latency=1.5, count=None, tenant=slow.tenant, path_prefix="/rest/v1/users")
    )
    result, clinics = fleet.plan("--read-timeout", "0.3", "--attempts", "2")
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    assert_all_planned(clinics, but={slow.clinic_id})
    error = clinics[slow.clinic_id]["error"]
    assert "did not answer GET /rest/v1/users in time (ReadTimeout, 2 attempts)" in error
    assert result.output.count("did not answer") == 1
