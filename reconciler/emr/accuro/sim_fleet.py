"""A synthetic fleet for the Accuro simulator: many clinics (tenants) on one host, and the
clinic files that match them, for fleet tests and the benchmark.

Everything is a function of the parameters (and ``salt``), so the simulator and the clinic
files can be made separately, in different processes, and still agree::

    seeds = fleet_seed(1000, offices=3, providers=10)          # in the simulator
    files = write_clinic_files(folder, base_url, 1000, offices=3, providers=10)

or, from the command line, both at once (the files point at the simulator started)::

    python -m reconciler.emr.accuro.simulator --fleet 1000 --write-clinics clinics/sim

Clinic ``i`` (from ``start``) is ``sim-0001``..., tenant ``SIM0001``, with ``offices``
offices (ids 1..N) of ``providers`` providers each (ids unique in the tenant, "Last, First"
names unique in the tenant), an OceanAPI user ``OceanAPI<10000 + i>`` that signs in with
its own password and is the Service User of the tenant's one partner client, and that
user's grid: all six columns for every declared row, less one column in a ``drift``
fraction of rows (deterministic). Every clinic has its own client id and secret,
subscription key and password, derived from ``salt``; they are throwaway values for a
simulator, written to the clinic files' secret files (or returned as environment
variables), never into a clinic file.
"""

from __future__ import annotations

import hashlib
import os
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from reconciler.emr.accuro.sim_seed import (
    KNOWN_SCOPES,
    Cell,
    Level,
    Seed,
    SeedClient,
    SeedOffice,
    SeedProvider,
    SeedUser,
)
from reconciler.emr.accuro.spec import Permission

FIRST = (
    "Jane", "Chidi", "Luc", "Linh", "Arjun", "Marie-Ève", "Grace", "Omar", "Priya", "Tomás",
    "Aiko", "Samuel", "Fatima", "Noah", "Ingrid", "Kwame", "Mei", "Rafael", "Sofia", "Daniel",
)  # fmt: skip
LAST = (
    "Smith", "Okafor", "Tremblay", "Nguyen", "Patel", "Bouchard", "Wong", "Haddad", "Singh",
    "García", "Tanaka", "Cohen", "Rahman", "Martin", "Larsen", "Mensah", "Chen", "Costa",
    "Rossi", "Roy", "Gagnon", "Kowalski", "Ibrahim", "Murphy", "Fraser",
)  # fmt: skip
OFFICES = (
    "Main Street Office", "Lakeshore Walk-In Clinic", "Harbour Road Clinic",
    "Hillside Family Practice", "Riverside Health Centre", "Maple Avenue Office",
    "Northgate Medical", "Bayview Clinic",
)  # fmt: skip
SECRET_FILES = ("client_id", "client_secret", "subscription_key", "password")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: a thousand files in a second
SecretsAs = Literal["file", "env"]


@dataclass(frozen=True, slots=True)
class FleetOffice:
    office_id: int
    name: str
    providers: tuple[SeedProvider, ...]


@dataclass(frozen=True, slots=True)
class FleetClinic:
    """One synthetic clinic: what its clinic file and its tenant share."""

    index: int
    clinic_id: str
    name: str
    tenant: str
    uuid: str
    username: str
    offices: tuple[FleetOffice, ...]
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    subscription_key: str = field(repr=False)
    password: str = field(repr=False)

    def secret(self, what: str) -> str:
        """One of :data:`SECRET_FILES`."""
        value: str = getattr(self, what)
        return value

    def env_name(self, what: str) -> str:
        """The environment variable a clinic file names for ``what`` (secrets as env)."""
        return f"SIM_{self.index:04d}_{what.upper()}"


def _hex(salt: str, *parts: object, length: int = 32) -> str:
    text = ":".join([salt, *map(str, parts)])
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _office_name(k: int) -> str:
    base = OFFICES[k % len(OFFICES)]
    return base if k < len(OFFICES) else f"{base} {k // len(OFFICES) + 1}"


def _provider_name(j: int) -> tuple[str, str]:
    """The j-th distinct (first, last) name: 500 of them from the lists, the rest numbered."""
    rest = j // len(FIRST)
    last = LAST[(rest + j) % len(LAST)]  # 21 and 25 are coprime: every pair once
    if rest >= len(LAST):
        last = f"{last}-{rest // len(LAST) + 1}"
    return FIRST[j % len(FIRST)], last


def clinic(index: int, *, offices: int = 3, providers: int = 10, salt: str = "sim") -> FleetClinic:
    """Synthetic clinic number ``index`` (1-based)."""
    if index < 1 or offices < 1 or providers < 0:
        raise ValueError("a fleet clinic needs index >= 1, offices >= 1, providers >= 0")
    names = len(FIRST) * len(LAST)
    shift = index * 7  # so that clinics do not all have the same names in the same order
    made: list[FleetOffice] = []
    for k in range(offices):
        office_id = k + 1
        people = []
        for n in range(providers):
            j = k * providers + n
            first, last = _provider_name((j + shift) % names if offices * providers <= names else j)
            email = f"{first.lower()}.{last.lower()}@sim{index}.example"
            people.append(
                SeedProvider(
                    provider_id=1000 + j + 1,
                    first_name=first,
                    last_name=last,
                    offices=(office_id,),
                    email=email.encode("ascii", "ignore").decode(),
                )
            )
        made.append(FleetOffice(office_id, _office_name(k), tuple(people)))
    return FleetClinic(
        index=index,
        clinic_id=f"sim-{index:04d}",
        name=f"Simulated Clinic {index}",
        tenant=f"SIM{index:04d}",
        uuid=str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"accuro-sim:{salt}:{index}")),
        username=f"OceanAPI{10000 + index}",
        offices=tuple(made),
        client_id="0oa" + _hex(salt, index, "client_id", length=17),
        client_secret="cs-" + _hex(salt, index, "client_secret"),
        subscription_key=_hex(salt, index, "subscription_key"),
        password="Pw-" + _hex(salt, index, "password", length=16) + "!",
    )


def fleet_clinics(
    clinics: int = 1000, *, start: int = 1, offices: int = 3, providers: int = 10, salt: str = "sim"
) -> tuple[FleetClinic, ...]:
    """Clinics ``start`` .. ``start + clinics - 1``."""
    return tuple(
        clinic(i, offices=offices, providers=providers, salt=salt)
        for i in range(start, start + clinics)
    )


def _grid(c: FleetClinic, drift: float, salt: str) -> dict[tuple[int, int], Cell]:
    columns = list(Permission)
    rows: dict[tuple[int, int], Cell] = {}
    for office in c.offices:
        for p in office.providers:
            cell: Cell = dict.fromkeys(columns, Level.FULL)
            h = bytes.fromhex(_hex(salt, c.index, office.office_id, p.provider_id, "drift"))
            if h[0] / 256 < drift:
                cell.pop(columns[h[1] % len(columns)])
            rows[(office.office_id, p.provider_id)] = cell
    return rows


def tenant_seed(
    c: FleetClinic, *, drift: float = 0.1, salt: str = "sim", token_lifetime_seconds: float = 3600
) -> Seed:
    """The simulator's tenant for clinic ``c``."""
    office_ids = tuple(o.office_id for o in c.offices)
    return Seed(
        tenant=c.tenant,
        uuid=c.uuid,
        clients=(SeedClient(c.client_id, c.client_secret, c.username, KNOWN_SCOPES),),
        subscription_keys=(c.subscription_key,),
        offices=tuple(SeedOffice(o.office_id, o.name) for o in c.offices),
        providers=tuple(p for o in c.offices for p in o.providers),
        users=(
            SeedUser(1, "admin", first_name="Clinic", last_name="Admin", system_admin=True),
            SeedUser(
                57,
                c.username,
                password=c.password,
                offices=office_ids,
                first_name="Ocean",
                last_name="API",
            ),
            SeedUser(60, "frontdesk", first_name="Front", last_name="Desk", active=False),
        ),
        grid={c.username: _grid(c, drift, salt)},
        token_lifetime_seconds=token_lifetime_seconds,
    )


def fleet_seed(
    clinics: int = 1000,
    *,
    start: int = 1,
    offices: int = 3,
    providers: int = 10,
    drift: float = 0.1,
    salt: str = "sim",
    token_lifetime_seconds: float = 3600,
) -> tuple[Seed, ...]:
    """The tenants of a synthetic fleet on one host (``SimState(fleet_seed(...))``,
    ``running_simulator(fleet_seed(...))``). Deterministic."""
    return tuple(
        tenant_seed(c, drift=drift, salt=salt, token_lifetime_seconds=token_lifetime_seconds)
        for c in fleet_clinics(
            clinics, start=start, offices=offices, providers=providers, salt=salt
        )
    )


def clinic_document(
    c: FleetClinic,
    base_url: str,
    refs: dict[str, dict[str, str]],
    *,
    grant: str | None = None,
) -> dict[str, Any]:
    """Clinic ``c``'s clinic file, as data; ``refs`` maps each of :data:`SECRET_FILES` to
    its ``{env: NAME}`` or ``{file: path}`` reference."""
    api: dict[str, Any] = {
        "base_url": base_url,
        "tenant": c.tenant,
        "uuid": c.uuid,
        "client_id": refs["client_id"],
        "client_secret": refs["client_secret"],
        "subscription_key": refs["subscription_key"],
    }
    if grant is not None:
        api["grant"] = grant
    return {
        "version": 1,
        "clinic": {"id": c.clinic_id, "name": c.name},
        "emr": {"kind": "accuro", "api": api},
        "ocean_api_user": {
            "username": c.username,
            "password": refs["password"],
            "offices": [
                {
                    "name": o.name,
                    "providers": [{"name": f"{p.last_name}, {p.first_name}"} for p in o.providers],
                }
                for o in c.offices
            ],
            "undeclared_providers": "report",
        },
        "ocean": {"full_schedule_sync": True},
    }


@dataclass(frozen=True, slots=True)
class ClinicFiles:
    """What :func:`write_clinic_files` wrote, and the environment the files need."""

    paths: tuple[Path, ...]
    environ: dict[str, str] = field(repr=False)  # empty when secrets are files


def write_clinic_files(
    folder: Path,
    base_url: str,
    clinics: int | tuple[FleetClinic, ...] = 1000,
    *,
    start: int = 1,
    offices: int = 3,
    providers: int = 10,
    salt: str = "sim",
    secrets: SecretsAs = "file",
    grant: str | None = None,
) -> ClinicFiles:
    """Write one clinic file per clinic to ``folder`` (``sim-0001.yaml``, ...), pointing at
    ``base_url``. Secrets: ``file`` writes each to ``folder/secrets/<clinic id>/<what>``
    (mode 0600, referenced as ``{file: secrets/...}``); ``env`` references
    ``{env: SIM_0001_CLIENT_SECRET}`` and returns the values to set in
    :attr:`ClinicFiles.environ`. ``grant`` sets ``emr.api.grant`` (default: none written,
    so the password grant, the OceanAPI user's password being given)."""
    fleet = (
        clinics
        if isinstance(clinics, tuple)
        else fleet_clinics(clinics, start=start, offices=offices, providers=providers, salt=salt)
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    environ: dict[str, str] = {}
    for c in fleet:
        refs: dict[str, dict[str, str]] = {}
        for what in SECRET_FILES:
            if secrets == "env":
                environ[c.env_name(what)] = c.secret(what)
                refs[what] = {"env": c.env_name(what)}
            else:
                relative = Path("secrets") / c.clinic_id / what
                _write_secret(folder / relative, c.secret(what))
                refs[what] = {"file": relative.as_posix()}
        path = folder / f"{c.clinic_id}.yaml"
        document = clinic_document(c, base_url, refs, grant=grant)
        text = yaml.dump(document, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return ClinicFiles(tuple(paths), environ)


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")


def requests_per_read(c: FleetClinic) -> int:
    """What reading clinic ``c`` costs, with nothing retried: one token, five REST calls
    and one per declared office (the adapter's docstring)."""
    return 1 + 5 + len(c.offices)
