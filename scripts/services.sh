#!/usr/bin/env bash
# Tally's five services as background processes: logs in .run/logs, pids in .run/pids.
# The local mail server (scripts/mail_server.py) starts first and stops last: notifications
# hands its e-mail to it (TALLY_MAIL_PORT, 11025), and it keeps every message in .run/mail/.
#
#   scripts/services.sh start    start every service not running yet; wait until each is healthy
#   scripts/services.sh stop     stop only the processes this script started
#   scripts/services.sh status   which are running
#   scripts/services.sh config   the infrastructure and ports each service would be given
#
# Every service traces to .run/traces/<service>.jsonl (TALLY_TRACE_DIR) unless told otherwise,
# and to the local Zipkin `make up` starts (scripts/zipkin.sh; OTEL_TRACES_EXPORTER=zipkin,
# OTEL_EXPORTER_ZIPKIN_ENDPOINT) unless OTEL_TRACES_EXPORTER names another exporter.
# Where the infrastructure is: KAFKA_BOOTSTRAP and DATABASE_URL (a server URL; each service
# gets its own database tally_<service> on it) when set, as `make up` does with
# `scripts/infra.sh env`, else the local servers on TALLY_KAFKA_PORT / TALLY_PG_PORT. A
# service's own TALLY_<SERVICE>_* variables (DATABASE_URL, HTTP_PORT, ...) win over both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
RUN="$(realpath -m "${TALLY_RUN_DIR:-$ROOT/.run}")"
PY="$ROOT/.venv/bin/python"
# Start order: accounts first so the gateway can create accounts as soon as it answers.
SERVICES=(accounts usage invoicing notifications gateway)

# Services run from the checkout: that, and this checkout's interpreter, is how `running`
# tells them from the same service of another checkout.
cd "$ROOT"

# The port each service listens on: its own TALLY_<NAME>_HTTP_PORT, else the default.
port_of() {
  local variable="TALLY_${1^^}_HTTP_PORT" default
  case "$1" in
    gateway) default=8000 ;; accounts) default=8101 ;; usage) default=8102 ;;
    invoicing) default=8103 ;; notifications) default=8104 ;;
  esac
  echo "${!variable:-$default}"
}

# Running means: the recorded pid is alive AND is this checkout's service: its command line
# is exactly what `start` ran and its working directory is this checkout. A stale pid file
# whose pid was reused by another process, or names the same service of another checkout,
# must never lead us to signal that process.
running() {
  local pidfile="$RUN/pids/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" == "$PY -m tally_$1 " ]] || return 1
  [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$ROOT" ]]
}

# The server URL $1 naming database $2 instead (a query such as ?sslmode=require is kept).
with_database() {
  "$PY" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$1" "$2"
}

# Point every service at the infrastructure, unless its own variable says otherwise.
configure() {
  export KAFKA_BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:${TALLY_KAFKA_PORT:-19092}}"
  local server="${DATABASE_URL:-postgresql://tally:tally@127.0.0.1:${TALLY_PG_PORT:-15432}/postgres}"
  local service variable
  for service in "${SERVICES[@]}"; do
    variable="TALLY_${service^^}_DATABASE_URL"
    [[ -n "${!variable:-}" ]] || export "$variable=$(with_database "$server" "tally_$service")"
  done
  local upstream
  for upstream in accounts usage invoicing notifications; do
    variable="TALLY_GATEWAY_${upstream^^}_URL"
    [[ -n "${!variable:-}" ]] || export "$variable=http://127.0.0.1:$(port_of "$upstream")"
  done
  # notifications sends e-mail through the local mail server unless told of another relay
  [[ -n "${TALLY_NOTIFICATIONS_SMTP_PORT:-}" ]] ||
    export "TALLY_NOTIFICATIONS_SMTP_PORT=${TALLY_MAIL_PORT:-11025}"
  # accounts asks invoicing for top-ups and card authorizations (the self-service upgrade)
  [[ -n "${TALLY_ACCOUNTS_INVOICING_URL:-}" ]] ||
    export "TALLY_ACCOUNTS_INVOICING_URL=http://127.0.0.1:$(port_of invoicing)"
  # notifications asks accounts for the committed billing mode right before a prepaid-only send
  [[ -n "${TALLY_NOTIFICATIONS_ACCOUNTS_URL:-}" ]] ||
    export "TALLY_NOTIFICATIONS_ACCOUNTS_URL=http://127.0.0.1:$(port_of accounts)"
}

start() {
  mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/traces"
  export TALLY_TRACE_DIR="${TALLY_TRACE_DIR:-$RUN/traces}"
  export OTEL_TRACES_EXPORTER="${OTEL_TRACES_EXPORTER:-zipkin}"
  export OTEL_EXPORTER_ZIPKIN_ENDPOINT="${OTEL_EXPORTER_ZIPKIN_ENDPOINT:-$(bash "$ROOT/scripts/zipkin.sh" url)/api/v2/spans}"
  configure
  # Without it e-mail waits and is retried (the services run regardless), so it is reported,
  # not fatal: its port may be taken by another checkout's mail server.
  "$PY" "$ROOT/scripts/mail_server.py" start --run-dir "$RUN" --port "${TALLY_MAIL_PORT:-11025}" ||
    echo "mail: not started; e-mail stays pending until a mail server listens there" >&2
  for service in "${SERVICES[@]}"; do
    if running "$service"; then
      echo "$service: already running (pid $(cat "$RUN/pids/$service.pid"))"
      continue
    fi
    # setsid: the service outlives this shell and gets its own process group to stop.
    setsid "$PY" -m "tally_$service" >>"$RUN/logs/$service.log" 2>&1 < /dev/null &
    echo $! > "$RUN/pids/$service.pid"
  done
  for service in "${SERVICES[@]}"; do
    wait_healthy "$service"
  done
}

wait_healthy() {
  local service=$1 url="http://127.0.0.1:$(port_of "$1")/health"
  for _ in $(seq 1 120); do
    if "$PY" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "$url" >/dev/null 2>&1; then
      echo "$service: healthy at ${url%/health}"
      return 0
    fi
    if ! running "$service"; then
      echo "$service: exited during start-up; last lines of $RUN/logs/$service.log:" >&2
      tail -n 30 "$RUN/logs/$service.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "$service: not healthy after 60 s; see $RUN/logs/$service.log" >&2
  return 1
}

stop() {
  for service in "${SERVICES[@]}"; do
    local pidfile="$RUN/pids/$service.pid"
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    if running "$service"; then
      # The whole process group when setsid made the service its leader, else itself alone.
      local target="$pid"
      [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" != "$pid" ]] || target="-$pid"
      kill -TERM -- "$target" 2>/dev/null || true
      for _ in $(seq 1 40); do running "$service" || break; sleep 0.25; done
      if running "$service"; then kill -KILL -- "$target" 2>/dev/null || true; fi
      echo "$service: stopped"
    elif [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]]; then
      echo "$service: pid $pid in $pidfile is not this checkout's $service; left alone"
    fi
    rm -f "$pidfile"
  done
  "$PY" "$ROOT/scripts/mail_server.py" stop --run-dir "$RUN"
}

config() {
  configure
  echo "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP"
  local service variable
  for service in "${SERVICES[@]}"; do
    variable="TALLY_${service^^}_DATABASE_URL"
    echo "$variable=${!variable}"
    echo "TALLY_${service^^}_HTTP_PORT=$(port_of "$service")"
  done
  for service in accounts usage invoicing notifications; do
    variable="TALLY_GATEWAY_${service^^}_URL"
    echo "$variable=${!variable}"
  done
  echo "TALLY_ACCOUNTS_INVOICING_URL=$TALLY_ACCOUNTS_INVOICING_URL"
  echo "TALLY_NOTIFICATIONS_SMTP_PORT=$TALLY_NOTIFICATIONS_SMTP_PORT"
  echo "TALLY_NOTIFICATIONS_ACCOUNTS_URL=$TALLY_NOTIFICATIONS_ACCOUNTS_URL"
}

status() {
  local rc=0
  for service in "${SERVICES[@]}"; do
    if running "$service"; then echo "$service: running"; else echo "$service: stopped"; rc=1; fi
  done
  "$PY" "$ROOT/scripts/mail_server.py" status --run-dir "$RUN" || rc=1
  return "$rc"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  config) config ;;
  *) echo "usage: $0 start|stop|status|config" >&2; exit 2 ;;
esac
