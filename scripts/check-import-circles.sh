#!/usr/bin/env bash
# Lint: no import circle between the project's own Rust and Python files (docs/ARCHITECTURE.md §1).
# Uses the shared tool beside the repository when it is there, else a copy of its rules is not
# guessed at: the check then fails, naming what is missing.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool="$root/../shared/tools/import-circles.py"
if [ ! -f "$tool" ]; then
  echo "check-import-circles: $tool not found"
  echo "lint: import circles FAILED"
  exit 1
fi
if out=$(cd "$root" && python3 "$tool"); then
  echo "$out"
  echo "lint: import circles ok"
else
  echo "$out"
  echo "lint: import circles FAILED"
  exit 1
fi
