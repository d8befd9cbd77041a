#!/usr/bin/env bash
# Idempotent host set-up for building and testing KohakuVault: checks the Rust toolchain and
# installs what is missing from the machine's own registries (Debian packages, PyPI).
set -euo pipefail
need_apt=()
command -v cargo >/dev/null 2>&1 || { echo "setup-host: cargo (Rust >= 1.89) is required; install rustup's stable toolchain" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip python3-venv)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup-host: installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check "maturin>=1.7,<2" numpy msgpack pytest ruff black
# kohakuvault 1.1.0 in its own venv: the two-way compatibility tests and benchmarks run against it.
bash "$(dirname "$0")/setup-kv110.sh" >/dev/null
