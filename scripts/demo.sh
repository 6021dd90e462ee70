#!/usr/bin/env bash
# The main job on the embedded default:
# - OSCAR: a simulated OSCAR database in SQLite, seeded with drift (local PIN on, forced
#   password reset, wrong PIN, no primary role): validate -> plan -> apply -> plan again.
# - Accuro: the Accuro simulator (a real HTTP server) with an OceanAPI user missing boxes:
#   plan -> apply (a checklist) -> a person ticks the boxes (the simulator's admin API
#   plays them) -> reconcile confirm -> plan again (in sync).
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
export LAKESIDE_ACCURO_CLIENT_ID="demo-lakeside-client"
export LAKESIDE_ACCURO_CLIENT_SECRET="demo-Accuro-client-secret-2026"
export LAKESIDE_ACCURO_SUBSCRIPTION_KEY="demo-subscription-key-0f3a9c"
export LAKESIDE_OCEANAPI_PASSWORD="demo-OceanAPI-password-2026"
export RECONCILER_STATE_DIR="$DEMO/state"
export RECONCILER_CHECKLIST_DIR="$DEMO/checklists"
ACCURO_PORT=${ACCURO_SIM_PORT:-8765}
rm -rf "$RECONCILER_STATE_DIR" "$RECONCILER_CHECKLIST_DIR"

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

step "Start the Accuro simulator (clinics/lakeside-medical.yaml points at it)"
SIM_LOG="$DEMO/accuro-simulator.log"
"$VENV/bin/python" -m reconciler.emr.accuro.simulator \
    --seed reconciler/emr/accuro/sim_seed.example.yaml --port "$ACCURO_PORT" >"$SIM_LOG" 2>&1 &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for _ in $(seq 1 50); do
    grep -q '^http://' "$SIM_LOG" 2>/dev/null && break
    kill -0 $SIM_PID 2>/dev/null || { cat "$SIM_LOG"; echo "the Accuro simulator did not start (is port $ACCURO_PORT free? set ACCURO_SIM_PORT)"; exit 1; }
    sleep 0.1
done
SIM_URL=$(head -1 "$SIM_LOG")
echo "Accuro simulator at $SIM_URL"

step "reconcile plan clinics/lakeside-medical.yaml (the OceanAPI user lacks boxes)"
$R plan clinics/lakeside-medical.yaml --out "$DEMO/accuro-plan.json"

step "reconcile apply clinics/lakeside-medical.yaml --plan accuro-plan.json (a checklist for a person)"
$R apply clinics/lakeside-medical.yaml --plan "$DEMO/accuro-plan.json"

step "A person follows $RECONCILER_CHECKLIST_DIR/lakeside-medical.md in Accuro (the simulator's admin API plays them)"
"$VENV/bin/python" - "$SIM_URL" <<'PY'
import sys, httpx
url = sys.argv[1]
six = {c: "full" for c in ("patient", "scheduling", "billing", "emr", "labs", "visible")}
rows = {(1, 1001): six, (1, 1002): six, (1, 1042): six, (2, 1001): six, (2, 1004): six,
        (2, 1005): six, (1, 1003): {**six, "billing": None}}
for (office, provider), cells in rows.items():
    r = httpx.put(f"{url}/_sim/grid/OceanAPI12345/offices/{office}/providers/{provider}", json=cells)
    r.raise_for_status()
    ticked = ", ".join(k for k, v in cells.items() if v)
    print(f"  office {office}, provider {provider}: {ticked}; Save")
print("  Ocean Cloud Connect: Sync Full Schedule")
PY

step "reconcile confirm lakeside-medical --all --by \"Demo Person\""
$R confirm lakeside-medical clinics/lakeside-medical.yaml --all --by "Demo Person"

step "reconcile plan clinics/lakeside-medical.yaml --detailed-exitcode (expect: in sync)"
$R plan clinics/lakeside-medical.yaml --detailed-exitcode

step "reconcile report --out report (every clinic, read live: the fleet as HTML)"
$R report --out "$DEMO/report"

step "reconcile report --plan plan.json --plan accuro-plan.json --out report-before (the saved plans: before the fixes, no EMR read)"
$R report --plan "$DEMO/plan.json" --plan "$DEMO/accuro-plan.json" --out "$DEMO/report-before"
