#!/usr/bin/env bash
# A Docker engine for the container tests, on machines where no init system starts one.
#   engine.sh start      starts dockerd at $DOCKER_HOST unless an engine already answers there;
#                        prints the PID of the dockerd it started (nothing when it started none)
#   engine.sh stop PID   stops that dockerd (SIGTERM, then SIGKILL after 30 s) and waits for it, after
#                        removing the untagged images older than 10 minutes: earlier builds' leftovers
#                        (each build leaves its build stage; the last one stays, the next build's cache)
# DOCKER_HOST defaults to a socket under $MICROBANK_DOCKER_DIR (~/.cache/microbank/docker), where the
# engine also keeps its images, so a second run finds the base images and build cache of the first.
set -euo pipefail

dir="${MICROBANK_DOCKER_DIR:-$HOME/.cache/microbank/docker}"
export DOCKER_HOST="${DOCKER_HOST:-unix://$dir/docker.sock}"

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start() {
  engine_answers && return 0
  local socket="${DOCKER_HOST#unix://}"
  if [ "$socket" = "$DOCKER_HOST" ]; then
    echo "engine.sh: no engine answers at $DOCKER_HOST, and only a unix:// socket can be started here" >&2
    exit 1
  fi
  command -v dockerd >/dev/null || { echo "engine.sh: dockerd not found (apt-get install docker.io)" >&2; exit 1; }
  mkdir -p "$dir"
  # Its own session: a Ctrl-C meant for the tests does not take the engine down before they clean up.
  setsid dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    -H "$DOCKER_HOST" </dev/null >"$dir/dockerd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    if engine_answers; then
      cat "$dir/dockerd.pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "engine.sh: dockerd did not answer at $DOCKER_HOST within 30 s; its log ($dir/dockerd.log):" >&2
  tail -n 20 "$dir/dockerd.log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}

stop() {
  local pid="$1"
  # Only a dockerd: a PID reused by another process since is left alone.
  grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null || return 0
  docker image prune --force --filter until=10m >/dev/null || true
  kill -TERM "$pid"
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "engine.sh: dockerd $pid still runs 30 s after SIGTERM: SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?usage: engine.sh stop PID}" ;;
  *)
    echo "usage: engine.sh start | engine.sh stop PID" >&2
    exit 2
    ;;
esac
