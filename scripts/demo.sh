#!/usr/bin/env bash
# The main job on the embedded default: validate the example clinics.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/reconcile validate clinics/
