#!/usr/bin/env bash
# Toxiproxy, the TCP proxy the chaos suite's network_fault scenario cuts and slows (Shopify's,
# driven over its HTTP API by chaos/faults.py). Built from the Go module proxy with the machine's
# Go toolchain into .cache/toxiproxy/<version>/, so a fresh machine or CI gets it from
# `make setup` (scripts/infra.sh setup calls this) and a version bump builds a new binary.
#
#   scripts/toxiproxy.sh setup   build it unless that version is there already; idempotent
#   scripts/toxiproxy.sh path    print the server binary's path (whether or not it is built)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VERSION="v2.12.0"
DIR="$ROOT/.cache/toxiproxy/$VERSION"
BIN="$DIR/toxiproxy-server"

say() { echo "toxiproxy: $*"; }
die() { echo "toxiproxy: $*" >&2; exit 1; }

go_command() {
  if command -v go >/dev/null; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else return 1
  fi
}

setup() {
  if [[ -x "$BIN" ]]; then
    say "$VERSION already in ${DIR#"$ROOT"/}"
    return
  fi
  local go
  go="$(go_command)" || die "no Go toolchain (go1.23 or newer) to build it with; install Go first"
  say "building $VERSION with $("$go" version | cut -d' ' -f3) (a few minutes on 2 cores)"
  # Into a temp dir first, so an interrupted build is never mistaken for a complete one. The
  # module's server command is named 'server'; it becomes toxiproxy-server here.
  rm -rf "$DIR.partial"
  mkdir -p "$DIR.partial"
  GOBIN="$DIR.partial" GOFLAGS=-mod=mod "$go" install \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" || die "go install failed (see above)"
  mv "$DIR.partial/server" "$DIR.partial/toxiproxy-server"
  rm -rf "$DIR"
  mv "$DIR.partial" "$DIR"
  say "ready: ${BIN#"$ROOT"/}"
}

case "${1:-}" in
  setup) setup ;;
  path) echo "$BIN" ;;
  *) die "usage: $0 setup|path" ;;
esac
