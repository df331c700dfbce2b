#!/usr/bin/env bash
# Regenerate docs/img/report.png: the first page of a report on a simulated world.
# Needs the dev install (scripts/test.sh makes it) and Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "error: chromium is not installed (apt-get install chromium)" >&2; exit 2; }
BIN=.venv/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$BIN/insider-detector" simulate --out "$WORK/sim" --employees 150 --days 21 --seed 11 >/dev/null
"$BIN/insider-detector" replay --events "$WORK/sim/events.jsonl" \
    --directory "$WORK/sim/employees.jsonl" --output "$WORK/actions.jsonl" --partitions 2 \
    --rejects /dev/null 2>/dev/null
# An audit trail per partition with published heads, as the service keeps them.
"$BIN/python" - "$WORK" <<'PY'
import sys
from pathlib import Path

import orjson

from detector.audit import ACTION, AuditLog
from detector.partitioning import partition_for

work = Path(sys.argv[1])
(work / "audit").mkdir()
logs = {p: AuditLog.open(work / "audit" / f"crm.access-events-{p}.audit.jsonl") for p in (0, 1)}
heads = []
for line in (work / "actions.jsonl").read_bytes().splitlines():
    action = orjson.loads(line)
    p = partition_for(action["employee_id"], 2)
    logs[p].append(ACTION, action, action["event_time"])
    seq, value = logs[p].mark_head(action["event_time"])
    heads.append({"partition": p, "seq": seq, "hash": value, "at": action["event_time"]})
for log in logs.values():
    log.flush()
    log.close()
(work / "heads.jsonl").write_bytes(b"".join(orjson.dumps(h) + b"\n" for h in heads))
PY
"$BIN/insider-detector" report --actions "$WORK/actions.jsonl" \
    --directory "$WORK/sim/employees.jsonl" --events "$WORK/sim/events.jsonl" \
    --audit-dir "$WORK/audit" --audit-heads "$WORK/heads.jsonl" --output "$WORK/report.html"
mkdir -p docs/img
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile" --hide-scrollbars --force-device-scale-factor=1 \
    --window-size=1000,1414 --screenshot=docs/img/report.png \
    "file://$WORK/report.html" 2>/dev/null
echo "wrote docs/img/report.png"
