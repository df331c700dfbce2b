#!/bin/bash
# One-shot topic initialiser for docker-compose: the detector's topics with the
# partition counts and cleanup policies it expects (see consumers/topics.py).
# events, commands and the changelog must share one partition count.
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
TOPICS=/opt/kafka/bin/kafka-topics.sh

create() {  # name partitions [config]
    local extra=()
    if [ -n "${3:-}" ]; then extra=(--config "$3"); fi
    "$TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$1" --partitions "$2" --replication-factor 1 "${extra[@]}"
}

create crm.access-events 6
create security.commands 6
create insider.baseline-changelog 6 cleanup.policy=compact
create hr.employee-directory 3 cleanup.policy=compact
create security.alerts 6
create crm.freeze-commands 6
create insider.dead-letter 3
create insider.audit-heads 6
create insider.peer-stats 6 cleanup.policy=compact
"$TOPICS" --bootstrap-server "$BOOTSTRAP" --list
