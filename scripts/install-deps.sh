#!/usr/bin/env bash
# Installs the Debian packages mod_mapptrack needs to build and test, only
# those that are missing. Run as root on Debian 12.
set -euo pipefail

packages=(
  apache2 apache2-dev libapr1-dev libaprutil1-dev libcurl4-openssl-dev
  cpputest autoconf automake libtool pkg-config make g++ curl
  python3 python3-pytest python3-pytest-xdist python3-yaml
)
# Extra packages a caller asks for (the browser tests want chromium, nodejs, npm).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
