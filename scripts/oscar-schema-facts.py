#!/usr/bin/env python3
"""Print, as JSON, the shape of the OSCAR tables the reconciler touches, read from a MySQL or
MariaDB database built with OSCAR's own install scripts (oscarinit.sql, oscardata.sql,
caisi/initcaisi.sql, ...). Facts only: column names, types, nullability, defaults, keys.

    .venv/bin/python scripts/oscar-schema-facts.py mysql+pymysql://root@127.0.0.1/oscar_db

reconciler/emr/oscar/oscar_schema.json holds the output for each supported lineage (under
"lineages"), plus the secRole rows the scripts seed (``_seed_secRole``); the simulator builds
its tables from it, and tests/emr/oscar/test_simulator.py checks that MariaDB reproduces it.
"""

from __future__ import annotations

import json
import sys

from sqlalchemy import create_engine

from reconciler.emr.oscar.simulator import read_schema_facts

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    engine = create_engine(sys.argv[1])
    with engine.connect() as conn:
        print(json.dumps(read_schema_facts(conn), indent=1))
    engine.dispose()
