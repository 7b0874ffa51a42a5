#!/bin/sh
# Installs pipit from this unpacked tarball (made by `make dist BOARD=...`):
#   /usr/local/bin/pipit, /etc/pipit/server.properties (kept if already there),
#   a `pipit` system user owning /var/lib/pipit, and the systemd unit, enabled and started.
# Usage (as root): ./install.sh [--microsd] [--no-start]
#   --microsd   use server-microsd.properties (for a board that logs to its microSD card)
#   --no-start  install and enable, but do not start now
set -eu
here=$(cd "$(dirname "$0")" && pwd)
props=server.properties
start=yes
for arg in "$@"; do
  case "$arg" in
    --microsd) props=server-microsd.properties ;;
    --no-start) start=no ;;
    *) echo "install.sh: unknown option $arg (use --microsd, --no-start)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo ./install.sh)" >&2; exit 1; }
[ -f "$here/$props" ] || { echo "install.sh: $props is not in this tarball" >&2; exit 1; }

# Refuse a binary this CPU cannot run before it becomes a crash-looping service.
"$here/pipit" --version >/dev/null 2>&1 || {
  echo "install.sh: $here/pipit does not run on this board ($(uname -m)); wrong BOARD for make dist?" >&2
  exit 1
}

if ! getent passwd pipit >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/pipit --no-create-home \
    --shell /usr/sbin/nologin --comment "pipit broker" pipit
fi
install -d -o pipit -g pipit -m 0750 /var/lib/pipit /var/lib/pipit/data
install -m 0755 "$here/pipit" /usr/local/bin/pipit
install -d -m 0755 /etc/pipit
if [ -e /etc/pipit/server.properties ]; then
  echo "install.sh: keeping /etc/pipit/server.properties; the new one is /etc/pipit/server.properties.new"
  install -m 0644 "$here/$props" /etc/pipit/server.properties.new
else
  install -m 0644 "$here/$props" /etc/pipit/server.properties
fi
install -m 0644 "$here/README.md" /etc/pipit/README.md
install -m 0644 "$here/pipit.service" /etc/systemd/system/pipit.service
install -d -m 0755 /etc/systemd/system/pipit.service.d
install -m 0644 "$here/pipit.service.d/10-board.conf" /etc/systemd/system/pipit.service.d/10-board.conf

systemctl daemon-reload
systemctl enable pipit.service
if [ "$start" = yes ]; then
  systemctl restart pipit.service
  echo "install.sh: pipit started; 'systemctl status pipit' and 'journalctl -u pipit' show how it runs"
fi
