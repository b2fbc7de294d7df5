#!/usr/bin/env bash
# The tracing dashboard for local runs: a Zipkin server (in-memory storage) on loopback, without
# Docker. Its one jar comes from Maven Central (io.zipkin:zipkin-server, the `exec` classifier)
# into .cache/zipkin/; state (pid, log) lives under the run dir (.run/ unless TALLY_RUN_DIR).
#
#   scripts/zipkin.sh setup|start|stop|status|url
#
# The services send it their spans with the Zipkin JSON exporter (TALLY_TRACE_EXPORTER=zipkin,
# TALLY_ZIPKIN_ENDPOINT=<url>/api/v2/spans; scripts/services.sh sets both when it runs).
# Env: TALLY_ZIPKIN_PORT (9411), TALLY_ZIPKIN_HEAP (-Xmx384m), TALLY_RUN_DIR (.run)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VERSION="3.5.1"
PORT="${TALLY_ZIPKIN_PORT:-9411}"
HEAP="${TALLY_ZIPKIN_HEAP:--Xmx384m}"
RUN_DIR="$(realpath -m "${TALLY_RUN_DIR:-$ROOT/.run}")"
JAR="$ROOT/.cache/zipkin/zipkin-server-$VERSION-exec.jar"
LOG="$RUN_DIR/logs/zipkin.log"
PIDFILE="$RUN_DIR/pids/zipkin.pid"
PORTFILE="$RUN_DIR/zipkin/port"

say() { echo "zipkin: $*"; }
die() { echo "zipkin: $*" >&2; exit 1; }

# The pid file alone could point at a recycled pid: also check it is our jar's JVM.
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-jar $JAR" || return 1
  echo "$pid"
}

running_port() { cat "$PORTFILE" 2>/dev/null || echo "$PORT"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

setup() {
  if [[ -f "$JAR" ]]; then
    say "jar already in ${JAR#"$ROOT"/}"
    return
  fi
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    say "installing a JRE and Maven with apt"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless maven
  fi
  say "fetching zipkin-server $VERSION from Maven Central (project-local repo .cache/m2)"
  local out
  mkdir -p "$(dirname "$JAR")"
  # Into a temp dir first, so an interrupted download is never mistaken for a complete one.
  rm -rf "$JAR.partial" && mkdir -p "$JAR.partial"
  if ! out="$(mvn -q -B -Dmaven.repo.local="$ROOT/.cache/m2" dependency:copy \
    -Dartifact="io.zipkin:zipkin-server:$VERSION:jar:exec" -DoutputDirectory="$JAR.partial" 2>&1)"; then
    echo "$out" >&2
    die "could not fetch the jar (Maven Central reachable? see above)"
  fi
  mv "$JAR.partial/zipkin-server-$VERSION-exec.jar" "$JAR"
  rm -rf "$JAR.partial"
}

start() {
  if pid="$(running_pid)"; then
    say "already running (pid $pid) at http://127.0.0.1:$(running_port)"
    return
  fi
  [[ -f "$JAR" ]] || setup
  port_in_use "$PORT" && die "port $PORT is taken by another process (set TALLY_ZIPKIN_PORT)"
  mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")" "$(dirname "$PORTFILE")"
  echo "$PORT" >"$PORTFILE"
  say "starting on 127.0.0.1:$PORT (log: ${LOG#"$ROOT"/})"
  # In-memory storage: a dashboard for the running system, not an archive. C1 only: the
  # server starts in about half the time on a busy two-core machine.
  # shellcheck disable=SC2086  # HEAP may hold several JVM flags
  QUERY_PORT="$PORT" STORAGE_TYPE=mem MEM_MAX_SPANS=200000 \
    setsid nohup java $HEAP -XX:TieredStopAtLevel=1 -Djava.awt.headless=true -jar "$JAR" \
    --armeria.ports[0].port="$PORT" --armeria.ports[0].ip=127.0.0.1 --armeria.ports[0].protocols[0]=http \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 180); do
    if "$ROOT/.venv/bin/python" -c \
      "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
      say "ready at http://127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
      return
    fi
    if ! running_pid >/dev/null; then
      tail -n 20 "$LOG" >&2
      die "exited during start-up, see $LOG"
    fi
    sleep 0.5
  done
  stop >/dev/null 2>&1 || true
  die "not ready after 90 s, see $LOG"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    rm -f "$PIDFILE"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

status() {
  if pid="$(running_pid)"; then
    say "running (pid $pid) at http://127.0.0.1:$(running_port)"
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  setup) setup ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "http://127.0.0.1:$(running_port)" ;;
  *) die "usage: $0 setup|start|stop|status|url" ;;
esac
