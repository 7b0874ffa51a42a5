#!/usr/bin/env bash
# `make dist BOARD=<board>`: target/dist/pipit-<version>-<board>-<triple>.tar.gz holding
#   pipit                         the static binary from `make cross BOARD=<board>`
#   server.properties             tuned for the board's usual storage (server-microsd.properties too)
#   pipit.service, pipit.service.d/10-board.conf   the hardened unit and the board's memory cap
#   install.sh, README.md         `sudo ./install.sh [--microsd]` on the board
# Builds the binary first; a board whose toolchain is missing prints SKIP (STRICT=1: fails).
set -euo pipefail
cd "$(dirname "$0")/.."

board=${1:-${BOARD:-}}
triple=$(tools/cross.sh --triple "$board") || exit 2
case "$board" in
  rpi3-64) dir=rpi3 ;;
  rpi-zero2-64) dir=rpi-zero2 ;;
  rpi1) dir=rpi-zero ;;
  *) dir=$board ;;
esac

out=$(tools/cross.sh "$board")
printf '%s\n' "$out"
if printf '%s\n' "$out" | grep -q '^SKIP:'; then
  echo "SKIP: dist $board: no binary"
  exit 0
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name=pipit-$version-$board-$triple
stage=target/dist/$name
rm -rf "$stage"
mkdir -p "$stage/pipit.service.d"
install -m 0755 "target/$triple/release/pipit" "$stage/pipit"
# cp -L: the boards share one unit (symlinks); the tarball holds real files.
cp -L "boards/$dir/server.properties" "boards/$dir/server-microsd.properties" "$stage/"
cp -L "boards/$dir/pipit.service" "$stage/pipit.service"
cp -L "boards/$dir/pipit.service.d/10-board.conf" "$stage/pipit.service.d/"
cp -L "boards/$dir/README.md" "$stage/README.md"
install -m 0755 boards/common/install.sh "$stage/install.sh"

tarball=target/dist/$name.tar.gz
# Reproducible: fixed owner, mtime and order, so the same binary gives the same tarball.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
  -C target/dist -czf "$tarball" "$name"
rm -rf "$stage"
echo "dist: $tarball ($(stat -c %s "$tarball") bytes)"
tar -tzf "$tarball" | sed 's/^/dist:   /'
