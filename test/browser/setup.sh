#!/usr/bin/env bash
# Installs what the browser tests need, only what is missing:
#   Debian's chromium (and nodejs/npm) with apt, when run as root;
#   playwright-core and the Smart Pixel from npm into test/browser/node_modules
#   (outside git, see .gitignore).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "browser setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "browser setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -f $here/node_modules/playwright-core/package.json ||
      ! -f $here/node_modules/@webtrekk-smart-pixel/core/dist/smart-pixel.min.js ]]; then
  echo "browser setup: npm install playwright-core @webtrekk-smart-pixel/core" >&2
  npm install --prefix "$here" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    playwright-core@1 @webtrekk-smart-pixel/core@1 >&2
fi
