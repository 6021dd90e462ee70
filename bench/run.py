"""``make bench``: speed and memory of the hot paths, reported as figures and ratios from
one run (machines here are shared and noisy, so no absolute target is asserted in tests).

1. An alias bomb is refused without expanding it (target: well under a second).
2. Validating a near-1 MiB clinic file: time, and peak memory as a multiple of file size.
3. Planning an OSCAR clinic on SQLite and on MariaDB: time per plan (read + diff).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml
from sqlalchemy import create_engine

from reconciler.config import load_clinics
from reconciler.config.yamlsource import YamlLoadError, parse_yaml_bytes
from reconciler.diff import diff
from reconciler.emr.oscar.passwords import Lineage
from reconciler.emr.oscar.simulator import Scenario, create_oscar_database, ensure_mysql_database
from reconciler.emr.oscar.sql import OscarSqlAdapter
from reconciler.model import Clinic


def _timed(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_alias_bomb() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    bomb = ("\n".join(lines) + "\n").encode()

    def refuse() -> None:
        try:
            parse_yaml_bytes(bomb, "bomb.yaml")
        except YamlLoadError:
            return
        raise AssertionError("the alias bomb was not refused")

    seconds = _timed(refuse)
    print(
        f"alias bomb (9^10 = 3.5e9 values if expanded): refused in {seconds * 1000:.1f} ms "
        f"({seconds:.4f} s; target < 1 s: {'met' if seconds < 1 else 'MISSED'})"
    )


def bench_validate(tmp: Path) -> None:
    offices = [
        {
            "name": f"Office {o:03d}",
            "providers": [
                {
                    "name": f"Provider{p:03d}, Office{o:03d}",
                    "permissions": ["patient", "scheduling", "billing", "emr", "labs", "visible"],
                }
                for p in range(50)
            ],
        }
        for o in range(120)
    ]
    data = {
        "version": 1,
        "clinic": {"id": "big-clinic", "name": "Big"},
        "emr": {
            "kind": "accuro",
            "api": {
                "base_url": "https://accuro.example.org",
                "tenant": "BIG",
                "uuid": "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
                "client_id": {"env": "A"},
                "client_secret": {"env": "B"},
                "subscription_key": {"env": "C"},
            },
        },
        "ocean_api_user": {"username": "OceanAPI1", "offices": offices},
    }
    path = tmp / "clinics" / "big.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, width=200))
    size = path.stat().st_size
    result = load_clinics([path])
    assert not result.errors, result.errors[:3]
    seconds = _timed(lambda: load_clinics([path]), repeat=3)
    tracemalloc.start()
    load_clinics([path])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"validate a {size / 1024:.0f} KiB clinic file (6,000 providers): "
        f"{seconds * 1000:.0f} ms, {size / 1024 / seconds:.0f} KiB/s; "
        f"peak memory {peak / 1024 / 1024:.1f} MiB = {peak / size:.1f}x the file size"
    )


def bench_plan(tmp: Path) -> None:
    os.environ.update(BENCH_PW="bench-Passw0rd", BENCH_PIN="1357")
    server = os.environ.get("RECONCILER_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306")
    urls = {"sqlite": f"sqlite:///{tmp / 'bench.db'}"}
    (tmp / "bench.db").touch()
    try:
        ensure_mysql_database(server, "reconciler_bench")
        urls["mariadb"] = f"{server}/reconciler_bench"
    except Exception as exc:
        print(f"plan on MariaDB: skipped, server not reachable ({type(exc).__name__})")
    clinic_file = tmp / "clinics" / "plan.yaml"
    timings = {}
    for backend, url in urls.items():
        engine = create_engine(url)
        create_oscar_database(
            engine, Lineage.PBKDF2, Scenario.DRIFT, password="bench-Passw0rd", pin="1357"
        )
        engine.dispose()
        os.environ["BENCH_DB_URL"] = url
        clinic_file.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "clinic": {"id": "bench", "name": "Bench"},
                    "emr": {
                        "kind": "oscar",
                        "edition": "open-source",
                        "backend": "sql",
                        "database": {"url": {"env": "BENCH_DB_URL"}},
                    },
                    "ocean_connect": {
                        "provider": {
                            "number": "999990",
                            "last_name": "Connect",
                            "first_name": "Ocean",
                        },
                        "login": {
                            "username": "OceanConnect",
                            "password": {"env": "BENCH_PW"},
                            "pin": {"env": "BENCH_PIN"},
                        },
                    },
                }
            )
        )
        (clinic,) = load_clinics([clinic_file]).clinics
        adapter = OscarSqlAdapter()
        try:
            timings[backend] = _timed(partial(_plan_once, clinic, adapter), repeat=20)
        finally:
            adapter.close()
        print(
            f"plan one OSCAR clinic on {backend}: {timings[backend] * 1000:.1f} ms "
            "(read 6 tables + 2 PBKDF2 verifications + diff; median of 20)"
        )
    if len(timings) == 2:
        print(f"  MariaDB / SQLite time ratio: {timings['mariadb'] / timings['sqlite']:.2f}")


def _plan_once(clinic: Clinic, adapter: OscarSqlAdapter) -> object:
    return diff(clinic, adapter.read(clinic))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_alias_bomb()
        bench_validate(Path(tmp))
        bench_plan(Path(tmp))


if __name__ == "__main__":
    main()
