#!/usr/bin/env bash
# Make a local OCI image registry reachable at 127.0.0.1:5000 (tests and CI on a fresh Debian/Ubuntu
# machine), the registry host that registry.yaml names.
#
#   scripts/docker/ensure-image-registry.sh
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
# shellcheck source=scripts/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v curl >/dev/null 2>&1 || die "curl is needed to check the registry: install curl, then rerun $0"

registry_up() { curl -sf -o /dev/null --max-time 2 "http://$ADDR/v2/"; }

# Pid of the registry this script started earlier, if it still runs.
running_registry() { running_pid "$PID_FILE" docker-registry; }

registry_up && exit 0

mkdir -p "$STATE_DIR"
# One caller at a time installs/starts; the others wait here and then find it up.
exec 9>"$LOCK_FILE"
flock -w 600 9 || die "timed out waiting for the lock $LOCK_FILE"
registry_up && exit 0

if ! command -v docker-registry >/dev/null 2>&1; then
  is_root || die "docker-registry is not installed: run 'sudo bash $0' once (installs and starts it)"
  apt_install docker-registry "${TMPDIR:-/tmp}/theory-apt-docker-registry.log"
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
  start_detached docker-registry serve "$CONFIG_FILE"
  registry_pid=$STARTED_PID
  printf '%s\n' "$registry_pid" >"$PID_FILE"
fi

deadline=$((SECONDS + WAIT_SECONDS))
until registry_up; do
  alive "$registry_pid" || running_registry >/dev/null ||
    fail "docker-registry exited before it answered (is $ADDR taken by another program?)"
  ((SECONDS < deadline)) || fail "the image registry did not answer on http://$ADDR/v2/ within ${WAIT_SECONDS}s"
  sleep 0.2
done
log "the image registry is up on http://$ADDR (pid $registry_pid)"
