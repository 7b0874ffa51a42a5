#!/usr/bin/env bash
# `make cross BOARD=<board>`: a static release binary of pipit for one Raspberry Pi board,
# at target/<triple>/release/pipit. Needs no Docker (Cross.toml is for users who have it).
#
#   board                              triple                          linked by
#   rpi5 rpi4 rpi3-64 rpi-zero2-64     aarch64-unknown-linux-musl      rust-lld (.cargo/config.toml)
#   rpi3 rpi-zero2                     armv7-unknown-linux-gnueabihf   Debian arm-linux-gnueabihf-gcc, +crt-static
#   rpi-zero rpi1                      arm-unknown-linux-musleabihf    rust-lld, or nightly -Zbuild-std + zig
#
# When a board's toolchain cannot be had, prints `SKIP: <reason>` and exits 0; STRICT=1 makes a
# skip exit 1. Never links the ARMv6 target with Debian's armhf gcc: its crt objects are ARMv7
# code and the binary dies with SIGILL on a Pi Zero / Pi 1.
# `tools/cross.sh --triple BOARD` only prints the board's triple.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: tools/cross.sh <rpi5|rpi4|rpi3|rpi3-64|rpi-zero2|rpi-zero2-64|rpi-zero|rpi1>"

triple_of() {
  case "$1" in
    rpi5 | rpi4 | rpi3-64 | rpi-zero2-64) echo aarch64-unknown-linux-musl ;;
    rpi3 | rpi-zero2) echo armv7-unknown-linux-gnueabihf ;;
    rpi-zero | rpi1) echo arm-unknown-linux-musleabihf ;;
    *) return 1 ;;
  esac
}

if [ "${1:-}" = "--triple" ]; then
  triple_of "${2:-}" || { echo "$usage" >&2; exit 2; }
  exit 0
fi
board=${1:-${BOARD:-}}
triple=$(triple_of "$board") || { echo "$usage" >&2; exit 2; }

skip() {
  echo "SKIP: cross $board ($triple): $*"
  if [ "${STRICT:-0}" = 1 ]; then exit 1; fi
  exit 0
}

# Adds the target's std with rustup unless it is there; returns 1 (with the reason in
# $why) when rustup cannot serve it.
have_std() {
  local tc=${2:-}
  if rustup target list ${tc:+--toolchain "$tc"} --installed 2>/dev/null | grep -x "$1" >/dev/null; then
    return 0
  fi
  local out
  if out=$(timeout 300 rustup target add ${tc:+--toolchain "$tc"} "$1" 2>&1); then
    return 0
  fi
  why=$(printf '%s\n' "$out" | grep -m1 -iE 'error|status' || echo "rustup target add $1 failed")
  return 1
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { why="missing ${missing[*]} (install them as root)"; return 1; }
  echo "cross: installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    timeout 300 apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { why="apt-get install ${missing[*]} failed"; return 1; }
  fi
}

# ARMv6 without a rustup-served std: nightly's rust-src rebuilds std (-Zbuild-std) and zig,
# which ships musl for ARMv6, links it. ziglang comes from PyPI into target/zig-venv and
# cargo-zigbuild from crates.io, installed on first use.
build_armv6_zig() {
  rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null ||
    skip "rustup does not serve the std for $triple here ($why), and no nightly toolchain is installed for -Zbuild-std"
  rustup component list --toolchain nightly --installed 2>/dev/null | grep '^rust-src' >/dev/null ||
    timeout 300 rustup component add rust-src --toolchain nightly >/dev/null 2>&1 ||
    skip "no std for $triple from rustup ($why) and nightly's rust-src cannot be installed"
  if ! command -v zig >/dev/null 2>&1; then
    if [ ! -x target/zig-venv/bin/python3 ] || ! target/zig-venv/bin/python3 -m ziglang version >/dev/null 2>&1; then
      echo "cross: installing ziglang (PyPI) into target/zig-venv"
      { python3 -m venv target/zig-venv &&
        timeout 600 target/zig-venv/bin/pip install -q --disable-pip-version-check ziglang; } >/dev/null 2>&1 ||
        skip "no std for $triple from rustup ($why) and zig (PyPI ziglang) cannot be installed"
    fi
    export PATH="$PWD/target/zig-venv/bin:$PATH"
  fi
  if ! command -v cargo-zigbuild >/dev/null 2>&1; then
    echo "cross: installing cargo-zigbuild (crates.io)"
    timeout 1200 cargo install --locked -j 2 cargo-zigbuild >/dev/null 2>&1 ||
      skip "no std for $triple from rustup ($why) and cargo-zigbuild cannot be installed"
  fi
  echo "cross: $triple via cargo +nightly zigbuild -Zbuild-std (rustup has no std for it here)"
  # zig brings musl's crt objects and libc.a: rustc must not look for its own self-contained ones,
  # which only a rustup-served std ships.
  CARGO_TARGET_ARM_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C link-self-contained=no -A linker_messages" \
    cargo +nightly zigbuild --release --bin pipit --target "$triple" -Zbuild-std=std,panic_abort
}

case "$triple" in
  aarch64-unknown-linux-musl)
    have_std "$triple" || skip "$why"
    cargo build --release --bin pipit --target "$triple"
    ;;
  armv7-unknown-linux-gnueabihf)
    have_std "$triple" || skip "$why"
    apt_install gcc-arm-linux-gnueabihf libc6-dev-armhf-cross || skip "$why"
    cargo build --release --bin pipit --target "$triple"
    ;;
  arm-unknown-linux-musleabihf)
    why=""
    if have_std "$triple"; then
      cargo build --release --bin pipit --target "$triple"
    else
      build_armv6_zig
    fi
    ;;
esac

bin=target/$triple/release/pipit
[ -x "$bin" ] || { echo "cross: $bin was not produced" >&2; exit 1; }
desc=$(file -b "$bin")
case "$desc" in
  *"statically linked"* | *"static-pie linked"*) ;;
  *) echo "cross: $bin is not static: $desc" >&2; exit 1 ;;
esac
if [ "$triple" = arm-unknown-linux-musleabihf ] && command -v readelf >/dev/null 2>&1; then
  # A Pi Zero / Pi 1 is an ARM1176: any v7 code in the binary is a SIGILL waiting to happen.
  arch=$(readelf -A "$bin" 2>/dev/null | awk -F: '/Tag_CPU_arch:/ {gsub(/ /, "", $2); print $2; exit}')
  case "$arch" in
    v6* | "") ;;
    *) echo "cross: $bin is built for ARM $arch, not v6: it would die with SIGILL on $board" >&2; exit 1 ;;
  esac
fi
size=$(stat -c %s "$bin")
echo "cross: $board -> $bin ($size bytes, $(awk -v s="$size" 'BEGIN {printf "%.2f MiB", s / 1048576}'))"
echo "cross: $desc"
