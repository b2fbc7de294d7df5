#!/usr/bin/env bash
# One test tier: pytest over the tier's folders, saying plainly when there is nothing to run.
#
#   scripts/test-tier.sh NAME [FOLDER...]      (the Makefile's test-unit, test-integration, ...)
#
# No folder: nothing to run, success (pytest without paths would run every tier at once).
# Folders but no test collected (pytest exit 5): a failure, named as such; a tier that lost its
# tests to a collection mistake must not read like a passing one.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PYTEST="${PYTEST:-$ROOT/.venv/bin/pytest}"
tier="${1:?usage: $0 NAME [FOLDER...]}"
shift

if (($# == 0)); then
  echo "$tier tests: no folder holds any, nothing to run"
  exit 0
fi
"$PYTEST" "$@"
status=$?
if ((status == 5)); then
  echo "$tier tests: pytest collected no test from $* (exit 5): failing, as a tier without tests is a mistake" >&2
fi
exit "$status"
