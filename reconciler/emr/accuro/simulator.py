"""A simulated Accuro REST API, over real HTTP, for the demo, the tests and the benchmark.

It answers what the OceanAPI adapter reads, in the shapes and with the error bodies of the
public Accuro API source and guide (``FACTS.md``):

    POST /v1/token?tenant=ACRON                  client credentials (HTTP Basic), form
                                                 grant_type=client_credentials and scope,
                                                 or grant_type=password, username,
                                                 password, scope and optional office
    GET  /rest/v1/offices                        every office, unfiltered
    GET  /rest/v1/providers/offices/{officeId}   the office's providers
    GET  /rest/v1/users?userName=&pageSize=&startingId=    an envelope, 25 (max 50) a page
    GET  /rest/v1/users/{userId}/offices         an envelope of the user's offices
    GET  /rest/v1/accessible-providers?permissionsType=READ_APPOINTMENTS|WRITE_APPOINTMENTS
    GET  /rest/v1/whoami                         the tenant, scopes and the token's user

**One host, many clinics.** A simulator is one API host. It serves one tenant (a seed file
as ``sim_seed.example.yaml``) or many (a seed file with ``tenants:``, or a synthetic fleet
of any size, ``--fleet N``, see ``sim_fleet``), each with its own ``tenant``, uuid, client
credentials, subscription key, users, offices, providers and grid. The token endpoint's
``?tenant=`` picks the tenant, and the token carries it afterwards, as the real
multi-tenant API does (FACTS.md §1a, §1c). Faults are the host's: they hit every tenant
unless they name one.

Every ``/rest`` call needs the ``X-QHR-Subscription-Key`` header, a bearer token that has
not expired and ``?uuid=``; a client-credentials token acts as its client's Service User
(the OceanAPI user), a password-grant token as the user who signed in (a seed user with a
``password``), and what that user may see follows its Provider Permissions grid
(``sim_state``). How the password grant refuses a sign-in is in ``sim_http``.

Decisions where the sources are silent, kept here and in ``sim_dto``/``sim_http``:

- Tokens are opaque random strings, not JWTs; ``expires_in`` is the seed's
  ``token_lifetime_seconds`` (3600 by default), and the token endpoint needs no
  subscription key (the guide's token call sends none).
- The gateway's checks (subscription key, rate limits, gateway 5xx) answer in Azure API
  Management's ``{"statusCode", "message"}`` shape; the token endpoint in the guide's
  ``{"code", "message"}``; the API itself in ``{"error": ...}``.
- ``uuid`` is required of every token (the guide), with the legacy filter's messages.
- An unknown tenant gets a client-credentials token, then 401 "Configuration error: Accuro
  clinic not found." on every ``/rest`` call, as the API answers a token whose tenant claim
  it cannot find; the password grant refuses it at sign-in ("Invalid tenant id.").
- The password grant answers in the partner token's shape (no refresh token), plus
  ``office`` when one was sent; ``office`` is optional unless the seed sets
  ``require_login_office`` (Accuro's own OAuth server insists on it, FACTS §1b).

``/_sim/...`` is the simulator's own admin API, not Accuro's (``sim_admin``): it ticks grid
boxes, deactivates users, injects faults (latency, 429 with Retry-After, 5xx) and shows
the request log. It takes no credentials, so the simulator binds to loopback by default.

    python -m reconciler.emr.accuro.simulator --seed sim_seed.example.yaml --port 8765
    python -m reconciler.emr.accuro.simulator --fleet 1000 --offices 3 --providers 10 \
        --latency 0.05 --write-clinics clinics/sim --port 0

prints the base URL on its first line and serves until interrupted (``--write-clinics``
first writes the fleet's clinic files, pointing at that URL, their secrets in files next
to them). In process:

    with running_simulator(seed) as sim:            # or fleet_seed(40), or [seed, seed2]
        sim.base_url, sim.state
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from reconciler.emr.accuro.sim_fleet import fleet_seed, write_clinic_files
from reconciler.emr.accuro.sim_http import SimServer
from reconciler.emr.accuro.sim_seed import Seed, SeedError, load_seed, load_seeds
from reconciler.emr.accuro.sim_state import Fault, SimState

__all__ = [
    "Fault",
    "Seed",
    "SimState",
    "Simulator",
    "fleet_seed",
    "load_seed",
    "load_seeds",
    "running_simulator",
    "write_clinic_files",
]


@dataclass(frozen=True, slots=True)
class Simulator:
    """A running simulator: where it listens and its live state."""

    base_url: str
    state: SimState


def _base_url(server: SimServer) -> str:
    host, port = server.server_address[:2]
    host = host.decode() if isinstance(host, bytes) else host
    return f"http://{host}:{port}"


@contextmanager
def running_simulator(
    seed: Seed | Sequence[Seed], *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[Simulator]:
    """Serve ``seed`` (one tenant, or several on one host) in a background thread
    (``port=0``: a free port) until the block ends."""
    state = SimState(seed)
    server = SimServer((host, port), state)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Simulator(_base_url(server), state)
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seed file (YAML or JSON): one tenant, or several under `tenants:`; its secrets "
    "come from the environment variables it names.",
)
@click.option(
    "--fleet",
    type=click.IntRange(min=1),
    help="Instead of --seed: a synthetic fleet of this many clinics (tenants) on this host.",
)
@click.option(
    "--fleet-start", type=click.IntRange(min=1), default=1, show_default=True,
    help="The fleet's first clinic number (to split one fleet over several hosts).",
)  # fmt: skip
@click.option(
    "--offices", type=click.IntRange(min=1), default=3, show_default=True,
    help="Offices per fleet clinic.",
)  # fmt: skip
@click.option(
    "--providers", type=click.IntRange(min=0), default=10, show_default=True,
    help="Providers per office of a fleet clinic.",
)  # fmt: skip
@click.option(
    "--drift", type=click.FloatRange(0, 1), default=0.1, show_default=True,
    help="Fraction of a fleet clinic's grid rows missing a box.",
)  # fmt: skip
@click.option(
    "--salt", default="sim", show_default=True,
    help="Varies the fleet's ids and secrets (the same salt gives the same fleet).",
)  # fmt: skip
@click.option(
    "--write-clinics",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the fleet's clinic files here, pointing at this simulator (secrets in "
    "files under DIR/secrets).",
)
@click.option(
    "--latency", type=float, default=0.0, show_default=True,
    help="Seconds of latency on every request (a standing fault).",
)  # fmt: skip
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (the /_sim admin API takes no credentials: keep it on loopback).",
)
@click.option("--port", default=8765, show_default=True, help="Port to listen on (0: any).")
@click.option(
    "--token-lifetime", type=float, default=None, help="Seconds a token lives (default: seed)."
)
def main(
    seed_path: Path | None,
    fleet: int | None,
    fleet_start: int,
    offices: int,
    providers: int,
    drift: float,
    salt: str,
    write_clinics: Path | None,
    latency: float,
    host: str,
    port: int,
    token_lifetime: float | None,
) -> None:
    """Serve a simulated Accuro REST API; print its base URL; stop on Ctrl-C or SIGTERM."""
    if (seed_path is None) == (fleet is None):
        raise click.UsageError("give either --seed FILE or --fleet N")
    if write_clinics is not None and fleet is None:
        raise click.UsageError("--write-clinics writes a --fleet's clinic files")
    shape = {"start": fleet_start, "offices": offices, "providers": providers}
    if fleet is not None:
        seeds = fleet_seed(fleet, drift=drift, salt=salt, **shape)
    else:
        assert seed_path is not None
        try:
            seeds = load_seeds(seed_path)
        except SeedError as exc:
            raise click.ClickException(f"{seed_path}: {exc}") from None
    state = SimState(seeds)
    if token_lifetime is not None:
        state.token_lifetime = token_lifetime
    if latency > 0:
        state.add_fault(Fault(latency=latency, count=None))
    try:
        server = SimServer((host, port), state)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    if write_clinics is not None and fleet is not None:
        written = write_clinic_files(
            write_clinics,
            _base_url(server),
            fleet,
            start=fleet_start,
            offices=offices,
            providers=providers,
            salt=salt,
        )
        click.echo(f"wrote {len(written.paths)} clinic files to {write_clinics}", err=True)
    signal.signal(signal.SIGTERM, _stop)
    click.echo(_base_url(server))
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        state.stopping.set()
        server.server_close()


if __name__ == "__main__":
    main()
