#!/usr/bin/env bash
# Make a local OCI registry reachable at 127.0.0.1:5000 (tests and CI on a fresh Debian/Ubuntu
# machine), the registry host that registry.yaml names.
#
#   scripts/docker/ensure-registry.sh
#
# - If http://127.0.0.1:5000/v2/ already answers, exit 0 at once and print nothing.
# - Otherwise install Debian's docker-registry with apt-get when it is missing (as root), write
#   a config (http.addr 127.0.0.1:5000, storage under ${TMPDIR:-/tmp}/theory-registry), start
#   `docker-registry serve` detached from the caller (it keeps running after this script and its
#   caller exit), and wait up to 30 s for it to answer.
#
# The Docker engine pushes to 127.0.0.0/8 over plain HTTP without any daemon configuration.
# Messages go to stderr; stdout stays empty. Safe to run concurrently.
set -euo pipefail

ADDR=127.0.0.1:5000
WAIT_SECONDS=30
STATE_DIR="${TMPDIR:-/tmp}/theory-registry"
CONFIG_FILE="$STATE_DIR/config.yml"
PID_FILE="$STATE_DIR/registry.pid"
LOG_FILE="$STATE_DIR/registry.log"
LOCK_FILE="${TMPDIR:-/tmp}/theory-ensure-registry.lock"

log() { printf 'ensure-registry: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v curl >/dev/null 2>&1 || die "curl is needed to check the registry: install curl, then rerun $0"

registry_up() { curl -sf -o /dev/null --max-time 2 "http://$ADDR/v2/"; }

# True if process $1 exists and is not a zombie.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# Pid of the registry this script started earlier, if it still runs.
running_registry() {
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == docker-registry ]] || return 1
  printf '%s\n' "$pid"
}

registry_up && exit 0

is_root() { [[ $(id -u) -eq 0 ]]; }

mkdir -p "$STATE_DIR"
# One caller at a time installs/starts; the others wait here and then find it up.
exec 9>"$LOCK_FILE"
flock -w 600 9 || die "timed out waiting for the lock $LOCK_FILE"
registry_up && exit 0

if ! command -v docker-registry >/dev/null 2>&1; then
  is_root || die "docker-registry is not installed: run 'sudo bash $0' once (installs and starts it)"
  command -v apt-get >/dev/null 2>&1 ||
    die "docker-registry is not installed and there is no apt-get: run any OCI registry on $ADDR, then rerun $0"
  apt_log="${TMPDIR:-/tmp}/theory-apt-docker-registry.log"
  log "installing docker-registry with apt-get; log: $apt_log"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update && apt-get install -y --no-install-recommends docker-registry; } >"$apt_log" 2>&1; then
    tail -n 25 "$apt_log" >&2
    die "installing docker-registry failed (full log: $apt_log)"
  fi
  command -v docker-registry >/dev/null 2>&1 || die "docker-registry installed but not on PATH ($PATH)"
  registry_up && exit 0 # the package's own service start may have worked
fi

registry_pid=
if registry_pid=$(running_registry); then
  log "docker-registry is already running (pid $registry_pid); waiting for it to answer"
else
  mkdir -p "$STATE_DIR/storage"
  cat >"$CONFIG_FILE" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE_DIR/storage
  delete:
    enabled: true
http:
  addr: $ADDR
EOF
  log "starting docker-registry serve $CONFIG_FILE (storage $STATE_DIR/storage); log: $LOG_FILE"
  (
    # Detach: new session, no inherited descriptors (the caller's pipes, our lock), cwd /.
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    cd /
    exec setsid nohup docker-registry serve "$CONFIG_FILE" </dev/null >"$LOG_FILE" 2>&1
  ) &
  registry_pid=$!
  printf '%s\n' "$registry_pid" >"$PID_FILE"
fi

fail() {
  log "$*"
  if [[ -s $LOG_FILE ]]; then
    log "last lines of $LOG_FILE:"
    tail -n 25 "$LOG_FILE" >&2
  fi
  exit 1
}

deadline=$((SECONDS + WAIT_SECONDS))
until registry_up; do
  alive "$registry_pid" || running_registry >/dev/null ||
    fail "docker-registry exited before it answered (is $ADDR taken by another program?)"
  ((SECONDS < deadline)) || fail "the registry did not answer on http://$ADDR/v2/ within ${WAIT_SECONDS}s"
  sleep 0.2
done
log "the registry is up on http://$ADDR (pid $registry_pid)"
