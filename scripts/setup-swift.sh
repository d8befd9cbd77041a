#!/usr/bin/env bash
# Make a Swift toolchain available for the Swift bindings (idempotent).
#
#   scripts/setup-swift.sh
#
# 1. If a working `swift` is on PATH, use it (prints "host").
# 2. Otherwise build a Debian trixie chroot with the `swiftlang` package, outside the repo, at
#    $KV_SWIFT_ROOT (default /opt/kohakuvault-swift), and print "chroot <dir>".
#    Debian bookworm has no Swift; trixie ships swiftlang 6.0.x. Needs root (debootstrap, mount).
#    The mirror is the Debian URI of this machine's own apt sources (override: KV_DEBIAN_MIRROR).
# A stamp file marks a finished chroot so re-runs return at once. Any failure exits non-zero.
# Diagnostics go to stderr; the one line on stdout says which toolchain to use.
set -euo pipefail

log() { echo "setup-swift: $*" >&2; }
die() { echo "setup-swift: ERROR: $*" >&2; exit 1; }

if [ "${KV_SWIFT_FORCE_CHROOT:-0}" != 1 ] && command -v swift >/dev/null 2>&1 \
   && swift --version >/dev/null 2>&1; then
  log "using host swift: $(swift --version 2>&1 | head -n1)"
  echo host
  exit 0
fi

root=${KV_SWIFT_ROOT:-/opt/kohakuvault-swift}
case "$root" in /*) ;; *) die "KV_SWIFT_ROOT must be an absolute path (got '$root')";; esac
root=${root%/}
[ -n "$root" ] && [ "$root" != / ] || die "refusing to use / as the chroot"
stamp="$root/.kohakuvault-swift-ready"
marker="$root/.kohakuvault-swift-root"
suite=${KV_SWIFT_SUITE:-trixie}
packages="swiftlang libc6-dev libstdc++-14-dev"

if [ -f "$stamp" ] && [ -x "$root/usr/libexec/swift/bin/swift" ]; then
  log "chroot ready at $root ($(cat "$stamp"))"
  echo "chroot $root"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "building the Swift chroot needs root (or put a working 'swift' on PATH)"

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
# Another run may have finished while we waited for the lock.
if [ -f "$stamp" ] && [ -x "$root/usr/libexec/swift/bin/swift" ]; then
  echo "chroot $root"
  exit 0
fi

# --- the Debian mirror of this machine ------------------------------------------------------
mirror_from_apt() {
  local f uri
  # deb822 sources: first URIs line of a stanza whose Suites are not a -security suite.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '
      BEGIN { RS=""; FS="\n" }
      {
        u=""; s=""; en=1
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          if (line ~ /^URIs:/)    { sub(/^URIs:[ \t]*/, "", line); split(line, a, /[ \t]+/); u = a[1] }
          if (line ~ /^Suites:/)  { sub(/^Suites:[ \t]*/, "", line); s = line }
          if (line ~ /^Enabled:[ \t]*no/) en = 0
        }
        if (en && u ~ /debian\/?$/ && s !~ /security/) { print u; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  # one-line sources
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" {
            i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if ($i ~ /debian\/?$/ && $(i+1) !~ /security/) { print $i; exit }
          }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  return 1
}
mirror=${KV_DEBIAN_MIRROR:-$(mirror_from_apt || true)}
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
log "Debian mirror: $mirror"

# --- debootstrap ----------------------------------------------------------------------------
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap on the host"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 || die "apt-get update failed"
  apt-get install -y -q debootstrap >&2 || die "apt-get install debootstrap failed"
fi
# Keep the host's debootstrap able to build the suite even if its scripts predate it.
if [ ! -e "/usr/share/debootstrap/scripts/$suite" ]; then
  [ -e /usr/share/debootstrap/scripts/sid ] || die "debootstrap has no script for $suite"
  ln -s sid "/usr/share/debootstrap/scripts/$suite"
fi

cleanup_mounts() {
  local m
  for m in "$root/proc"; do
    if mountpoint -q "$m" 2>/dev/null; then umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
}
trap cleanup_mounts EXIT

if [ ! -f "$root/.kohakuvault-debootstrap-done" ]; then
  if [ -d "$root" ] && [ -n "$(ls -A "$root" 2>/dev/null)" ]; then
    # A half-built chroot from an earlier failed run: start again, but only if it is ours.
    [ -f "$marker" ] || die "$root exists, is not empty and was not made by this script; remove it or set KV_SWIFT_ROOT"
    for m in $(awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m"
    done
    log "removing the incomplete chroot at $root"
    rm -rf --one-file-system "$root"
  fi
  mkdir -p "$root"
  touch "$marker"
  log "debootstrap --variant=minbase $suite $root $mirror (about a minute)"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
    tail -n 30 "$root.debootstrap.log" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (log: $root.debootstrap.log)"
  }
  touch "$root/.kohakuvault-debootstrap-done"
fi

# --- swiftlang inside -----------------------------------------------------------------------
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || cp -L /etc/resolv.conf "$root/etc/resolv.conf" || true
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc" || die "cannot mount proc in $root"
log "installing $packages in the chroot (a minute or two)"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive \
  LANG=C.UTF-8 sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $packages && apt-get clean" \
  >"$root.apt.log" 2>&1 || { tail -n 30 "$root.apt.log" >&2; die "apt-get install in the chroot failed (log: $root.apt.log)"; }

version=$(chroot "$root" /usr/bin/swift --version 2>&1 | head -n1) || true
chroot "$root" /usr/bin/swift --version >/dev/null 2>&1 || die "swift does not run in the chroot: $version"
cleanup_mounts
echo "$version" >"$stamp"
log "chroot ready at $root: $version"
echo "chroot $root"
