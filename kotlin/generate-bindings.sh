#!/usr/bin/env bash
# Generates the uniffi Kotlin bindings for kotlin/pom.xml (generate-sources phase):
#   kotlin/generate-bindings.sh <out-dir>
# Runs bindings/generate.sh (release cdylib + workspace uniffi-bindgen; KV_SKIP_BUILD=1 skips the build). If the
# repository's uniffi.toml lacks the Kotlin renames of KvStore.close / GetStream.close (which clash with
# AutoCloseable.close()), it regenerates with kotlin/uniffi-kotlin.toml layered on top.
set -euo pipefail
out=${1:?out dir}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rm -rf "$out"
"$root/bindings/generate.sh" kotlin "$out" 2> >(grep -v "old-style --config override file" >&2)
gen="$out/io/kohakuvault/uniffi/kohakuvault.kt"
[ -f "$gen" ] || { echo "generate-bindings.sh: $gen missing" >&2; exit 1; }
if grep -q 'override fun `close`()' "$gen"; then
  rm -rf "$out"
  mkdir -p "$out"
  (cd "$root" && "$root/target/release/uniffi-bindgen" generate --library "$root/target/release/libkohakuvault.so" \
    --language kotlin --config "$here/uniffi-kotlin.toml" --out-dir "$out" --no-format)
  if grep -q 'override fun `close`()' "$gen"; then
    echo "generate-bindings.sh: KvStore.close still clashes with AutoCloseable.close()" >&2
    exit 1
  fi
fi
