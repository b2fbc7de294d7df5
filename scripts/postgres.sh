#!/usr/bin/env bash
# A PostgreSQL server for dev and tests, on loopback, without Docker: Debian's binaries run
# on a cluster of our own under the run dir (never the system cluster on 5432).
#
#   scripts/postgres.sh setup|start|stop|status|reset|createdb NAME
#
# DEV ONLY authentication: any local user may connect over the unix socket in the cluster's
# folder without a password (trust); TCP on 127.0.0.1 needs a password (scram-sha-256).
# Apps and tests use role tally / password tally (a SUPERUSER: tests create databases).
# Env: TALLY_PG_PORT (15432), TALLY_RUN_DIR (.run): one cluster per run dir, so the tests'
#      own (.run/test) is another one
#
# Where the cluster lives: in <run dir>/postgres. As root, the server runs as the 'postgres'
# user, which must reach that folder; a checkout in a private home (/root is mode 700) is out
# of its reach, so there the cluster lives in postgres's home instead, one folder per run dir
# (/var/lib/postgresql/tally/<hash of the run dir's path>, its 'checkout' file says whose), and
# <run dir>/postgres and <run dir>/logs/postgres.log are symlinks to it. 'reset' removes both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PORT="${TALLY_PG_PORT:-15432}"
RUN_DIR="$(realpath -m "${TALLY_RUN_DIR:-$ROOT/.run}")"
PIDFILE="$RUN_DIR/pids/postgres.pid"

say() { echo "postgres: $*"; }
die() { echo "postgres: $*" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root, run its tools as the 'postgres' user, from /
# (the caller's folder may be out of its reach, and its tools complain about that).
if [[ $EUID -eq 0 ]]; then as_pg() { (cd / && runuser -u postgres -- "$@"); }; else as_pg() { "$@"; }; fi

# True when the 'postgres' user can reach (search) the deepest existing folder of $1's path.
pg_can_reach() {
  local path="$1"
  while [[ ! -e "$path" ]]; do path="$(dirname "$path")"; done
  as_pg test -x "$path"
}

# Sets RUN (the cluster's folder: data/, sockets, and the log when kept out of the tree),
# DATA, SOCKETS and LOG. No side effects: 'setup' creates what is missing.
locate() {
  RUN="$RUN_DIR/postgres"
  LOG="$RUN_DIR/logs/postgres.log"
  OUTSIDE=""
  if [[ -L "$RUN" ]]; then
    # Placed out of the tree before: always use the real path, the server cannot follow
    # a link through a folder it cannot reach.
    RUN="$(readlink -f "$RUN")"
    OUTSIDE=1
  elif [[ $EUID -eq 0 ]] && ! pg_can_reach "$RUN_DIR" && [[ ! -e "$RUN/data/PG_VERSION" ]]; then
    local home
    home="$(getent passwd postgres | cut -d: -f6)"
    [[ -n "$home" && -d "$home" ]] || die "user postgres has no home folder to keep the cluster of $RUN_DIR in"
    RUN="$home/tally/$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-16)"
    OUTSIDE=1
  fi
  DATA="$RUN/data"
  SOCKETS="$RUN" # a socket path must stay under ~100 bytes, so not deeper than this
  if [[ -n "$OUTSIDE" ]]; then LOG="$RUN/postgres.log"; fi
}
locate

# An existing cluster must be run by the major version that created it; a new one gets the newest.
pg_bin() {
  if [[ -f "$DATA/PG_VERSION" ]]; then
    local bin
    bin="/usr/lib/postgresql/$(cat "$DATA/PG_VERSION")/bin"
    [[ -x "$bin/pg_ctl" ]] || die "$DATA was made by PostgreSQL $(cat "$DATA/PG_VERSION"), not installed: '$0 reset'"
    echo "$bin"
  else
    find /usr/lib/postgresql -maxdepth 3 -path '*/bin/pg_ctl' -printf '%h\n' 2>/dev/null | sort -V | tail -n 1
  fi
}

psql_admin() { "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -U postgres -d postgres "$@"; }

# postmaster.pid holds the running server's pid (line 1) and port (line 4).
running() { echo "127.0.0.1:$(sed -n 4p "$DATA/postmaster.pid") (pid $(head -n 1 "$DATA/postmaster.pid"))"; }

is_running() { [[ -f "$DATA/PG_VERSION" ]] && as_pg "$(pg_bin)/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

# A path as the user knows it: relative to the checkout when inside it.
shown() { echo "${1#"$ROOT"/}"; }

setup() {
  if [[ -z "$(pg_bin)" ]]; then
    say "installing PostgreSQL with apt"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  fi
  local bin
  bin="$(pg_bin)"
  [[ -n "$bin" ]] || die "no pg_ctl under /usr/lib/postgresql/*/bin"

  mkdir -p "$RUN" "$(dirname "$LOG")" "$RUN_DIR/logs" "$(dirname "$PIDFILE")"
  touch "$LOG"
  if [[ -n "$OUTSIDE" ]]; then
    # Say whose cluster it is, and leave pointers where the other run-dir files are. An
    # in-tree folder without a cluster (locate checked) gives way to the link.
    echo "$RUN_DIR" >"$RUN/checkout"
    if [[ ! -L "$RUN_DIR/postgres" ]]; then
      rm -rf "$RUN_DIR/postgres"
      ln -s "$RUN" "$RUN_DIR/postgres"
    fi
    ln -sfn "$LOG" "$RUN_DIR/logs/postgres.log"
  fi
  if [[ $EUID -eq 0 ]]; then
    chown postgres: "$RUN" "$LOG"
    as_pg test -x "$RUN" ||
      die "user postgres cannot reach the cluster in $RUN: every folder above it needs o+x ('$0 reset' starts afresh out of the tree)"
  fi
  if [[ -f "$DATA/PG_VERSION" ]]; then
    say "cluster already in $(shown "$DATA") (PostgreSQL $(cat "$DATA/PG_VERSION"))"
    return
  fi
  say "creating a cluster in $(shown "$DATA") with $bin/initdb"
  # C.UTF-8: byte-order sorting like the C locale, but upper()/lower() know non-ASCII letters.
  as_pg "$bin/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >>"$LOG"
  # Our settings live in their own file, rewritten on every start (see write_config).
  echo "include_if_exists = 'tally.conf'" >>"$DATA/postgresql.conf"
}

write_config() {
  cat >"$DATA/tally.conf" <<EOF
# Generated by scripts/postgres.sh: edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKETS'
# Every service holds a pool and tests open many: the default 100 runs out.
max_connections = 300
shared_buffers = 256MB
# fsync stays on: the restart tests must see what a real server would keep.
fsync = on
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  [[ $EUID -ne 0 ]] || chown postgres: "$DATA/tally.conf"
}

start() {
  if is_running; then
    say "already running on $(running)"
    return
  fi
  setup >/dev/null
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "port $PORT is taken by another process (set TALLY_PG_PORT)"
  write_config
  local bin
  bin="$(pg_bin)"
  say "starting on 127.0.0.1:$PORT (log: $(shown "$RUN_DIR/logs/postgres.log"))"
  # -w: pg_ctl returns once the server accepts connections. setsid: a Ctrl-C aimed at the
  # caller does not reach the server.
  as_pg setsid "$bin/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 >/dev/null ||
    die "did not start, see $LOG"
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30 || die "not accepting TCP connections, see $LOG"
  head -n 1 "$DATA/postmaster.pid" >"$PIDFILE"

  # Idempotent: creates the role on a new cluster, resets its password on an old one.
  psql_admin <<'SQL'
SELECT 'CREATE ROLE tally' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tally') \gexec
ALTER ROLE tally LOGIN SUPERUSER PASSWORD 'tally';
SQL
  say "ready on $(running)"
}

stop() {
  if ! is_running; then
    say "not running"
    rm -f "$PIDFILE"
    return
  fi
  local bin
  bin="$(pg_bin)"
  # fast: roll back open transactions and disconnect clients instead of waiting for them.
  as_pg "$bin/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null ||
    as_pg "$bin/pg_ctl" stop -D "$DATA" -m immediate -w -t 30 >/dev/null
  rm -f "$PIDFILE"
  say "stopped"
}

status() {
  if is_running; then
    say "running on $(running)"
  else
    say "not running"
    return 1
  fi
}

createdb() {
  local name="${1:?usage: $0 createdb NAME}"
  is_running || die "not running: '$0 start' first"
  # psql variables quote the name; \gexec runs the CREATE only when it is missing.
  psql_admin -v name="$name" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER tally', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SQL
  say "database $name ready"
}

case "${1:-}" in
  setup) setup ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  createdb) createdb "${2:-}" ;;
  reset) # the next start runs initdb again
    stop
    rm -rf "$RUN"
    if [[ -n "$OUTSIDE" ]]; then rm -f "$RUN_DIR/postgres" "$RUN_DIR/logs/postgres.log"; fi
    say "cluster wiped"
    ;;
  *) die "usage: $0 setup|start|stop|status|reset|createdb NAME" ;;
esac
