#!/usr/bin/env bash
# Installs and starts what logetl's tests and `make run` need, on a Debian/Ubuntu machine with Go.
# Tools are built from the Go module proxy at pinned versions into $(go env GOPATH)/bin, so later
# runs on the same machine reuse them; nothing downloads a prebuilt binary.
#   scripts/services.sh mariadb   install MariaDB if missing and start it if down
#   scripts/services.sh tools     build the Temporal CLI and versitygw if missing
#   scripts/services.sh duckdb    install the DuckDB node package used to check Parquet files
#   scripts/services.sh prometheus  install Debian's prometheus (prometheus, promtool) if missing;
#                                 tests run their own, so the package's service is left stopped
#   scripts/services.sh all       all of the above
set -euo pipefail
# go.mod requires Go 1.27.3: fetch it through the module proxy when this machine's Go is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

TEMPORAL_CLI_VERSION=v1.5.1
VERSITYGW_VERSION=v1.8.0
DUCKDB_NODE_VERSION=1.5.6-r.1 # pinned in tools/duckdb/package.json
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOBIN=$(go env GOPATH)/bin

log() { printf '[services] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

mariadb_up() {
  mysqladmin --protocol=tcp -h127.0.0.1 -uroot ping >/dev/null 2>&1
}

ensure_mariadb() {
  if mariadb_up; then return 0; fi
  if [ ! -x /usr/sbin/mariadbd ]; then
    log "installing mariadb-server from apt"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq mariadb-server >/dev/null
  fi
  if [ ! -d /var/lib/mysql/mysql ]; then
    as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  log "starting MariaDB"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do
    if mariadb_up; then log "MariaDB is up"; return 0; fi
    sleep 1
  done
  log "MariaDB did not come up within 60s"; return 1
}

ensure_tool() { # name module version
  local name=$1 module=$2 version=$3
  if [ -x "$GOBIN/$name" ] && [ -f "$GOBIN/.$name-$version" ]; then return 0; fi
  log "building $name $version from the Go module proxy (minutes the first time)"
  GOFLAGS= go install "$module@$version"
  touch "$GOBIN/.$name-$version"
}

ensure_tools() {
  ensure_tool temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION" &
  local t=$!
  ensure_tool versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION" &
  local v=$!
  wait $t; wait $v
}

ensure_duckdb() {
  local dir="$ROOT/tools/duckdb"
  if [ -d "$dir/node_modules/@duckdb/node-api" ]; then return 0; fi
  log "installing @duckdb/node-api from npm"
  (cd "$dir" && npm ci --no-audit --no-fund --silent)
}

# The package's service would scrape nothing and hold port 9090: invoke-rc.d and
# deb-systemd-invoke ask policy-rc.d, so a temporary one (unless the machine has its own, e.g.
# Docker images' "exit 101") keeps apt from starting it, and systemd from starting it at boot.
ensure_prometheus() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return 0; fi
  log "installing prometheus (and promtool) from apt"
  as_root apt-get update -qq
  local policy=/usr/sbin/policy-rc.d added="" status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 0755 "$policy"
    added=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null || status=$?
  if [ -n "$added" ]; then as_root rm -f "$policy"; fi
  if [ "$status" != 0 ]; then log "apt-get install prometheus failed ($status)"; return "$status"; fi
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
}

case "${1:-all}" in
  mariadb) ensure_mariadb ;;
  tools) ensure_tools ;;
  duckdb) ensure_duckdb ;;
  prometheus) ensure_prometheus ;;
  all) ensure_mariadb; ensure_tools; ensure_duckdb; ensure_prometheus ;;
  *) echo "usage: $0 mariadb|tools|duckdb|prometheus|all" >&2; exit 2 ;;
esac
