#!/usr/bin/env bash
# Runs the fault tests (package faults) against the real stack and prints their summary: for
# each fault, rows in MySQL vs rows in S3 and objects duplicated. The tests restart the
# machine's MariaDB for a few seconds, so nothing else should be testing against it meanwhile.
set -euo pipefail
# go.mod requires Go 1.27.3: fetch it through the module proxy when this machine's Go is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/services.sh mariadb
scripts/services.sh tools
# TestLagAlert runs Debian's Prometheus with the shipped config and rules.
scripts/services.sh prometheus

# Every fault test; each starts its own stack.
TESTS='^(TestPipelineSurvivesFaults|TestLagAlert|TestRetentionUnderFaults|TestGapsHealThemselves|TestBoundedRanges)$'

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
began=$(date +%s)
LOGETL_FAULTS_SUMMARY="$summary" \
  go test -tags faults -count=1 -timeout 60m -v -run "$TESTS" ./faults || status=$?
took=$(( $(date +%s) - began ))
echo
if [ -s "$summary" ]; then
  cat "$summary"
else
  echo "fault tests wrote no summary (see the output above)"
fi
printf -- '- wall time of scripts/test-faults.sh: %dm%02ds (exit %d)\n' $((took / 60)) $((took % 60)) "$status"
exit $status
