#!/usr/bin/env bash
# The tests' own Kafka and PostgreSQL: scripts/infra.sh on a run dir and ports of their own,
# so a test never reads, moves or fills the topics and databases of a running `make up`.
#
#   scripts/test-infra.sh setup|up|down|status|env|reset    (as scripts/infra.sh)
#
# `make test` and the test-* targets start it (`up`) and run pytest under `env`; .ci/run stops
# it (`down`). KAFKA_BOOTSTRAP / DATABASE_URL, when set, name external servers instead.
# Env: TALLY_TEST_KAFKA_PORT (19192), TALLY_TEST_KAFKA_CONTROLLER_PORT (19193),
#      TALLY_TEST_PG_PORT (15532), TALLY_TEST_RUN_DIR (.run/test)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

# The development instance's variables (TALLY_KAFKA_PORT, ...) never leak into this one.
export TALLY_RUN_DIR="${TALLY_TEST_RUN_DIR:-$HERE/../.run/test}"
export TALLY_KAFKA_PORT="${TALLY_TEST_KAFKA_PORT:-19192}"
export TALLY_KAFKA_CONTROLLER_PORT="${TALLY_TEST_KAFKA_CONTROLLER_PORT:-19193}"
export TALLY_PG_PORT="${TALLY_TEST_PG_PORT:-15532}"

exec bash "$HERE/infra.sh" "$@"
