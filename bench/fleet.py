"""``make bench``, part 2: plan a synthetic fleet and show what bounds it.

By default 1,000 Accuro clinics (3 offices, 10 providers each) spread over 4 simulated
Accuro hosts with 50 ms of latency on every request, plus 200 OSCAR clinics whose databases
live on the one MariaDB server, planned by ``reconcile plan`` as a user runs it (a separate
process, so its CPU time and peak memory are its own, not the simulators').

Printed, as one table, for each fleet size (250 / 500 / 1,000 Accuro clinics, with an
OSCAR clinic for every five):

- wall time; requests issued (as the simulators counted them); the **latency floor**, for
  each host requests x latency / the per-host concurrency, the largest host's figure; and
  wall / floor;
- CPU seconds per clinic of the whole ``plan`` process, and its peak RSS;

then the speed-up over a sequential run (``--parallelism 1``), per clinic, on the first 50
Accuro clinics of the same fleet, and the CPU per clinic of the pure part (diff and
rendering, measured in this process on states read once). Its last line is the same
figures as one JSON object, for scripts.

    python bench/fleet.py [--clinics 1000] [--latency 50] [--hosts 4] [--per-host 32]
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import yaml
from sqlalchemy import create_engine, text

from reconciler.fleet import Limits

ROOT = Path(__file__).resolve().parent.parent
MARIADB = os.environ.get("RECONCILER_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306")
PREFIX = "reconciler_bench_"
SIZES = (250, 500, 1000)
OSCAR_EVERY = 5  # one OSCAR clinic per five Accuro clinics: 200 at 1,000
SEQUENTIAL_SAMPLE = 50


# --- OSCAR: databases on one MariaDB server ------------------------------------------------


def oscar_fleet(count: int, folder: Path) -> list[Path]:
    """``count`` OSCAR databases cloned from one seeded template, and their clinic files."""
    from reconciler.emr.oscar.passwords import Lineage
    from reconciler.emr.oscar.simulator import (
        Scenario,
        create_oscar_database,
        ensure_mysql_database,
    )

    template = f"{PREFIX}template"
    ensure_mysql_database(MARIADB, template)
    engine = create_engine(f"{MARIADB}/{template}")
    create_oscar_database(
        engine, Lineage.PBKDF2, Scenario.DRIFT, password="bench-Passw0rd", pin="1357"
    )
    engine.dispose()
    server = create_engine(MARIADB)
    folder.mkdir(parents=True, exist_ok=True)
    secrets = folder / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "password").write_text("bench-Passw0rd\n")
    (secrets / "pin").write_text("1357\n")
    paths = []
    with server.begin() as conn:
        tables = [r[0] for r in conn.execute(text(f"SHOW TABLES FROM `{template}`"))]
        for i in range(1, count + 1):
            name = f"{PREFIX}oscar_{i:04d}"
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            for table in tables:
                conn.execute(text(f"CREATE TABLE `{name}`.`{table}` LIKE `{template}`.`{table}`"))
                conn.execute(
                    text(f"INSERT INTO `{name}`.`{table}` SELECT * FROM `{template}`.`{table}`")
                )
            (secrets / f"oscar-{i:04d}.url").write_text(f"{MARIADB}/{name}\n")
            path = folder / f"oscar-{i:04d}.yaml"
            path.write_text(yaml.safe_dump(_oscar_clinic(i), sort_keys=False))
            paths.append(path)
    server.dispose()
    return paths


def _oscar_clinic(i: int) -> dict[str, Any]:
    return {
        "version": 1,
        "clinic": {"id": f"oscar-{i:04d}", "name": f"Bench OSCAR clinic {i}"},
        "emr": {
            "kind": "oscar",
            "edition": "open-source",
            "backend": "sql",
            "database": {"url": {"file": f"secrets/oscar-{i:04d}.url"}},
        },
        "ocean_connect": {
            "provider": {"number": "999990", "last_name": "Connect", "first_name": "Ocean"},
            "login": {
                "username": "OceanConnect",
                "password": {"file": "secrets/password"},
                "pin": {"file": "secrets/pin"},
            },
        },
    }


def drop_oscar_fleet() -> None:
    server = create_engine(MARIADB)
    with server.begin() as conn:
        names = [r[0] for r in conn.execute(text("SHOW DATABASES"))]
        for name in names:
            if name.startswith(PREFIX):
                conn.execute(text(f"DROP DATABASE `{name}`"))
    server.dispose()


# --- one measured run of `reconcile plan` ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    clinics: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    statuses: dict[str, int]
    exit_code: int
    changes: int
    plan: dict[str, Any]

    @property
    def cpu_ms_per_clinic(self) -> float:
        return self.cpu_s * 1000 / self.clinics


# The plan process's own peak RSS: its VmHWM as it exits. (wait4's ru_maxrss would do, but
# Linux keeps across exec the RSS of the process that forked: this one's, large.)
_MEASURED = """
import atexit, re, sys
def peak():
    status = open("/proc/self/status").read()
    sys.stderr.write("\\npeak-rss-kb: " + re.search(r"VmHWM:\\s+(\\d+)", status).group(1) + "\\n")
atexit.register(peak)
from reconciler.cli import main
sys.argv[0] = "reconcile"
main()
"""


def plan_process(paths: Sequence[Path], options: Sequence[str], env: dict[str, str]) -> Run:
    """``reconcile plan PATHS --format json OPTIONS`` as a child process: its wall time, and
    its own CPU time and peak RSS (from ``wait4``), not this process's or the simulators'."""
    command = [sys.executable, "-c", _MEASURED, "plan", "--format", "json"]
    command += ["--no-progress", *options, *map(str, paths)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            command, stdout=out, stderr=err, env={**os.environ, **env}, cwd=ROOT
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak = re.search(rb"^peak-rss-kb: (\d+)$", stderr, re.MULTILINE)
    if peak is None:
        raise SystemExit("reconcile plan did not report its peak RSS")
    try:
        plan = json.loads(stdout)
    except ValueError:
        raise SystemExit(
            f"reconcile plan printed no JSON plan (exit {child.returncode}):\n"
            + stderr.decode(errors="replace")[-2000:]
        ) from None
    statuses: dict[str, int] = {}
    for clinic in plan["clinics"]:
        statuses[clinic["status"]] = statuses.get(clinic["status"], 0) + 1
    return Run(
        clinics=len(plan["clinics"]),
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=int(peak.group(1)) / 1024,
        statuses=statuses,
        exit_code=child.returncode,
        changes=sum(len(c["changes"]) for c in plan["clinics"]),
        plan=plan,
    )


def confirm_everything(plan: dict[str, Any], state_dir: Path) -> int:
    """Write, for every clinic, the state file ``reconcile confirm CLINIC --all`` would: a
    person did every manual grid change of ``plan``. The fleet is then as a managed fleet
    is on any later day: what the API shows is checked, the rest rests on confirmations."""
    state_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for clinic in plan["clinics"]:
        records = [
            {
                "change": c["address"],
                "done": c["after"],
                "by": "Bench Person",
                "at": "2026-11-30T09:00:00Z",
            }
            for c in clinic["changes"]
            if c["resource"] == "accuro.provider_permissions" and c["mode"] == "manual"
        ]
        if records:
            body = {"version": 1, "clinic": clinic["id"], "confirmations": records}
            (state_dir / f"{clinic['id']}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
            written += 1
    return written


@dataclass(frozen=True, slots=True)
class CpuProfile:
    """Where one process's CPU goes, in ms per clinic, phase by phase."""

    load: float  # reading and checking the clinic and state files (YAML, JSON Schema)
    read: float  # the adapters reading live state (HTTP, SQL), as concurrently as the run
    diff_render: float  # the diff, notes, and the plan as text, Markdown and JSON

    def __str__(self) -> str:
        return (
            f"loading files {self.load:.1f} ms, reading EMRs {self.read:.1f} ms, "
            f"diff + rendering {self.diff_render:.2f} ms"
        )


def cpu_profile(
    paths: Sequence[Path], limits_options: Limits, state_dir: Path | None = None
) -> CpuProfile:
    """CPU per clinic of each phase of a plan, measured in this process (``process_time``):
    the files loaded, live state read once through the real adapters with the run's limits,
    then the diff and the three renderings computed from what was read."""
    from reconciler.config import load_clinics
    from reconciler.emr.contract import Adapter
    from reconciler.emr.registry import AdapterPool, site_of
    from reconciler.engine import make_plan
    from reconciler.fleet import SEQUENTIAL, run_bounded
    from reconciler.model import Clinic
    from reconciler.render import RENDERERS
    from reconciler.state import attach_state

    began = time.process_time()
    clinics = load_clinics(list(paths), here_and_now=False).clinics
    if state_dir is not None:
        clinics, problems = attach_state(clinics, state_dir)
        assert not problems, problems
    loaded = time.process_time()
    lives: dict[str, Any] = {}

    class Cached(Adapter):
        """Serves what ``real`` read, and routes changes as it does."""

        def __init__(self, real: Adapter) -> None:
            self.real, self.name, self.writes = real, real.name, real.writes

        def read(self, clinic: Clinic) -> Any:
            return lives[clinic.id]

    with AdapterPool() as pool:
        cached: dict[int, Cached] = {}

        def adapter(clinic: Clinic) -> Adapter:
            real = pool.for_clinic(clinic)
            return cached.setdefault(id(real), Cached(real))

        def read(clinic: Clinic) -> None:
            lives[clinic.id] = pool.for_clinic(clinic).read(clinic)

        start = time.process_time()
        for _ in run_bounded(clinics, site_of, read, limits_options):
            pass
        read_cpu = time.process_time() - start
        start = time.process_time()
        plan = make_plan(clinics, adapter, limits=SEQUENTIAL)
        for render in RENDERERS.values():
            render(plan)
        pure = time.process_time() - start
    n = len(clinics)
    return CpuProfile((loaded - began) * 1000 / n, read_cpu * 1000 / n, pure * 1000 / n)


# --- Accuro: simulated hosts, each its own process ------------------------------------------


@dataclass
class Host:
    url: str
    process: subprocess.Popen[str]
    files: list[Path]

    def requests(self) -> int:
        return int(httpx.get(f"{self.url}/_sim/stats", timeout=10).json()["requests"])


@contextmanager
def accuro_hosts(clinics: int, hosts: int, latency_ms: float, folder: Path) -> Iterator[list[Host]]:
    """``hosts`` simulators, each serving its share of ``clinics`` (3 offices, 10 providers
    each) with ``latency_ms`` on every request, and the clinic files that point at them."""
    share = -(-clinics // hosts)
    started: list[Host] = []
    try:
        for h in range(hosts):
            count = min(share, clinics - h * share)
            if count <= 0:
                break
            where = folder / f"host-{h + 1}"
            command = [sys.executable, "-m", "reconciler.emr.accuro.simulator"]
            command += ["--fleet", str(count), "--fleet-start", str(h * share + 1)]
            command += ["--offices", "3", "--providers", "10", "--drift", "0.1"]
            command += ["--latency", str(latency_ms / 1000), "--write-clinics", str(where)]
            command += ["--port", "0"]
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
            )
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            if not url.startswith("http"):
                raise SystemExit(f"the Accuro simulator for host {h + 1} did not start")
            started.append(Host(url, process, sorted(where.glob("*.yaml"))))
        yield started
    finally:
        for host in started:
            host.process.terminate()
        for host in started:
            host.process.wait(10)


# --- the benchmark ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    accuro: int
    oscar: int
    run: Run
    requests: int
    floor_s: float

    @property
    def ratio(self) -> float:
        return self.run.wall_s / self.floor_s if self.floor_s else float("nan")


def measure(
    hosts: list[Host],
    oscar_files: list[Path],
    accuro_count: int,
    latency_ms: float,
    options: list[str],
    per_host: int,
) -> Row:
    """Plan the first ``accuro_count`` Accuro clinics (evenly from every host) and an OSCAR
    clinic for every five; the latency floor from the requests each host counted."""
    per_host_files = -(-accuro_count // len(hosts))
    paths = [p for host in hosts for p in host.files[:per_host_files]][:accuro_count]
    oscar = oscar_files[: accuro_count // OSCAR_EVERY]
    before = [host.requests() for host in hosts]
    run = plan_process([*paths, *oscar], options, {})
    counted = [host.requests() - b for host, b in zip(hosts, before, strict=True)]
    floor = max(n * latency_ms / 1000 / per_host for n in counted)
    return Row(len(paths), len(oscar), run, sum(counted), floor)


def _table(rows: list[Row]) -> str:
    head = (
        f"{'clinics':>8} {'accuro':>7} {'oscar':>6} {'wall s':>7} {'requests':>9} "
        f"{'floor s':>8} {'wall/floor':>10} {'CPU ms/clinic':>14} {'peak RSS MB':>12} statuses"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r.run.statuses.items()))
        lines.append(
            f"{r.run.clinics:>8} {r.accuro:>7} {r.oscar:>6} {r.run.wall_s:>7.2f} "
            f"{r.requests:>9} {r.floor_s:>8.2f} {r.ratio:>10.2f} "
            f"{r.run.cpu_ms_per_clinic:>14.2f} {r.run.peak_rss_mb:>12.1f} {statuses}"
        )
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--clinics", default=1000, show_default=True, help="Accuro clinics in the fleet.")
@click.option("--latency", default=50.0, show_default=True, help="Milliseconds on every request.")
@click.option("--hosts", default=4, show_default=True, help="Simulated Accuro hosts.")
@click.option("--per-host", default=32, show_default=True, help="reconcile plan --per-host.")
@click.option("--per-database", default=4, show_default=True, help="... --per-database.")
@click.option("--keep", is_flag=True, help="Keep the OSCAR databases afterwards.")
def main(
    clinics: int, latency: float, hosts: int, per_host: int, per_database: int, keep: bool
) -> None:
    """Plan a synthetic fleet (Accuro over simulated hosts, OSCAR on MariaDB) and print what
    bounds it; the last line is the figures as JSON."""
    sizes = sorted({s for s in SIZES if s < clinics} | {clinics})
    parallelism = hosts * per_host + per_database
    options = ["--parallelism", str(parallelism), "--per-host", str(per_host)]
    options += ["--per-database", str(per_database)]
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        print(
            f"fleet: {clinics} Accuro clinics (3 offices x 10 providers) on {hosts} simulated "
            f"hosts with {latency:g} ms latency, {clinics // OSCAR_EVERY} OSCAR clinics on "
            f"MariaDB; reconcile plan {' '.join(options)} (as on any day after the first)",
            flush=True,
        )
        start = time.perf_counter()
        oscar_files = oscar_fleet(clinics // OSCAR_EVERY, folder / "oscar")
        if not keep:
            stack.callback(drop_oscar_fleet)
        simulated = stack.enter_context(accuro_hosts(clinics, hosts, latency, folder / "accuro"))
        print(f"  set up in {time.perf_counter() - start:.1f} s", flush=True)
        all_files = [p for host in simulated for p in host.files] + oscar_files
        first = plan_process(all_files, options, {})
        limits = Limits(parallelism, per_host, per_database)
        first_cpu = cpu_profile(all_files, limits)
        state = folder / "state"
        confirmed = confirm_everything(first.plan, state)
        print(
            f"  first plan (nothing confirmed yet): {first.changes} changes, "
            f"{first.wall_s:.1f} s, {first.cpu_ms_per_clinic:.1f} ms CPU per clinic, "
            f"of it in this process: {first_cpu}; then every manual grid change "
            f"confirmed for {confirmed} clinics, as after the checklists were done",
            flush=True,
        )
        options += ["--state-dir", str(state)]
        rows = [measure(simulated, oscar_files, size, latency, options, per_host) for size in sizes]
        sample = simulated[0].files[:SEQUENTIAL_SAMPLE]
        one_at_a_time = ["--parallelism", "1", "--per-host", "1", "--per-database", "1"]
        sequential = plan_process(sample, [*one_at_a_time, "--state-dir", str(state)], {})
        profile = cpu_profile(all_files, limits, state)
        pure = profile.diff_render
    main_row = rows[-1]
    per_clinic_sequential = sequential.wall_s / sequential.clinics
    per_clinic_concurrent = main_row.run.wall_s / main_row.run.clinics
    speedup = per_clinic_sequential / per_clinic_concurrent
    print(_table(rows))
    print(
        f"sequential (--parallelism 1) on the first {sequential.clinics} Accuro clinics: "
        f"{per_clinic_sequential * 1000:.0f} ms per clinic; concurrent: "
        f"{per_clinic_concurrent * 1000:.1f} ms per clinic; speed-up {speedup:.1f}x "
        f"(target >= 20x: {'met' if speedup >= 20 else 'MISSED'})"
    )
    print(
        f"diff + rendering (text, Markdown, JSON): {pure:.2f} ms CPU per clinic "
        f"(target <= 2 ms: {'met' if pure <= 2 else 'MISSED'})"
    )
    print(
        f"where a clinic's CPU goes ({main_row.run.cpu_ms_per_clinic:.1f} ms in all, one "
        f"process, GIL-bound): {profile}; the rest is threads waiting their turn and start-up"
    )
    print(
        f"wall / floor {main_row.ratio:.2f} (target <= 1.3: "
        f"{'met' if main_row.ratio <= 1.3 else 'MISSED'}); peak RSS "
        f"{main_row.run.peak_rss_mb:.0f} MB (target <= 250 MB: "
        f"{'met' if main_row.run.peak_rss_mb <= 250 else 'MISSED'})"
    )
    growth = [
        f"{r.run.clinics}: {r.run.wall_s / r.run.clinics * 1000:.1f} ms, "
        f"{r.run.cpu_ms_per_clinic:.1f} ms CPU, {r.run.peak_rss_mb:.0f} MB"
        for r in rows
    ]
    print("per clinic as the fleet grows (wall, CPU, peak RSS): " + "; ".join(growth))
    print(
        json.dumps(
            {
                "wall_s": round(main_row.run.wall_s, 3),
                "floor_s": round(main_row.floor_s, 3),
                "ratio": round(main_row.ratio, 3),
                "speedup_vs_sequential": round(speedup, 1),
                "cpu_ms_per_clinic": round(pure, 3),
                "peak_rss_mb": round(main_row.run.peak_rss_mb, 1),
                "clinics": main_row.run.clinics,
            }
        )
    )


if __name__ == "__main__":
    main()
