#!/usr/bin/env bash
# Consumer check for Kotlin/JVM: installs io.kohakuvault:kohakuvault into the local Maven repository
# (mvn -B -ntp -f kotlin/pom.xml -DskipTests install; it builds the release library first), then builds and runs
# examples/consumers/kotlin from a copy in a temporary directory: a separate Maven project that only declares the
# dependency (no jna.library.path, no LD_LIBRARY_PATH, no path into this repository). It opens a vault in a temp
# dir, puts and gets values and checks them. Last line: "consumer-kotlin: N passed, M failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

result() { # passed failed
  echo "consumer-kotlin: $1 passed, $2 failed"
  [ "$2" = 0 ]
  exit $?
}
fail() { echo "test-consumer-kotlin.sh: $1" >&2; result 0 1; }

if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "test-consumer-kotlin.sh: installing a JDK and Maven" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless maven >/dev/null \
      || fail "could not install a JDK and Maven"
  else
    fail "needs a JDK (17+) and Maven (3.8+)"
  fi
fi

log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$work" "$log"' EXIT

echo "test-consumer-kotlin.sh: mvn -B -ntp -f kotlin/pom.xml -DskipTests install" >&2
if ! (cd "$root" && mvn -B -ntp -f kotlin/pom.xml -DskipTests install) >"$log" 2>&1; then
  tail -40 "$log" >&2
  fail "installing the kohakuvault artifact failed"
fi

cp -R "$root/examples/consumers/kotlin/." "$work/"
rm -rf "$work/target"
echo "test-consumer-kotlin.sh: building and running the consumer in $work" >&2
if ! (cd "$work" && env -u LD_LIBRARY_PATH -u JAVA_TOOL_OPTIONS mvn -B -ntp -q -Dstyle.color=never package exec:exec) >"$log" 2>&1; then
  sed 's/\x1b\[[0-9;]*m//g' "$log" | tail -40 >&2
  fail "the consumer project failed"
fi
# the consumer's own output, without Maven's colour codes, ending in a newline
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -v '^[[:space:]]*$' >&2
grep -q 'consumer-kotlin: ok' "$log" || fail "the consumer did not report success"
result 1 0
