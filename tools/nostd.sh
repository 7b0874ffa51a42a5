#!/usr/bin/env bash
# Builds the storage layer with no std and no alloc for a bare-metal target.
# Any use of std or alloc in src/storage fails this build. A target that cannot be installed
# fails too: the check never passes by not running.
set -euo pipefail
target=${1:-thumbv7em-none-eabihf}
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  if ! rustup target add "$target" >/dev/null 2>&1; then
    echo "nostd: FAILED: the Rust core for $target could not be installed with rustup here"
    exit 1
  fi
fi
cargo build --lib --no-default-features --target "$target"
echo "nostd: storage layer builds for $target without std or alloc"
