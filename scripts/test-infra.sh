#!/usr/bin/env bash
# The tests' own Kafka and PostgreSQL: scripts/infra.sh on a run dir and ports of their own,
# so a test never reads, moves or fills the topics and databases of a running `make up`.
#
#   scripts/test-infra.sh setup|up|down|status|env|reset    (as scripts/infra.sh)
#
# `make test` and the test-* targets start it (`up`) and run pytest under `env`; .ci/run stops
# it (`down`). KAFKA_BOOTSTRAP / DATABASE_URL, when set, name external servers instead.
# It also runs a local mail server of its own (scripts/mail_server.py) for the end-to-end
# tests' notifications, keeping messages in .run/test/mail/; integration tests start their own
# SMTP server in-process, so a mail server that cannot start is reported, not fatal.
# Env: TALLY_TEST_KAFKA_PORT (19192), TALLY_TEST_KAFKA_CONTROLLER_PORT (19193),
#      TALLY_TEST_PG_PORT (15532), TALLY_TEST_MAIL_PORT (11125), TALLY_TEST_RUN_DIR (.run/test)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

# The development instance's variables (TALLY_KAFKA_PORT, ...) never leak into this one.
export TALLY_RUN_DIR="${TALLY_TEST_RUN_DIR:-$HERE/../.run/test}"
export TALLY_KAFKA_PORT="${TALLY_TEST_KAFKA_PORT:-19192}"
export TALLY_KAFKA_CONTROLLER_PORT="${TALLY_TEST_KAFKA_CONTROLLER_PORT:-19193}"
export TALLY_PG_PORT="${TALLY_TEST_PG_PORT:-15532}"

MAIL_PORT="${TALLY_TEST_MAIL_PORT:-11125}"
mail() { "$HERE/../.venv/bin/python" "$HERE/mail_server.py" "$1" --run-dir "$TALLY_RUN_DIR" --port "$MAIL_PORT"; }

case "${1:-}" in
  up)
    bash "$HERE/infra.sh" "$@"
    mail start || echo "mail: the tests' mail server did not start; e2e e-mail stays unsent" >&2
    ;;
  down)
    rc=0
    mail stop || rc=$?
    bash "$HERE/infra.sh" "$@" || rc=$?
    exit "$rc"
    ;;
  reset)
    mail stop || true
    rm -rf "$TALLY_RUN_DIR/mail"
    exec bash "$HERE/infra.sh" "$@"
    ;;
  *)
    exec bash "$HERE/infra.sh" "$@"
    ;;
esac
