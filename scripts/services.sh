#!/usr/bin/env bash
# Tally's five services as background processes: logs in .run/logs, pids in .run/pids.
#
#   scripts/services.sh start    start every service not running yet; wait until each is healthy
#   scripts/services.sh stop     stop only the processes this script started
#   scripts/services.sh status   which are running
#
# Every service traces to .run/traces/<service>.jsonl (TALLY_TRACE_DIR) unless told otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${TALLY_RUN_DIR:-$ROOT/.run}"
PY="$ROOT/.venv/bin/python"
# Start order: accounts first so the gateway can create accounts as soon as it answers.
SERVICES=(accounts usage invoicing notifications gateway)

# The port each service listens on: its own TALLY_<NAME>_HTTP_PORT, else the default.
port_of() {
  local variable="TALLY_${1^^}_HTTP_PORT" default
  case "$1" in
    gateway) default=8000 ;; accounts) default=8101 ;; usage) default=8102 ;;
    invoicing) default=8103 ;; notifications) default=8104 ;;
  esac
  echo "${!variable:-$default}"
}

# Running means: the recorded pid is alive AND is still our service. A stale pid file whose
# pid was reused by some other process must never lead us to signal that process.
running() {
  local pidfile="$RUN/pids/$1.pid"
  [ -f "$pidfile" ] || return 1
  tr '\0' ' ' < "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -q -- "-m tally_$1"
}

start() {
  mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/traces"
  export TALLY_TRACE_DIR="${TALLY_TRACE_DIR:-$RUN/traces}"
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
      # The whole process group: setsid made the service its leader.
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do running "$service" || break; sleep 0.25; done
      if running "$service"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
      echo "$service: stopped"
    fi
    rm -f "$pidfile"
  done
}

status() {
  local rc=0
  for service in "${SERVICES[@]}"; do
    if running "$service"; then echo "$service: running"; else echo "$service: stopped"; rc=1; fi
  done
  return "$rc"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
