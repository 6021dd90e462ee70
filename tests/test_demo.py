"""The README's first command: `make demo` runs the main job end to end on SQLite."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_demo_script_plans_applies_and_converges(tmp_path: Path) -> None:
    env = {**os.environ, "VENV": str(Path(sys.executable).parent.parent), "DEMO_DIR": str(tmp_path)}
    env.pop("RECONCILER_AUDIT_LOG", None)
    # Its own process group: should it hang, the simulator it started goes with it.
    demo = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = demo.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)
    run = subprocess.CompletedProcess(demo.args, demo.returncode, stdout, stderr)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "seeded a simulated OSCAR database" in out
    assert "~ oscar.login[OceanConnect]  update" in out
    assert "verified: live state matches the clinic file" in out
    assert "riverside-fht (oscar, Riverside Family Health Team): in sync" in out
    assert "demo-Ocean-Connect-2026" not in out and "4711" not in out
    assert (tmp_path / "audit.jsonl").read_text().count("\n") == 2
    # It ends with the fleet report, now and as the saved plans had it before the fixes.
    assert "Report of 3 clinic(s) (1 unverified, 2 in sync) written to" in out
    assert f"Open {(tmp_path / 'report' / 'index.html').as_uri()}" in out
    assert "Report of 2 clinic(s) (2 with changes) written to" in out
    pages = [p.read_text("utf-8") for p in tmp_path.glob("report*/**/*.html")]
    assert len(pages) == 3 + 1 + 2 + 1
    secrets = ("demo-Ocean-Connect-2026", "demo-Accuro-client-secret-2026")
    secrets += ("demo-subscription-key-0f3a9c", "demo-OceanAPI-password-2026")
    assert not any(secret in page for secret in secrets for page in pages)
