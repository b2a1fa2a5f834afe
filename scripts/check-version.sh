#!/bin/sh
# One version: VERSION. Fails when configure.ac stops reading it, when
# debian/changelog's (upstream) version differs, or when a configured build
# (make check passes its PACKAGE_VERSION) is stale.
# Usage: scripts/check-version.sh [CONFIGURED_VERSION]
top=$(cd "$(dirname "$0")/.." && pwd)
status=0
fail() { echo "check-version: $*" >&2; status=1; }

version=$(cat "$top/VERSION" 2>/dev/null)
case $version in
  [0-9]*.[0-9]*) ;;
  *) echo "check-version: $top/VERSION holds '$version', not a version" >&2; exit 1 ;;
esac
grep -q '^AC_INIT(\[mod_mapptrack\], m4_esyscmd_s(\[cat VERSION\])' "$top/configure.ac" ||
  fail "configure.ac's AC_INIT does not take its version from VERSION"

# First line: "libapache2-mod-mapptrack (VERSION) distribution; urgency=…".
# An epoch and a Debian revision are not part of the upstream version.
deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$top/debian/changelog" 2>/dev/null)
upstream=${deb#*:}
upstream=${upstream%-*}
[ -n "$deb" ] || fail "debian/changelog: no version on its first line"
[ -z "$deb" ] || [ "$upstream" = "$version" ] ||
  fail "debian/changelog has $deb, VERSION has $version: they must agree (a new version: VERSION, then dch -v)"

if [ -n "${1-}" ] && [ "$1" != "$version" ]; then
  fail "this build was configured as $1, VERSION has $version: run autoreconf -fi and configure again"
fi
[ $status -ne 0 ] || echo "check-version: $version (VERSION, configure.ac, debian/changelog${1:+, this build})"
exit $status
