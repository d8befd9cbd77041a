#!/usr/bin/env bash
# Builds and runs the consumer project examples/consumers/swift/KohakuVaultConsumer: a separate Swift package that
# depends on <repo>/swift by path (package "KohakuVault") and is built with plain `swift build` and
# `swift run`, no flags and no pre-step, the way the README tells users to. It opens a vault in a
# temporary directory, puts and gets values, reopens the file and checks them.
#
#   scripts/test-consumer-swift.sh
#
# The toolchain, the chroot and the host-side core build are scripts/test-swift.sh's (--consumer).
# Last line: "consumer-swift: 1 passed, 0 failed" (exit 0) or "consumer-swift: 0 passed, 1 failed"
# (exit 1).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

bash "$root/scripts/test-swift.sh" --consumer "$root/examples/consumers/swift/KohakuVaultConsumer" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" = 0 ] && grep -q '^consumer-swift: ok' "$log"; then
  echo "consumer-swift: 1 passed, 0 failed"
  exit 0
fi
echo "test-consumer-swift: the consumer package failed (exit $status)" >&2
echo "consumer-swift: 0 passed, 1 failed"
exit 1
