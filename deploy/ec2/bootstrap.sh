#!/usr/bin/env bash
# Installs logetl on an Ubuntu EC2 host as two systemd services (logetl-api, logetl-worker).
#   sudo deploy/ec2/bootstrap.sh ./bin/logetl          install or upgrade; start when configured
# Build the binary first (GOTOOLCHAIN=auto CGO_ENABLED=0 go build -o bin/logetl ./cmd/logetl). The script is
# idempotent: it never overwrites /etc/logetl/logetl.env or the keyring, and an upgrade only
# replaces the binary and units and restarts the services.
set -euo pipefail

BIN=${1:?usage: sudo $0 path/to/logetl}
HERE=$(cd "$(dirname "$0")" && pwd)
ETC=/etc/logetl
ENV_FILE=$ETC/logetl.env
KEYRING=$ETC/keyring.json

log() { printf '[bootstrap] %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "run as root (sudo)" >&2
  exit 1
fi
if ! "$BIN" --help >/dev/null 2>&1; then
  echo "$BIN is not a working logetl binary for this host" >&2
  exit 1
fi

if ! id logetl >/dev/null 2>&1; then
  log "creating system user logetl"
  useradd --system --user-group --home-dir /var/lib/logetl --no-create-home --shell /usr/sbin/nologin logetl
fi

log "installing /usr/local/bin/logetl"
install -m 0755 -o root -g root "$BIN" /usr/local/bin/logetl.new
mv -f /usr/local/bin/logetl.new /usr/local/bin/logetl

install -d -m 0750 -o root -g logetl "$ETC"
if [ ! -f "$ENV_FILE" ]; then
  log "writing $ENV_FILE from the example: edit it before starting"
  install -m 0600 -o root -g root "$HERE/logetl.env.example" "$ENV_FILE"
fi
# Secrets live here (JWT secret, DSN password): readable by root only, whatever happened before.
chown root:root "$ENV_FILE"
chmod 0600 "$ENV_FILE"

if [ ! -f "$KEYRING" ]; then
  log "generating the field-protection keyring $KEYRING"
  LOGETL_KEYRING="$KEYRING" /usr/local/bin/logetl keys generate
fi
chown root:logetl "$KEYRING"
chmod 0640 "$KEYRING"

log "installing systemd units"
install -m 0644 -o root -g root "$HERE/../systemd/logetl-api.service" "$HERE/../systemd/logetl-worker.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable logetl-api.service logetl-worker.service

if grep -q CHANGE_ME "$ENV_FILE"; then
  log "$ENV_FILE still has CHANGE_ME values: edit it, then run"
  log "  systemctl restart logetl-api logetl-worker"
  exit 0
fi
systemctl restart logetl-api.service logetl-worker.service
log "started; status: systemctl status logetl-api logetl-worker; logs: journalctl -u logetl-api -u logetl-worker -f"
