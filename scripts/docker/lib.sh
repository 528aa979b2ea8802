# shellcheck shell=bash
# Shared by scripts/docker/ensure-*.sh and scripts/browser/ensure-chromium.sh (sourced). The caller
# defines log() and die(), and sets LOG_FILE to where a started daemon writes.

# True if process $1 exists and is not a zombie.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# Prints the pid recorded in file $1 if that process runs and its command name is $2.
running_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] || return 1
  printf '%s\n' "$pid"
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Installs Debian package $1 (non-interactive, no recommends), logging to $2; dies with the log's tail.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$1 is not installed and there is no apt-get: install it, then rerun $0"
  log "installing $1 with apt-get (up to a few minutes); log: $2"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update && apt-get install -y --no-install-recommends "$1"; } >"$2" 2>&1; then
    tail -n 25 "$2" >&2
    die "installing $1 failed (full log: $2)"
  fi
}

# Starts "$@" detached from the caller: its own session, no inherited descriptors (the caller's
# pipes, our lock), cwd /, output to $LOG_FILE. Sets STARTED_PID.
start_detached() {
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    cd /
    exec setsid nohup "$@" </dev/null >"$LOG_FILE" 2>&1
  ) &
  # shellcheck disable=SC2034 # read by the sourcing script
  STARTED_PID=$!
}

# Logs the message, then the last lines of $LOG_FILE, and exits 1.
fail() {
  log "$*"
  if [[ -s $LOG_FILE ]]; then
    log "last lines of $LOG_FILE:"
    tail -n 25 "$LOG_FILE" >&2
  fi
  exit 1
}
