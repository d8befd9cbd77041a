#!/usr/bin/env bash
# The Swift package's binding step, run by the build-tool plugin Plugins/KohakuVaultBindings on
# every `swift build` (also when another package depends on swift/ by path):
#
#   Scripts/generate-core.sh <swift-out-dir>
#
# 1. Builds the Rust core and the workspace's uniffi-bindgen (`cargo build --release --lib --bin
#    uniffi-bindgen`; incremental, a no-op when the core did not change). Without cargo on PATH
#    (e.g. the Swift-only chroot of scripts/test-swift.sh) the bindings that bindings/generate.sh
#    wrote to <repo>/target/swift-bindings from the built library are used; with neither it fails
#    with a message naming what is missing. KV_SKIP_BUILD=1 skips the cargo build.
# 2. Generates the bindings in library mode from that library (the same pinned uniffi as the core).
# 3. Writes KohakuVaultCore.swift to <swift-out-dir> (compiled into the KohakuVaultCore target) and
#    kohakuvaultFFI.h to <repo>/target/swift-ffi/ (included by the kohakuvaultFFI module's umbrella
#    header), each only when its content changed, so SwiftPM's builds stay incremental.
# The library itself is linked from <repo>/target/release (Package.swift; KOHAKUVAULT_LIB_DIR overrides).
set -euo pipefail
out=${1:?usage: generate-core.sh <swift-out-dir>}
die() { echo "error: KohakuVault bindings: $*" >&2; exit 1; }

swift_dir=$(cd "$(dirname "$0")/.." && pwd -P)
root=$(dirname "$swift_dir")
case "$(uname -s)" in Darwin) libname=libkohakuvault.dylib ;; *) libname=libkohakuvault.so ;; esac
lib_dir=${KOHAKUVAULT_LIB_DIR:-$root/target/release}
lib="$lib_dir/$libname"
bindgen="$root/target/release/uniffi-bindgen"

cargo_bin=$(command -v cargo 2>/dev/null || true)
[ -n "$cargo_bin" ] || [ ! -x "${HOME:-/nonexistent}/.cargo/bin/cargo" ] || cargo_bin="$HOME/.cargo/bin/cargo"
prebuilt="$root/target/swift-bindings"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$cargo_bin" ]; then
  if [ "${KV_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && "$cargo_bin" build --release --quiet --lib --bin uniffi-bindgen) \
      || die "cargo build --release failed in $root"
  fi
  [ -f "$lib" ] || die "$lib missing after the build"
  # Library mode (reads uniffi.toml through cargo metadata).
  "$bindgen" generate --library "$lib" --language swift --out-dir "$tmp" --no-format >"$tmp/log" 2>&1 \
    || { cat "$tmp/log" >&2; die "uniffi-bindgen failed"; }
  src=$tmp
elif [ -f "$lib" ] && [ -f "$prebuilt/KohakuVaultCore.swift" ] && [ -f "$prebuilt/kohakuvaultFFI.h" ] \
     && ! [ "$lib" -nt "$prebuilt/KohakuVaultCore.swift" ]; then
  # No Rust here (e.g. the Swift-only chroot of scripts/test-swift.sh): use the bindings generated
  # from this very library on a machine that has it (bindings/generate.sh swift target/swift-bindings).
  src=$prebuilt
else
  die "cargo not found: install Rust (https://rustup.rs) and build again (or run \
bindings/generate.sh swift target/swift-bindings where Rust is installed)"
fi

install_if_changed() { # src dst
  [ -f "$1" ] || die "the generator did not write $(basename "$1")"
  mkdir -p "$(dirname "$2")"
  if ! cmp -s "$1" "$2" 2>/dev/null; then
    cp "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
  fi
}
install_if_changed "$src/KohakuVaultCore.swift" "$out/KohakuVaultCore.swift"
install_if_changed "$src/kohakuvaultFFI.h" "$root/target/swift-ffi/kohakuvaultFFI.h"
