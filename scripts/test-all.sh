#!/usr/bin/env bash
# Runs every suite (Rust, Python, Kotlin, Swift, lints, cross-language files) and ends with one
# line totalling them all: "N passed, N failed". Exits non-zero if anything failed or a suite
# could not run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
logs="$root/build/test-logs"; rm -rf "$logs"; mkdir -p "$logs"
export KV_XLANG_DIR="$root/build/xlang"; rm -rf "$KV_XLANG_DIR"; mkdir -p "$KV_XLANG_DIR"
passed=0; failed=0; broken=()

count() { # suite log -> adds to passed/failed from the runner's own summary lines
  local log=$1 p=0 f=0 n
  # A suite that prints its own plain total ("swift: 20 passed, 0 failed") is counted by it.
  n=$(grep -aE '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$n" ]; then
    read -r p f < <(echo "$n" | grep -oE '[0-9]+' | head -2 | tr '\n' ' ')
    p=$((p + $(grep -acE '^lint: .* ok$' "$log"))); f=$((f + $(grep -acE '^lint: .* FAILED$' "$log")))
    echo "$p $f"; return
  fi
  # cargo test: "test result: ok. 12 passed; 0 failed"
  while read -r a b; do p=$((p+a)); f=$((f+b)); done < <(grep -aoE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed/\1 \2/')
  # pytest: "== 10 passed, 1 failed, 2 skipped in 3.2s ==" (or without the rules under -q)
  n=$(grep -aE '^(=+ )?[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' "$log" | tail -1)
  if [ -n "$n" ]; then
    p=$((p + $(echo "$n" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)))
    f=$((f + $(echo "$n" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0) + $(echo "$n" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || echo 0)))
  fi
  # Maven Surefire: "Tests run: 12, Failures: 0, Errors: 0, Skipped: 0" (the final summary line)
  n=$(grep -aE '^\[(INFO|ERROR|WARNING)\] Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$' "$log" | tail -1)
  if [ -n "$n" ]; then
    local r fl er sk; read -r r fl er sk < <(echo "$n" | grep -oE '[0-9]+' | tr '\n' ' ')
    p=$((p + r - fl - er - sk)); f=$((f + fl + er))
  fi
  # XCTest: "Executed 12 tests, with 0 failures" (last "All tests" summary)
  n=$(grep -aE 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$log" | tail -1)
  if [ -n "$n" ]; then
    local t fl; read -r t fl < <(echo "$n" | grep -oE '[0-9]+' | head -2 | tr '\n' ' ')
    p=$((p + t - fl)); f=$((f + fl))
  fi
  # lint steps print "lint: <name> ok|FAILED"
  p=$((p + $(grep -acE '^lint: .* ok$' "$log"))); f=$((f + $(grep -acE '^lint: .* FAILED$' "$log")))
  echo "$p $f"
}

run() { # name command...
  local name=$1; shift
  local log="$logs/$name.log"
  echo "=== $name: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  read -r p f < <(count "$log")
  passed=$((passed+p)); failed=$((failed+f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then broken+=("$name (exit $rc)"); failed=$((failed+1)); fi
  if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then broken+=("$name (ran no test)"); failed=$((failed+1)); fi
  echo "=== $name: exit $rc, $p passed, $f failed, $((SECONDS-start))s"
}

echo "=== setup: bash scripts/setup-host.sh"
if ! bash scripts/setup-host.sh; then
  echo "setup failed: a toolchain could not be installed"
  echo "0 passed, 1 failed"
  exit 1
fi
run circles bash scripts/check-import-circles.sh
run rust bash scripts/test-rust.sh
run python bash scripts/test-python.sh
run kotlin bash scripts/test-kotlin.sh
run swift bash scripts/test-swift.sh
# A tiny separate project per language, built from this clone with only the README's steps.
run consumer-python bash scripts/test-consumer-python.sh
run consumer-kotlin bash scripts/test-consumer-kotlin.sh
run consumer-swift bash scripts/test-consumer-swift.sh
# Every language has written its .db; now each reads all the others'.
export KV_XLANG_REQUIRE=rust,python,kotlin,swift
run xlang-rust cargo test --release --quiet --test xlang
run xlang-rust-text cargo test --release --quiet --test text xlang_texts
run xlang-python python3 -m pytest -q python/tests/test_xlang.py python/tests/test_text_xlang.py
run xlang-kotlin mvn -B -ntp -f kotlin/pom.xml surefire:test -Dtest='XlangTest,TextXlangTest' -Dsurefire.failIfNoSpecifiedTests=false
KV_SKIP_BUILD=1 run xlang-swift bash scripts/test-swift.sh -- --filter CrossLanguageTests

if [ ${#broken[@]} -gt 0 ]; then printf 'suite problem: %s\n' "${broken[@]}"; fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
