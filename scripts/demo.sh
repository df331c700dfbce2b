#!/usr/bin/env bash
# Install into ./.venv, simulate a month of CRM activity with insiders in it,
# and run the detector over it, printing alerts and freezes as they happen.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
OUT=${DEMO_OUT:-demo-out}
.venv/bin/insider-detector simulate --out "$OUT" --employees 200 --days 28 --seed 1
.venv/bin/insider-detector replay --events "$OUT/events.jsonl" --directory "$OUT/employees.jsonl" \
  --output "$OUT/actions.jsonl" --rejects "$OUT/rejects.jsonl" --print-alerts
echo "actions: $OUT/actions.jsonl  ground truth: $OUT/labels.json"
