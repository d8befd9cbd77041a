#!/usr/bin/env bash
# Rust: formatting, clippy with warnings as errors, then every Rust test.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
if cargo fmt --all -- --check; then echo "lint: cargo fmt ok"; else echo "lint: cargo fmt FAILED"; rc=1; fi
if cargo clippy --all-targets --quiet -- -D warnings; then echo "lint: cargo clippy ok"; else echo "lint: cargo clippy FAILED"; rc=1; fi
cargo test --release --quiet 2>&1 || rc=1
exit $rc
