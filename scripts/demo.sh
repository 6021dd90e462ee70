#!/usr/bin/env bash
# The main job on the embedded default: a simulated OSCAR database in SQLite, seeded with
# drift (local PIN on, forced password reset, wrong PIN, no primary role), then
# validate -> plan -> apply -> plan again (nothing left to do).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DEMO=${DEMO_DIR:-$PWD/.demo}
R="$VENV/bin/reconcile"
mkdir -p "$DEMO"

# The example clinic reads its secrets from these variables (demo values, never real ones).
export RIVERSIDE_OSCAR_DB_URL="sqlite:///$DEMO/riverside-oscar.db"
export RIVERSIDE_OCEANCONNECT_PASSWORD="demo-Ocean-Connect-2026"
export RIVERSIDE_OCEANCONNECT_PIN="4711"
export RECONCILER_AUDIT_LOG="$DEMO/audit.jsonl"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Seed a simulated OSCAR database with drift"
"$VENV/bin/python" -m reconciler.emr.oscar.simulator --url "$RIVERSIDE_OSCAR_DB_URL" --scenario drift

step "reconcile validate"
$R validate

step "reconcile plan clinics/riverside-fht.yaml --out plan.json"
$R plan clinics/riverside-fht.yaml --out "$DEMO/plan.json"

step "reconcile apply clinics/riverside-fht.yaml --plan plan.json"
$R apply clinics/riverside-fht.yaml --plan "$DEMO/plan.json"

step "reconcile plan clinics/riverside-fht.yaml --detailed-exitcode (expect: nothing to change)"
$R plan clinics/riverside-fht.yaml --detailed-exitcode

step "The audit log ($DEMO/audit.jsonl)"
cat "$DEMO/audit.jsonl"
