#!/usr/bin/env bash
# Runs govulncheck over the module. govulncheck is built from the Go module proxy at a pinned
# version into $(go env GOPATH)/bin (never a prebuilt binary). It needs the Go vulnerability
# database (https://vuln.go.dev, or a mirror/offline copy given as LOGETL_VULNDB, e.g.
# file:///srv/vulndb). When the database cannot be reached this script says so and exits 3:
# an unchecked module is not reported as clean.
set -euo pipefail

GOVULNCHECK_VERSION=v1.9.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOBIN=$(go env GOPATH)/bin
DB=${LOGETL_VULNDB:-https://vuln.go.dev}

log() { printf '[vulncheck] %s\n' "$*" >&2; }

if [ ! -x "$GOBIN/govulncheck" ] || [ ! -f "$GOBIN/.govulncheck-$GOVULNCHECK_VERSION" ]; then
  log "building govulncheck $GOVULNCHECK_VERSION from the Go module proxy"
  GOFLAGS= go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
  touch "$GOBIN/.govulncheck-$GOVULNCHECK_VERSION"
fi

# govulncheck would fail on an unreachable database with a long network error; check first so
# the reason is one clear line.
case "$DB" in
  file://*)
    dir=${DB#file://}
    if [ ! -f "$dir/index/db.json" ] && [ ! -f "$dir/index/db.json.gz" ]; then
      log "NOT CHECKED: $dir holds no vulnerability database (index/db.json missing)"
      exit 3
    fi
    ;;
  *)
    if ! curl -fsS --max-time 15 -o /dev/null "$DB/index/db.json.gz" 2>/tmp/vulncheck-curl.$$; then
      log "NOT CHECKED: the Go vulnerability database at $DB is unreachable from this machine ($(tr -d '\n' </tmp/vulncheck-curl.$$))."
      log "Run 'make vulncheck' where $DB is reachable (CI), or point LOGETL_VULNDB at a mirror or an offline copy (file:///path)."
      rm -f /tmp/vulncheck-curl.$$
      exit 3
    fi
    rm -f /tmp/vulncheck-curl.$$
    ;;
esac

cd "$ROOT"
log "govulncheck $GOVULNCHECK_VERSION against $DB"
"$GOBIN/govulncheck" -db "$DB" ./...
