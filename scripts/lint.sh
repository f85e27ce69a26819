#!/usr/bin/env bash
# Static checks over both test tiers (-tags integration), clean on main: staticcheck (staticcheck.conf), errcheck (scripts/errcheck-excludes.txt
# says what may go unchecked and why) and Temporal's workflowcheck over workflows/ (no
# non-determinism: no time.Now, goroutines, maps ranged into commands, I/O). Each tool is built
# from the Go module proxy at its pinned version into $(go env GOPATH)/bin, with the Go that
# go.mod requires (the checks must parse this module's Go), and reused on later runs.
set -euo pipefail
# go.mod requires Go 1.27.3: fetch it through the module proxy when this machine's Go is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2
ERRCHECK_VERSION=v1.30.0
WORKFLOWCHECK_VERSION=v0.6.0
GOBIN=$(go env GOPATH)/bin
GOVERSION=$(go env GOVERSION)

log() { printf '[lint] %s\n' "$*" >&2; }

tool() { # name module version
  local name=$1 module=$2 version=$3 stamp
  stamp="$GOBIN/.$name-$version-$GOVERSION"
  if [ ! -x "$GOBIN/$name" ] || [ ! -f "$stamp" ]; then
    log "building $name $version with $GOVERSION from the Go module proxy"
    # Run from the module root so that GOTOOLCHAIN=auto builds the tool with go.mod's Go.
    GOFLAGS= GOBIN=$GOBIN go install "$module@$version"
    touch "$stamp"
  fi
}

tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
tool errcheck github.com/kisielk/errcheck "$ERRCHECK_VERSION"
tool workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck "$WORKFLOWCHECK_VERSION"

# Both test tiers (issue 15.1): integration test files carry
# //go:build integration, and the checks must read them too.
TAGS=integration
status=0
log "staticcheck -tags $TAGS ./..."
"$GOBIN/staticcheck" -tags "$TAGS" ./... || status=1
log "staticcheck -tags faults ./faults"
"$GOBIN/staticcheck" -tags faults ./faults || status=1
log "errcheck -tags $TAGS ./... (tests aside)"
"$GOBIN/errcheck" -tags "$TAGS" -ignoretests -exclude scripts/errcheck-excludes.txt ./... || status=1
log "workflowcheck ./workflows/..."
"$GOBIN/workflowcheck" ./workflows/... || status=1
if [ "$status" = 0 ]; then log "clean"; fi
exit "$status"
