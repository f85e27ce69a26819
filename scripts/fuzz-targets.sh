#!/usr/bin/env bash
# Lists every Go fuzz target as package:FuzzName, so `make fuzz` runs each one.
set -euo pipefail
# go.mod requires Go 1.27.3: fetch it through the module proxy when this machine's Go is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
cd "$(dirname "$0")/.."
git ls-files '*_test.go' | while read -r f; do
  { grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$f" || true; } | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | while read -r name; do
    echo "./$(dirname "$f"):$name"
  done
done
