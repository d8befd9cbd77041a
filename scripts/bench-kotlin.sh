#!/usr/bin/env bash
# Kotlin/JVM benchmark of the KVault facade (benchmarks/kotlin/, Maven profile "bench").
# Builds the release library and the bindings (through kotlin/pom.xml), then runs the benchmark main.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec mvn -B -ntp -q -f "$root/kotlin/pom.xml" -Pbench compile exec:exec@bench "$@"
