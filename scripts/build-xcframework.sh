#!/usr/bin/env bash
# Builds KohakuVault for Apple platforms as an XCFramework (static libraries + the C module), for
# apps built with Xcode or a SwiftPM `binaryTarget`:
#
#   scripts/build-xcframework.sh [--out DIR]      # default DIR: build/apple
#
# Needs macOS with Xcode (xcodebuild, xcrun, lipo) and Rust with the Apple targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#                     aarch64-apple-darwin x86_64-apple-darwin
# On any other system it stops at once, naming what is missing.
#
# Slices: ios-arm64 (devices), ios-arm64_x86_64-simulator, macos-arm64_x86_64. Each is
# `cargo rustc --release --lib --crate-type staticlib --target <triple>` (Cargo.toml's crate types
# stay cdylib + lib), simulator and macOS triples merged with lipo. The headers are uniffi's,
# generated in library mode from the host build (the same pinned uniffi), with the module map
# named module.modulemap (module `kohakuvaultFFI`).
#
# Output in DIR:
#   kohakuvaultFFI.xcframework     the libraries + headers (a SwiftPM .binaryTarget(name: "kohakuvaultFFI", path: ...))
#   Sources/KohakuVaultCore/       the generated Swift (KohakuVaultCore.swift)
#   Sources/KohakuVault/           a copy of the facade (swift/Sources/KohakuVault)
# An app package then declares three targets: the binary target, KohakuVaultCore (depends on it)
# and KohakuVault (depends on KohakuVaultCore) — the same layout as swift/Package.swift, with the
# binary target in place of the plugin and the linker settings.
set -euo pipefail

die() { echo "build-xcframework: ERROR: $*" >&2; exit 1; }
log() { echo "build-xcframework: $*" >&2; }

root=$(cd "$(dirname "$0")/.." && pwd -P)
out="$root/build/apple"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done

# --- what this needs ---------------------------------------------------------------------------
os=$(uname -s)
missing=()
[ "$os" = Darwin ] || missing+=("macOS (this is $os)")
for tool in xcodebuild xcrun lipo; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (Xcode; install Xcode and run xcode-select --install)")
done
command -v cargo >/dev/null 2>&1 || missing+=("cargo (Rust: https://rustup.rs)")
ios_dev=aarch64-apple-ios
ios_sim=(aarch64-apple-ios-sim x86_64-apple-ios)
macos=(aarch64-apple-darwin x86_64-apple-darwin)
if command -v rustup >/dev/null 2>&1; then
  installed=$(rustup target list --installed 2>/dev/null || true)
  for t in "$ios_dev" "${ios_sim[@]}" "${macos[@]}"; do
    grep -qx "$t" <<<"$installed" || missing+=("Rust target $t (rustup target add $t)")
  done
else
  missing+=("rustup (to add the Apple Rust targets)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-xcframework: cannot build the XCFramework here; missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  echo "build-xcframework: run it on a Mac with Xcode; on Linux use swift/ (swift build) instead." >&2
  exit 2
fi

# --- libraries -----------------------------------------------------------------------------------
cd "$root"
staticlib() { # triple -> path of libkohakuvault.a
  log "cargo rustc --release --lib --crate-type staticlib --target $1"
  cargo rustc --release --quiet --lib --crate-type staticlib --target "$1" >&2 || die "cargo failed for $1"
  echo "$root/target/$1/release/libkohakuvault.a"
}
work="$root/target/xcframework"
rm -rf "$work"
mkdir -p "$work/ios" "$work/ios-sim" "$work/macos" "$work/headers" "$work/gen"
cp "$(staticlib "$ios_dev")" "$work/ios/libkohakuvault.a"
sim_libs=(); for t in "${ios_sim[@]}"; do sim_libs+=("$(staticlib "$t")"); done
lipo -create "${sim_libs[@]}" -output "$work/ios-sim/libkohakuvault.a"
mac_libs=(); for t in "${macos[@]}"; do mac_libs+=("$(staticlib "$t")"); done
lipo -create "${mac_libs[@]}" -output "$work/macos/libkohakuvault.a"

# --- bindings (library mode, from the host's dylib) ----------------------------------------------
log "generating the Swift bindings"
cargo build --release --quiet --lib --bin uniffi-bindgen
"$root/target/release/uniffi-bindgen" generate --library "$root/target/release/libkohakuvault.dylib" \
  --language swift --out-dir "$work/gen" --no-format
cp "$work/gen/kohakuvaultFFI.h" "$work/headers/"
cp "$work/gen/kohakuvaultFFI.modulemap" "$work/headers/module.modulemap"

# --- the XCFramework -----------------------------------------------------------------------------
rm -rf "$out/kohakuvaultFFI.xcframework" "$out/Sources"
mkdir -p "$out/Sources/KohakuVaultCore" "$out/Sources/KohakuVault"
xcodebuild -create-xcframework \
  -library "$work/ios/libkohakuvault.a" -headers "$work/headers" \
  -library "$work/ios-sim/libkohakuvault.a" -headers "$work/headers" \
  -library "$work/macos/libkohakuvault.a" -headers "$work/headers" \
  -output "$out/kohakuvaultFFI.xcframework" >&2 || die "xcodebuild -create-xcframework failed"
cp "$work/gen/KohakuVaultCore.swift" "$out/Sources/KohakuVaultCore/"
cp "$root"/swift/Sources/KohakuVault/*.swift "$out/Sources/KohakuVault/"
log "done: $out/kohakuvaultFFI.xcframework (+ Sources/KohakuVaultCore, Sources/KohakuVault)"
