#!/usr/bin/env bash
# Generate the uniffi bindings for one language from the built library (library mode).
#   bindings/generate.sh <python|kotlin|swift> <out-dir>
# Builds the release cdylib and the workspace's own uniffi-bindgen first (same pinned uniffi), unless
# KV_SKIP_BUILD=1. Generated code is a build output: never edit or commit it.
set -euo pipefail
lang=${1:?language}; out=${2:?out dir}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${KV_SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --quiet --lib --bin uniffi-bindgen
fi
case "$(uname -s)" in
  Darwin) lib="$root/target/release/libkohakuvault.dylib" ;;
  MINGW*|MSYS*|CYGWIN*) lib="$root/target/release/kohakuvault.dll" ;;
  *) lib="$root/target/release/libkohakuvault.so" ;;
esac
[ -f "$lib" ] || { echo "generate.sh: $lib missing" >&2; exit 1; }
mkdir -p "$out"
"$root/target/release/uniffi-bindgen" generate --library "$lib" --language "$lang" \
  --out-dir "$out" --no-format
