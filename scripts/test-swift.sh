#!/usr/bin/env bash
# Build and test the Swift bindings (swift/), or run the Swift benchmark.
#
#   scripts/test-swift.sh                 # swift build + swift test (XCTest), exit non-zero on failure
#   scripts/test-swift.sh --bench         # build and run benchmarks/swift/KVBench (release) instead
#   scripts/test-swift.sh --consumer DIR  # plain `swift build` + `swift run` in the package DIR instead
#                                         # (scripts/test-consumer-swift.sh uses it)
#   scripts/test-swift.sh -- ARGS...      # extra arguments for `swift test` (e.g. --filter KVaultTests)
#
# Steps: scripts/setup-swift.sh (host swift, or the Debian trixie chroot it builds);
# bindings/generate.sh swift on the host (the release cdylib and uniffi-bindgen: the chroot has no
# Rust; KV_SKIP_BUILD=1 skips the cargo build); then plain swift build/test in swift/. The package's
# build-tool plugin generates the bindings (swift/Scripts/generate-core.sh) and Package.swift links
# target/release/libkohakuvault.so with an rpath: no flags on the command line.
# Prints XCTest's output and, last, one line "swift: N passed, N failed, N skipped".
# In chroot mode the repository (and $KV_XLANG_DIR, when set) is bind-mounted at the same absolute
# path inside the chroot, with proc; a trap always unmounts them.
# Env passed to the tests: KV_XLANG_DIR, KV_XLANG_REQUIRE.
set -euo pipefail

log() { echo "test-swift: $*" >&2; }
die() { echo "test-swift: ERROR: $*" >&2; exit 1; }

bench=0
consumer=
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=1; shift ;;
    --consumer) consumer=${2:?--consumer needs a directory}; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd -P)

# --- toolchain ---------------------------------------------------------------------------------
setup_out=$("$root/scripts/setup-swift.sh") || die "scripts/setup-swift.sh failed"
mode_line=$(printf '%s\n' "$setup_out" | tail -n1)
case "$mode_line" in
  host) mode=host; sroot= ;;
  "chroot "*) mode=chroot; sroot=${mode_line#chroot } ;;
  *) die "unexpected output of setup-swift.sh: $mode_line" ;;
esac

# --- the Rust core --------------------------------------------------------------------------
# The package generates its bindings itself (the build-tool plugin Plugins/KohakuVaultBindings runs
# swift/Scripts/generate-core.sh on every swift build). The chroot has no Rust, so the core is
# built here, on the host, first: inside, the plugin finds it built and only generates.
log "building the core and generating the Swift bindings (bindings/generate.sh swift)"
gen="$root/target/swift-bindings"
rm -rf "$gen"
"$root/bindings/generate.sh" swift "$gen" || die "bindings/generate.sh swift failed"
[ -f "$root/target/release/libkohakuvault.so" ] || die "$root/target/release/libkohakuvault.so missing"
# Outputs of the previous layout (generated files copied into swift/Sources) must not linger: a
# module.modulemap there would replace the package's own module.
rm -rf "$root/swift/Sources/KohakuVaultCore"
rm -f "$root/swift/Sources/kohakuvaultFFI/include/kohakuvaultFFI.h" \
      "$root/swift/Sources/kohakuvaultFFI/include/module.modulemap"

if [ -n "$consumer" ]; then
  consumer=$(cd "$consumer" && pwd -P) || die "no directory $consumer"
  case "$consumer/" in "$root"/*) ;; *) die "the consumer package must be inside the repository ($root)" ;; esac
  bench=2 # no XCTest summary to read
  inner="cd '$consumer' && swift build && swift run"
elif [ $bench = 1 ]; then
  # shellcheck disable=SC2086
  inner="cd '$root/benchmarks/swift/KVBench' && swift build -c release && swift run -c release --skip-build KVBench"
else
  q=""
  for a in ${extra[@]+"${extra[@]}"}; do q="$q '${a//\'/\'\\\'\'}'"; done
  # Swift 6 also runs swift-testing, which has no tests here: keep XCTest's summary the last word.
  inner="cd '$root/swift' && swift build --build-tests && \
if swift test --help 2>/dev/null | grep -q -- --disable-swift-testing; then tf=--disable-swift-testing; else tf=; fi && \
swift test --skip-build \$tf$q"
fi

log_file=$(mktemp)
status=0
if [ $mode = host ]; then
  set +e
  bash -c "$inner" 2>&1 | tee "$log_file"
  status=${PIPESTATUS[0]}
  set -e
else
  # --- chroot: mounts, always cleaned up ---------------------------------------------------------
  exec 8>"$sroot.run.lock"
  flock -w 3600 8 || die "another Swift run holds $sroot.run.lock"
  mounts=()
  cleanup() {
    local i m
    for ((i=${#mounts[@]}-1; i>=0; i--)); do
      m=${mounts[$i]}
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "test-swift: could not unmount $m" >&2
    done
    mounts=()
    rm -f "$log_file"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  mount_bind() { # host-dir (mounted at the same path inside)
    local target="$sroot$1"
    mkdir -p "$target"
    if mountpoint -q "$target"; then umount "$target" 2>/dev/null || umount -l "$target"; fi
    mount --bind "$1" "$target" || die "cannot bind-mount $1 into the chroot"
    mounts+=("$target")
  }
  if ! mountpoint -q "$sroot/proc"; then
    mount -t proc proc "$sroot/proc" || die "cannot mount proc in $sroot"
    mounts+=("$sroot/proc")
  fi
  mount_bind "$root"
  xdir=${KV_XLANG_DIR:-}
  if [ -n "$xdir" ]; then
    mkdir -p "$xdir"
    xdir=$(cd "$xdir" && pwd -P)
    case "$xdir/" in "$root"/*) ;; *) mount_bind "$xdir" ;; esac
  fi
  cp /etc/resolv.conf "$sroot/etc/resolv.conf" 2>/dev/null || true
  set +e
  chroot "$sroot" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp \
    TERM="${TERM:-dumb}" KV_XLANG_DIR="$xdir" KV_XLANG_REQUIRE="${KV_XLANG_REQUIRE:-}" \
    /bin/bash -c "$inner" 2>&1 | tee "$log_file"
  status=${PIPESTATUS[0]}
  set -e
fi

if [ $bench = 0 ]; then
  # One plain closing line from XCTest's per-test results (its own "Executed N tests, with M failures"
  # counts assertion failures, not failed tests).
  passed=$(grep -cE "^Test Case '.*' passed \(" "$log_file" || true)
  failed=$(grep -cE "^Test Case '.*' failed \(" "$log_file" || true)
  skipped=$(grep -cE "^Test Case '.*' skipped \(" "$log_file" || true)
  if grep -qE 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$log_file"; then
    echo "swift: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" = 0 ] || [ "$status" != 0 ] || status=1
  elif [ "$status" = 0 ]; then
    echo "test-swift: no XCTest summary found" >&2
    status=1
  fi
fi
[ $mode = host ] && rm -f "$log_file"
exit "$status"
