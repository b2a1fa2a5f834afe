#!/usr/bin/env bash
# Builds mod_mapptrack out of tree: scripts/build.sh DIR [configure options…]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1; shift
cd "$top"
if [[ ! -x configure || configure.ac -nt configure || Makefile.am -nt Makefile.in ]]; then
  autoreconf -fi >/dev/null
fi
mkdir -p "$dir"
cd "$dir"
# Reconfigure when the options change.
if [[ ! -f Makefile || "$(cat .configure-options 2>/dev/null)" != "$*" ]]; then
  "$top/configure" "$@" >configure.out || { cat configure.out; exit 1; }
  [[ -f .configure-options ]] && make clean >/dev/null 2>&1  # new flags: rebuild everything
  echo "$*" > .configure-options
fi
make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; }
echo "build: $dir/mod_mapptrack/.libs/mod_mapptrack.so"
