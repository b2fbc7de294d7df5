#!/usr/bin/env bash
# Local infrastructure for dev, tests and CI: one Kafka broker and one PostgreSQL server on
# loopback, run as plain processes (this project has no Docker engine).
#
#   scripts/infra.sh setup   install/fetch what is missing (apt, Maven Central); idempotent
#   scripts/infra.sh up      start both, return once each answers clients; idempotent
#   scripts/infra.sh down    stop both (only the processes that 'up' started)
#   scripts/infra.sh status  exit 0 only if both run
#   scripts/infra.sh env     print the variables that point apps and tests at them:
#                            eval "$(scripts/infra.sh env)"
#   scripts/infra.sh reset   stop both and wipe their data (topics, offsets, databases)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_PORT="${TALLY_KAFKA_PORT:-19092}"
PG_PORT="${TALLY_PG_PORT:-15432}"

case "${1:-}" in
  setup)
    bash "$HERE/kafka.sh" setup
    bash "$HERE/postgres.sh" setup
    ;;
  up)
    # PostgreSQL first: it is ready in about a second, the JVM takes longer.
    bash "$HERE/postgres.sh" start
    bash "$HERE/kafka.sh" start
    ;;
  down)
    # Stop both even if one of them fails to stop, then report the failure.
    rc=0
    bash "$HERE/kafka.sh" stop || rc=$?
    bash "$HERE/postgres.sh" stop || rc=$?
    exit "$rc"
    ;;
  status)
    rc=0
    bash "$HERE/kafka.sh" status || rc=$?
    bash "$HERE/postgres.sh" status || rc=$?
    exit "$rc"
    ;;
  env)
    echo "export KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
    echo "export DATABASE_URL=postgresql://tally:tally@127.0.0.1:$PG_PORT/postgres"
    ;;
  reset)
    bash "$HERE/kafka.sh" reset
    bash "$HERE/postgres.sh" reset
    ;;
  *)
    echo "usage: $0 setup|up|down|status|env|reset" >&2
    exit 1
    ;;
esac
