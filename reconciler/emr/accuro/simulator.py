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

prints the base URL on its first line and serves until interrupted. In process:

    with running_simulator(seed) as sim:
        sim.base_url, sim.state
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from reconciler.emr.accuro.sim_http import SimServer
from reconciler.emr.accuro.sim_seed import Seed, SeedError, load_seed
from reconciler.emr.accuro.sim_state import Fault, SimState

__all__ = ["Fault", "Seed", "SimState", "Simulator", "load_seed", "running_simulator"]


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
def running_simulator(seed: Seed, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[Simulator]:
    """Serve ``seed`` in a background thread (``port=0``: a free port) until the block ends."""
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
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seed file (YAML or JSON); its secrets come from the environment variables it names.",
)
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
def main(seed_path: Path, host: str, port: int, token_lifetime: float | None) -> None:
    """Serve a simulated Accuro REST API; print its base URL; stop on Ctrl-C or SIGTERM."""
    try:
        seed = load_seed(seed_path)
    except SeedError as exc:
        raise click.ClickException(f"{seed_path}: {exc}") from None
    state = SimState(seed)
    if token_lifetime is not None:
        state.token_lifetime = token_lifetime
    try:
        server = SimServer((host, port), state)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror})") from None
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
