#!/usr/bin/env bash
# Runs govulncheck over the module. govulncheck is built from the Go module proxy at a pinned
# version into $(go env GOPATH)/bin (never a prebuilt binary). It needs the Go vulnerability
# database, taken from (first that applies):
#   LOGETL_VULNDB=https://mirror or file:///srv/vulndb  that database, nothing else;
#   LOGETL_VULNDB=module                                the local copy built from the module (below);
#   unset                                               https://vuln.go.dev, and when it is
#                                                       unreachable, the local copy.
# The local copy: the database's source is the Go module golang.org/x/vulndb, whose zip carries
# every published OSV entry (data/osv/GO-*.json, the same files vuln.go.dev is generated from).
# It is fetched from the Go module proxy at the pinned VULNDB_VERSION (LOGETL_VULNDB_VERSION
# overrides it, e.g. "latest") and turned into the v1 layout that `govulncheck -db file://`
# reads by the module's own cmd/indexdb, into $(go env GOPATH)/pkg/vulndb/<version>, reused
# across runs. When no database can be had this script says so and exits 4: an unchecked module
# is not reported as clean (not 3: govulncheck itself exits 3 when it finds vulnerabilities).
set -euo pipefail
# go.mod requires Go 1.27.3: fetch it through the module proxy when this machine's Go is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

GOVULNCHECK_VERSION=v1.9.0
# Bump this (and read the findings) to pick up newer advisories; the script warns when it ages.
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
VULNDB_MAX_AGE_DAYS=30

ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOPATH_DIR=$(go env GOPATH)
GOBIN=$GOPATH_DIR/bin
DEFAULT_DB=https://vuln.go.dev
DB=${LOGETL_VULNDB:-}

log() { printf '[vulncheck] %s\n' "$*" >&2; }

# reachable URL: whether URL serves a v1 database index; the reason goes to $unreachable_reason.
unreachable_reason=
reachable() {
  local err
  if err=$(curl -fsS --max-time 15 -o /dev/null "$1/index/db.json.gz" 2>&1); then
    return 0
  fi
  unreachable_reason=$(printf '%s' "$err" | tr -d '\n')
  return 1
}

# build_local_db: prints the folder of a v1 database built from golang.org/x/vulndb at
# ${LOGETL_VULNDB_VERSION:-$VULNDB_VERSION}; logs which version it is and how old.
build_local_db() {
  local want=${LOGETL_VULNDB_VERSION:-$VULNDB_VERSION} info version modtime srcdir dir tmp
  if ! info=$(cd / && GOFLAGS= go mod download "golang.org/x/vulndb@$want" 2>&1); then
    log "NOT CHECKED: cannot fetch golang.org/x/vulndb@$want from the Go module proxy: $(printf '%s' "$info" | tr -d '\n')"
    exit 4
  fi
  info=$(cd / && GOFLAGS= go list -m \
    -f '{{.Version}}|{{.Dir}}|{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' \
    "golang.org/x/vulndb@$want")
  IFS='|' read -r version srcdir modtime <<<"$info"
  if [ ! -d "$srcdir/data/osv" ]; then
    log "NOT CHECKED: golang.org/x/vulndb@$version carries no data/osv folder"
    exit 4
  fi
  dir=$GOPATH_DIR/pkg/vulndb/$version
  if [ ! -f "$dir/.complete" ]; then
    log "building a local vulnerability database from golang.org/x/vulndb@$version (its cmd/indexdb over data/osv)"
    mkdir -p "$GOPATH_DIR/pkg/vulndb"
    tmp=$(mktemp -d "$GOPATH_DIR/pkg/vulndb/.build.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd / && GOFLAGS= go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$srcdir/data/osv" -out "$tmp" >&2)
    # The OSV files in the repository carry zero modified/published times (vuln.go.dev's
    # generator fills them in from git history, which the module zip lacks), so index/db.json
    # would say 0001-01-01. Stamp it with the snapshot's commit time instead, which is what
    # govulncheck prints as the database's age.
    if [ -n "$modtime" ]; then
      printf '{"modified":"%s"}' "$modtime" >"$tmp/index/db.json"
      gzip -n -c "$tmp/index/db.json" >"$tmp/index/db.json.gz"
    fi
    printf 'golang.org/x/vulndb@%s\nsnapshot %s\n' "$version" "$modtime" >"$tmp/SOURCE"
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    trap - EXIT
  fi
  local entries age_days
  entries=$(find "$dir/ID" -name 'GO-*.json' | wc -l)
  log "database: golang.org/x/vulndb@$version, snapshot of $modtime, $entries entries, local copy $dir"
  if [ -n "$modtime" ]; then
    age_days=$(( ($(date -u +%s) - $(date -u -d "$modtime" +%s)) / 86400 ))
    if [ "$age_days" -gt "$VULNDB_MAX_AGE_DAYS" ]; then
      log "WARNING: this snapshot is $age_days days old; advisories published since are not checked. Bump VULNDB_VERSION in scripts/vulncheck.sh (go mod download -json golang.org/x/vulndb@latest) or set LOGETL_VULNDB_VERSION=latest."
    fi
  fi
  printf '%s\n' "$dir"
}

if [ ! -x "$GOBIN/govulncheck" ] || [ ! -f "$GOBIN/.govulncheck-$GOVULNCHECK_VERSION" ]; then
  log "building govulncheck $GOVULNCHECK_VERSION from the Go module proxy"
  GOFLAGS= go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
  touch "$GOBIN/.govulncheck-$GOVULNCHECK_VERSION"
fi

# govulncheck would fail on an unreachable database with a long network error; check first so
# the reason is one clear line.
case "$DB" in
  "")
    if reachable "$DEFAULT_DB"; then
      DB=$DEFAULT_DB
      log "database: $DB (live)"
    else
      log "$DEFAULT_DB is unreachable from this machine ($unreachable_reason); using a local copy built from the golang.org/x/vulndb module instead"
      DB=file://$(build_local_db)
    fi
    ;;
  module)
    DB=file://$(build_local_db)
    ;;
  file://*)
    dir=${DB#file://}
    if [ ! -f "$dir/index/db.json" ] && [ ! -f "$dir/index/db.json.gz" ]; then
      log "NOT CHECKED: $dir holds no vulnerability database (index/db.json missing)"
      exit 4
    fi
    log "database: $DB (given by LOGETL_VULNDB)"
    ;;
  *)
    if ! reachable "$DB"; then
      log "NOT CHECKED: the Go vulnerability database at $DB (LOGETL_VULNDB) is unreachable from this machine ($unreachable_reason)."
      log "Unset LOGETL_VULNDB to fall back to a local copy built from the golang.org/x/vulndb module, or point it at a reachable mirror or an offline copy (file:///path)."
      exit 4
    fi
    log "database: $DB (given by LOGETL_VULNDB)"
    ;;
esac

cd "$ROOT"
log "govulncheck $GOVULNCHECK_VERSION -db $DB ./..."
"$GOBIN/govulncheck" -db "$DB" ./...
