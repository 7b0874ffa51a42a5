#!/usr/bin/env bash
# Installs what the integration tests talk to the broker with, if missing:
#   - Debian: kcat (librdkafka 2.0.2), python3-kafka (kafka-python 2.0.2) for /usr/bin/python3
#   - PyPI, into .venv: confluent-kafka (librdkafka 2.x bundled) and kafka-python 3.x
# Idempotent and quiet when everything is there. Needs root (or sudo) for apt.
set -euo pipefail
cd "$(dirname "$0")/.."
apt_pkgs=(kcat python3-kafka python3-venv)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test-deps: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
venv=.venv
req=tools/test-requirements.txt
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/.requirements"; then
  echo "test-deps: creating $venv with $(tr '\n' ' ' < "$req")"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/.requirements"
fi
