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
#
# Env: TALLY_KAFKA_PORT (19092), TALLY_KAFKA_CONTROLLER_PORT (19093), TALLY_PG_PORT (15432),
#      TALLY_RUN_DIR (.run) choose the instance: its ports and where its data, logs and pids
#      live. scripts/test-infra.sh is the tests' own instance (.run/test, other ports).
#      KAFKA_BOOTSTRAP / DATABASE_URL name external servers: when set, 'setup' and 'up' leave
#      the local one of that kind alone and 'env' passes the given value on.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
KAFKA_PORT="${TALLY_KAFKA_PORT:-19092}"
PG_PORT="${TALLY_PG_PORT:-15432}"

external_kafka() { [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; }
external_postgres() { [[ -n "${DATABASE_URL:-}" ]]; }

case "${1:-}" in
  setup)
    if external_kafka; then echo "kafka: KAFKA_BOOTSTRAP is set, nothing to install"; else
      bash "$HERE/kafka.sh" setup
    fi
    if external_postgres; then echo "postgres: DATABASE_URL is set, nothing to install"; else
      bash "$HERE/postgres.sh" setup
    fi
    # The tracing dashboard `make up` starts (scripts/zipkin.sh): one jar from Maven Central.
    bash "$HERE/zipkin.sh" setup
    # The chaos suite's network fault (chaos/scenarios/network_fault.py) proxies through it.
    bash "$HERE/toxiproxy.sh" setup
    # The billing page's browser test (tests/e2e/test_billing_page.py): Debian's Chromium,
    # driven by Playwright, and axe-core from npm, injected into the page.
    if [[ ! -x /usr/bin/chromium ]] || ! command -v npm >/dev/null; then
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
        $(command -v npm >/dev/null || echo npm)
    fi
    npm ci --prefix "$HERE/../tests/browser" --no-audit --no-fund
    ;;
  up)
    # PostgreSQL first: it is ready in about a second, the JVM takes longer.
    if external_postgres; then echo "postgres: using DATABASE_URL, not starting a local server"; else
      bash "$HERE/postgres.sh" start
    fi
    if external_kafka; then echo "kafka: using KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP, not starting a local broker"; else
      bash "$HERE/kafka.sh" start
    fi
    ;;
  down)
    # Stop both even if one of them fails to stop, then report the failure. Only local
    # servers this run dir started are stopped, never the external ones.
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
    # %q: a given URL may hold characters the shell would otherwise interpret.
    printf 'export KAFKA_BOOTSTRAP=%q\n' "${KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}"
    printf 'export DATABASE_URL=%q\n' \
      "${DATABASE_URL:-postgresql://tally:tally@127.0.0.1:$PG_PORT/postgres}"
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
