#!/usr/bin/env bash
# Install into ./.venv, start an embedded Kafka-protocol broker, stream a
# simulated week of CRM activity with insiders through it and run the detector
# live, printing alerts, freezes and releases; ends with a summary.
# Extra arguments go to `insider-detector demo` (e.g. --seconds 120).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[demo]"
exec .venv/bin/insider-detector demo "$@"
