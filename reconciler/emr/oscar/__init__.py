"""OSCAR and OSCAR Pro: the OceanConnect provider, its roles, primary role and login (seed 004).

spec.py        desired state, built from a validated clinic file
checks.py      checks of meaning beyond the schema
live.py        live state as the SQL adapter reads it
observed.py    desired vs live, row by row, for the report
diff.py        pure diff rules, impact texts, the seed-004 checklist
sql.py         the adapter: OSCAR's MySQL/MariaDB (or SQLite) database
passwords.py   password and PIN storage by lineage
simulator.py   a simulated OSCAR database for demos and tests
"""

from __future__ import annotations

from typing import Any

from reconciler.emr.contract import Adapter, EmrPackage, ManualAdapter
from reconciler.emr.oscar.checks import check, check_here_and_now
from reconciler.emr.oscar.diff import diff_oscar
from reconciler.emr.oscar.observed import observed_oscar
from reconciler.emr.oscar.spec import OscarBackend, OscarSpec, build_spec
from reconciler.fleet import LOCAL, Network, Site, SiteKind


def _adapter_name(spec: Any) -> str:
    assert isinstance(spec, OscarSpec)
    return "oscar-sql" if spec.backend is OscarBackend.SQL else "manual"


def _new_adapter(name: str, network: Network) -> Adapter:
    if name == "oscar-sql":
        from reconciler.emr.oscar.sql import OscarSqlAdapter  # SQLAlchemy only when needed

        return OscarSqlAdapter(network)
    return ManualAdapter()


def _site(spec: Any) -> Site:
    """The database server (``mysql://host:port``); a SQLite file shares nothing."""
    assert isinstance(spec, OscarSpec)
    if spec.backend is not OscarBackend.SQL or spec.database_url is None:
        return LOCAL
    from reconciler.emr.oscar.connection import parse_database_url

    url = parse_database_url(spec.database_url)
    if url.get_backend_name() == "sqlite":
        return LOCAL
    return Site(SiteKind.DATABASE, f"{url.get_backend_name()}://{url.host}:{url.port or 3306}")


EMR = EmrPackage(
    kind="oscar",
    title="OSCAR",
    blocks=("ocean_connect",),
    emr_keys=("edition", "backend", "database"),
    check=check,
    build=build_spec,
    adapter_name=_adapter_name,
    new_adapter=_new_adapter,
    site=_site,
    diff=diff_oscar,
    observed=observed_oscar,
    check_here_and_now=check_here_and_now,
)
