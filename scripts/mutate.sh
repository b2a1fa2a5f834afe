#!/usr/bin/env bash
# Mutation check (scripts/mutate.py): each one-line bug of
# test/mutations/mutations.txt, applied alone, must make a test fail.
# Usage: scripts/mutate.sh [-k WORD] [--list]   (as root, like the tests)
# Not part of .ci/run (about a minute per mutation); the target is 0 survived.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [[ " $* " != *" --list "* && " $* " != *" -h "* && " $* " != *" --help "* ]]; then
  "$top/scripts/install-deps.sh"
  "$top/scripts/build.sh" "$top/build/mutate" >/dev/null
fi
exec /usr/bin/python3 "$top/scripts/mutate.py" "$@"
