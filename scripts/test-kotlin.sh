#!/usr/bin/env bash
# Kotlin/JVM tests: installs a JDK and Maven if missing, then `mvn test` on kotlin/pom.xml, whose generate-sources
# phase runs bindings/generate.sh (release cdylib + uniffi bindings into kotlin/target/generated-sources/uniffi).
# Extra arguments go to Maven, e.g. scripts/test-kotlin.sh -Dtest=XlangTest
# Cross-language check: set KV_XLANG_DIR (and optionally KV_XLANG_REQUIRE=rust,python,swift).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "test-kotlin.sh: installing a JDK and Maven" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless maven >/dev/null
  else
    echo "test-kotlin.sh: needs a JDK (17+) and Maven (3.8+)" >&2
    exit 1
  fi
fi

cd "$root"
mvn -B -ntp -f kotlin/pom.xml test "$@"
