#!/usr/bin/env bash
# Build the local base image theory/node-base:24 without pulling anything.
#
#   scripts/docker/make-node-base.sh [--force]
#
# The image holds the Node 24 binary that `npm ci` installed for this repo
# (node_modules/.bin/node), the shared libraries `ldd` lists for it (at their
# absolute paths, dynamic loader included), an empty /tmp (1777), /home/node,
# and a minimal /etc (passwd, group, nsswitch.conf: root and node, uid 1000).
# There is no shell and no npm in it: Dockerfiles built FROM it can COPY but
# not RUN. PATH=/usr/local/bin, CMD ["node"].
#
# Idempotent: the image carries the node binary's sha256 (and this recipe's
# version) as labels; when they match, nothing is rebuilt. --force rebuilds.
# Starts the engine first (ensure-engine.sh). Prints the image id on stdout;
# progress goes to stderr.
set -euo pipefail

IMAGE=theory/node-base:24
NODE_MAJOR=24
RECIPE=1 # bump when the image's contents change for the same node binary
LABEL_SHA=theory.node.sha256
LABEL_RECIPE=theory.node-base.recipe

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)

log() { printf 'make-node-base: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

force=0
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 0 ;;
    *) die "unknown argument '$arg' (usage: $0 [--force])" ;;
  esac
done

bash "$here/ensure-engine.sh" >&2

# Parallel callers: one builds, the others then find it up to date.
exec 8>"${TMPDIR:-/tmp}/theory-node-base.$(id -u).lock"
flock -w 600 8 || die "timed out waiting for another make-node-base.sh"

is_elf() { [[ -f $1 && $(head -c 4 "$1" | od -An -c | tr -d ' \n') == '177ELF' ]]; }

# The real node binary behind node_modules/.bin/node (a symlink, or a wrapper script).
link=$root/node_modules/.bin/node
[[ -e $link ]] || die "$link not found: run 'npm ci' in $root first"
node_bin=$(readlink -f "$link")
if ! is_elf "$node_bin"; then
  exec_path=$("$link" -p process.execPath) || die "$link does not run"
  node_bin=$(readlink -f "$exec_path")
  is_elf "$node_bin" || die "could not find the node ELF binary behind $link (got $node_bin)"
fi
version=$("$node_bin" -p process.version) || die "$node_bin does not run"
[[ $version == "v$NODE_MAJOR".* ]] || die "$node_bin is Node $version, but $IMAGE needs Node $NODE_MAJOR.x"
sha=$(sha256sum "$node_bin" | cut -d' ' -f1)

image_id() { docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null; }

old_id=$(image_id || true)
if [[ -n $old_id && $force == 0 ]]; then
  have=$(docker image inspect -f "{{index .Config.Labels \"$LABEL_SHA\"}} {{index .Config.Labels \"$LABEL_RECIPE\"}}" "$IMAGE")
  if [[ $have == "$sha $RECIPE" ]]; then
    log "$IMAGE is up to date (node $version, sha256 ${sha:0:12})"
    printf '%s\n' "$old_id"
    exit 0
  fi
fi

log "building $IMAGE from $node_bin (node $version, sha256 ${sha:0:12})"
work=$(mktemp -d "${TMPDIR:-/tmp}/theory-node-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
dir=$work/rootfs
mkdir -p "$dir/usr/local/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/home/node"
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"
ln "$node_bin" "$dir/usr/local/bin/node" 2>/dev/null || cp "$node_bin" "$dir/usr/local/bin/node"

deps=$(ldd "$node_bin") || die "ldd $node_bin failed"
if grep -q 'not found' <<<"$deps"; then
  die "$node_bin needs libraries this machine lacks: $(grep 'not found' <<<"$deps" | tr -s ' \t\n' ' ')"
fi
libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$deps")
[[ -n $libs ]] || die "ldd listed no libraries for $node_bin"
while read -r lib; do
  mkdir -p "$dir$(dirname "$lib")"
  cp -L "$lib" "$dir$lib" # the file itself, at the path the loader looks for
done <<<"$libs"

cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
node:x:1000:1000:node:/home/node:/sbin/nologin
EOF
cat >"$dir/etc/group" <<'EOF'
root:x:0:
node:x:1000:
EOF
cat >"$dir/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF

# Everything owned by root, except /home/node (node:node).
tar -C "$dir" -cf "$work/rootfs.tar" --numeric-owner --owner=0 --group=0 --exclude=./home/node .
tar -C "$dir" -rf "$work/rootfs.tar" --numeric-owner --owner=1000 --group=1000 ./home/node

docker import \
  -c 'ENV PATH=/usr/local/bin' \
  -c 'CMD ["node"]' \
  -c "LABEL $LABEL_SHA=$sha $LABEL_RECIPE=$RECIPE" \
  -m "node $version from ${node_bin#"$root"/}" \
  "$work/rootfs.tar" "$IMAGE" >/dev/null
new_id=$(image_id) || die "docker import did not create $IMAGE"

# Smoke test: the loader finds every library and node starts.
if ! got=$(docker run --rm --network host "$IMAGE" node -p process.version 2>&1) || [[ $got != "$version" ]]; then
  docker image rm "$IMAGE" >/dev/null 2>&1 || true
  die "the new image does not run node: $got"
fi

if [[ -n $old_id && $old_id != "$new_id" ]]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true # still in use: keep it
fi
log "built $IMAGE ($(du -sh "$work/rootfs.tar" | cut -f1) uncompressed)"
printf '%s\n' "$new_id"
