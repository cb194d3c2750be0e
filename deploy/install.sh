#!/usr/bin/env bash
# Installs Ferry from this checkout as a system service:
#   sudo deploy/install.sh            # /opt/ferry, data in /var/lib/ferry, systemd unit, `ferry` on PATH
# Knobs: PREFIX (/opt/ferry), DATA (/var/lib/ferry), BIN_DIR (/usr/local/bin), SERVICE_USER (ferry),
# SYSTEMD (yes|no). Re-running upgrades in place; the data directory is never touched.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/ferry}
DATA=${DATA:-/var/lib/ferry}
BIN_DIR=${BIN_DIR:-/usr/local/bin}
SERVICE_USER=${SERVICE_USER:-ferry}
SYSTEMD=${SYSTEMD:-yes}

mkdir -p "$PREFIX"
# Sources only: dependencies are installed fresh for this machine (native crypto is built here).
tar -C "$src" --exclude=./node_modules --exclude=./data --exclude=./.git -cf - . | tar -C "$PREFIX" -xf -
(cd "$PREFIX" && npm ci --no-audit --no-fund)
ln -sf "$PREFIX/bin/ferry.js" "$BIN_DIR/ferry"

if ! id "$SERVICE_USER" >/dev/null 2>&1; then
  useradd --system --home-dir "$DATA" --shell /usr/sbin/nologin "$SERVICE_USER"
fi
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA"

if [ "$SYSTEMD" = yes ]; then
  sed -e "s|/opt/ferry|$PREFIX|g" -e "s|/var/lib/ferry|$DATA|g" -e "s|^User=ferry|User=$SERVICE_USER|" -e "s|^Group=ferry|Group=$SERVICE_USER|" \
    "$src/deploy/systemd/ferry.service" > /etc/systemd/system/ferry.service
  systemctl daemon-reload
  echo "installed; start with: systemctl enable --now ferry   (first start prints the first user's password to the journal and $DATA/initial-credentials.txt)"
else
  echo "installed in $PREFIX; run: sudo -u $SERVICE_USER $BIN_DIR/ferry start --data $DATA"
fi
