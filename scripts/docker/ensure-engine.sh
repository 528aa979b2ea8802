#!/usr/bin/env bash
# Make a Docker engine reachable (tests and CI on a fresh Debian/Ubuntu machine).
#
#   scripts/docker/ensure-engine.sh
#
# - If `docker info` already answers, exit 0 at once and print nothing.
# - Otherwise, as root: install Debian's docker.io with apt-get when dockerd is
#   missing, then start `dockerd --iptables=false --bridge=none` detached from
#   the caller (it keeps running after this script and its caller exit), and
#   wait up to 60 s for it to answer.
#
# There is no bridge network: run containers with `--network host` (or none).
# Messages go to stderr; stdout stays empty. Safe to run concurrently.
set -euo pipefail

WAIT_SECONDS=60
LOG_FILE="${TMPDIR:-/tmp}/theory-dockerd.log"
LOCK_FILE="${TMPDIR:-/tmp}/theory-ensure-engine.lock"
PID_FILE=/var/run/docker.pid
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" # dockerd lives in /usr/sbin

log() { printf 'ensure-engine: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=scripts/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

engine_up() { command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1; }

# Pid of a running dockerd from its pid file, if any.
running_dockerd() { running_pid "$PID_FILE" dockerd; }

engine_up && exit 0

case "${DOCKER_HOST:-}" in
  '' | unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
  *) die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine, or unset DOCKER_HOST to use a local one" ;;
esac

installed() { command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; }

if is_root; then
  # One caller at a time installs/starts; the others wait here and then find it up.
  exec 9>"$LOCK_FILE"
  flock -w 600 9 || die "timed out waiting for the lock $LOCK_FILE"
  engine_up && exit 0
else
  installed || die "dockerd is not installed: run 'sudo bash $0' once (installs docker.io and starts dockerd)"
  sock=/var/run/docker.sock
  if [[ -S $sock && ! -w $sock ]]; then
    die "no permission on $sock: run 'sudo usermod -aG docker $(id -un)' and log in again, or run as root"
  fi
fi

if ! installed; then
  apt_install docker.io "${TMPDIR:-/tmp}/theory-apt-docker.log"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is not on PATH ($PATH)"
  engine_up && exit 0 # the package's own service start may have worked
fi

dockerd_pid=
if dockerd_pid=$(running_dockerd); then
  log "dockerd is already running (pid $dockerd_pid); waiting for it to answer"
else
  is_root || die "the Docker engine is not running: run 'sudo bash $0' (starts dockerd)"
  log "starting dockerd --iptables=false --bridge=none; log: $LOG_FILE"
  start_detached dockerd --iptables=false --bridge=none
  dockerd_pid=$STARTED_PID
fi

deadline=$((SECONDS + WAIT_SECONDS))
until engine_up; do
  alive "$dockerd_pid" || running_dockerd >/dev/null || fail "dockerd exited before it answered"
  ((SECONDS < deadline)) || fail "dockerd did not answer within ${WAIT_SECONDS}s"
  sleep 1
done
log "Docker engine is up (dockerd pid $dockerd_pid)"
