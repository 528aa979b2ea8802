#!/usr/bin/env bash
# Make Debian's Chromium available at /usr/bin/chromium for the browser tests (a fresh Debian/Ubuntu
# machine, as CI starts from). Never a downloaded browser: playwright-core drives this one.
#
#   scripts/browser/ensure-chromium.sh
#
# - If /usr/bin/chromium runs, exit 0 at once and print nothing.
# - Otherwise, as root, install Debian's chromium with apt-get (one caller at a time).
#
# Messages go to stderr; stdout stays empty. Safe to run concurrently.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
LOCK_FILE="${TMPDIR:-/tmp}/theory-ensure-chromium.lock"

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=scripts/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"

chromium_runs() { [[ -x $CHROMIUM ]] && timeout 30 "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; }

chromium_runs && exit 0
is_root || die "$CHROMIUM is missing: run 'sudo bash $0' once (installs Debian's chromium)"

exec 9>"$LOCK_FILE"
flock -w 900 9 || die "timed out waiting for the lock $LOCK_FILE"
chromium_runs && exit 0
apt_install chromium "${TMPDIR:-/tmp}/theory-apt-chromium.log"
chromium_runs || die "chromium installed but $CHROMIUM does not run"
log "$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null) is installed"
