"""``python -m reconciler.emr.accuro.simulator``: help, then start, query and stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from reconciler.emr.accuro.client import AccuroClient
from tests.conftest import ROOT
from tests.emr.accuro.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENV,
    EXAMPLE_SEED,
    SUBSCRIPTION_KEY,
    TENANT,
    UUID,
)

COMMAND = [sys.executable, "-m", "reconciler.emr.accuro.simulator"]


def test_help():
    done = subprocess.run(
        [*COMMAND, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert "--seed" in done.stdout and "--port" in done.stdout


def test_a_seed_whose_secrets_are_unset_is_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    done = subprocess.run(
        [*COMMAND, "--seed", str(EXAMPLE_SEED), "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "environment variable LAKESIDE_ACCURO_CLIENT_ID is not set" in done.stderr


def test_start_query_and_stop():
    env = {**os.environ, **ENV}
    with subprocess.Popen(
        [*COMMAND, "--seed", str(EXAMPLE_SEED), "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            with AccuroClient(
                base_url,
                tenant=TENANT,
                uuid=UUID,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                subscription_key=SUBSCRIPTION_KEY,
            ) as client:
                assert [o.name for o in client.offices()][:2] == [
                    "Main Street Office",
                    "Lakeshore Walk-In Clinic",
                ]
                assert client.whoami().username == "OceanAPI12345"
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert CLIENT_SECRET not in err and SUBSCRIPTION_KEY not in err
