#!/usr/bin/env bash
# The Debian package end to end, on this machine's own apache2 (as root):
#   build the .deb (dpkg-buildpackage) in a copy of the source tree, lintian,
#   make install DESTDIR=…, configure's APR from apxs, apt-get install, not
#   enabled unasked, a2enmod, a site from httpd-conf/example-vhost.conf aimed at
#   a stub track server, apachectl configtest and start, a page's hit arriving,
#   an upgrade with a hit in the spool, apachectl stop, a2dismod, purge, and
#   nothing left behind.
# The machine's apache2 state (/etc/apache2, /var/lib/apache2, the module
# directory, new logs and run dirs, a running system apache2) is put back
# afterwards, on failure too. Ends with "N passed, N failed".
# Env: MAPPTRACK_KEEP=1 keeps the work directory; DEB_BUILD_OPTIONS is passed on.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pkg=libapache2-mod-mapptrack
modules=/usr/lib/apache2/modules
spool_parent=/var/spool/apache2
spool=$spool_parent/mapptrack
site_name=mapptrack-pkgtest
export DEBIAN_FRONTEND=noninteractive
passed=0 failed=0 t0=$SECONDS

pass() { echo "pass: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() {  # NAME COMMAND…: passes when the command succeeds
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
wait_for() {  # SECONDS COMMAND…: polls the command until it succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
show() {  # FILE [LINES]: the end of a log, indented, after a failure
  [[ -f $1 ]] && tail -n "${2:-30}" "$1" | sed 's/^/    /'
}
not() { ! "$@"; }
installed() { dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; }
known_to_dpkg() { dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -qv "not-installed"; }
system_pid() { cat /var/run/apache2/apache2.pid 2>/dev/null; }
system_running() { local p; p=$(system_pid) && [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }
port_free() {  # PORT: nothing listens on it
  /usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("", int(sys.argv[1])))' "$1" 2>/dev/null
}
accepts() {  # PORT: something accepts connections on 127.0.0.1:PORT
  /usr/bin/python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null
}
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
module_dir_listing() { find "$modules" -mindepth 1 -printf '%P %y %s %m %T@\n' | sort; }

if [[ $(id -u) -ne 0 ]]; then
  echo "test-package: run as root (it installs a package into the system's apache2)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
"$top/scripts/install-deps.sh" debhelper lintian dpkg-dev pkgconf || { echo "0 passed, 1 failed"; exit 1; }
# One run at a time: two would undo each other's changes to the system's apache2.
exec 9>/tmp/mapptrack-test-package.lock
if ! flock -n 9; then
  echo "test-package: another scripts/test-package.sh is running" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if known_to_dpkg; then
  echo "test-package: $pkg is already installed; the test would purge it. Remove it first." >&2
  echo "0 passed, 1 failed"
  exit 1
fi

work=$(mktemp -d /tmp/mapptrack-package.XXXXXX)
chmod 755 "$work"  # the site's pages are read by User
state=$work/state
mkdir -p "$state"

# --- the machine's apache2 state, put back by restore ------------------------
snapshot_ok= was_running= apache_started= stub_pid= restored=
snapshot() {
  tar -C / -cpf "$state/etc-apache2.tar" etc/apache2 &&
    tar -C / -cpf "$state/var-lib-apache2.tar" var/lib/apache2 || return 1
  # The logs the system apache2 writes: new ones are removed, old ones cut back.
  find /var/log/apache2 -maxdepth 1 -type f -printf '%f %s\n' >"$state/logs" 2>/dev/null
  local d
  for d in /var/run/apache2 /var/lock/apache2 "$spool_parent"; do
    [[ -e $d ]] && echo "$d" >>"$state/dirs"
  done
  touch "$state/dirs"
  # A module installed from source would be overwritten by the package and
  # then purged: keep it aside.
  if [[ -e $modules/mod_mapptrack.so ]]; then
    mv "$modules/mod_mapptrack.so" "$state/mod_mapptrack.so.orig" || return 1
  fi
  module_dir_listing >"$state/modules"
}
stop_system_apache() {
  local p
  p=$(system_pid)
  apachectl stop >/dev/null 2>&1
  [[ -z $p ]] || wait_for 20 bash -c "! kill -0 $p 2>/dev/null"
}
restore() {
  [[ -z $restored ]] || return 0
  restored=1
  [[ -z $apache_started ]] || stop_system_apache
  if [[ -n $stub_pid ]]; then
    kill "$stub_pid" 2>/dev/null
    wait "$stub_pid" 2>/dev/null
  fi
  if known_to_dpkg; then
    apt-get purge -y -qq "$pkg" >/dev/null 2>&1 || dpkg --purge "$pkg" >/dev/null 2>&1
  fi
  [[ ! -e $state/mod_mapptrack.so.orig ]] || mv "$state/mod_mapptrack.so.orig" "$modules/mod_mapptrack.so"
  if [[ -n $snapshot_ok ]]; then
    rm -rf /etc/apache2 && tar -C / -xpf "$state/etc-apache2.tar"
    rm -rf /var/lib/apache2 && tar -C / -xpf "$state/var-lib-apache2.tar"
    local f d size
    for f in /var/log/apache2/*; do
      [[ -f $f ]] || continue
      size=$(awk -v n="${f##*/}" '$1 == n {print $2}' "$state/logs")
      if [[ -z $size ]]; then rm -f "$f"; else truncate -s "$size" "$f"; fi
    done
    for d in /var/run/apache2 /var/lock/apache2 "$spool_parent"; do
      grep -qxF "$d" "$state/dirs" || rm -rf "$d"
    done
    [[ -z $was_running ]] || apachectl start >/dev/null 2>&1 || echo "test-package: could not start the system apache2 again" >&2
  fi
}
on_exit() {
  restore
  if [[ -n ${MAPPTRACK_KEEP:-} ]]; then
    echo "test-package: kept $work"
  else
    rm -rf "$work"
  fi
  echo "test-package: $((SECONDS - t0)) s"
  echo "$passed passed, $failed failed"
  ((failed == 0 && passed > 0))
  exit $?
}
trap on_exit EXIT
trap 'fail "interrupted"; exit 1' INT TERM HUP

if ! snapshot; then
  fail "snapshot of the machine's apache2 state"
  exit 1
fi
snapshot_ok=1
if system_running; then
  echo "test-package: the system apache2 runs; it is stopped for the test and started again after"
  was_running=1
  stop_system_apache
fi

# --- build the .deb from a copy of the source tree ---------------------------
# What git tracks and what it would add: a clean checkout's content, also before
# commit; no build directory, no generated autotools files.
src=$work/src
mkdir -p "$src"
(cd "$top" && git ls-files -co --exclude-standard -z |
  while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$src"
check "source copied (debian/ and configure.ac there, no configure)" \
  test -f "$src/debian/control" -a -f "$src/configure.ac" -a ! -e "$src/configure"
version=$(cat "$src/VERSION")
check "check-version.sh: VERSION, configure.ac and debian/changelog agree" "$src/scripts/check-version.sh"
# …and it fails, and with it the package build, when they do not: a copy of
# debian/ with another VERSION.
mkdir -p "$work/version/scripts"
cp -a "$src/debian" "$src/configure.ac" "$work/version/"
cp "$src/scripts/check-version.sh" "$work/version/scripts/"
echo 99.0.0 >"$work/version/VERSION"
check "check-version.sh fails when debian/changelog disagrees with VERSION" \
  not bash -c "'$work/version/scripts/check-version.sh' 2>/dev/null"
(cd "$work/version" && dpkg-buildpackage -us -uc -b) >"$work/version.log" 2>&1
version_rc=$?
check "so does dpkg-buildpackage, before it builds anything" \
  test "$version_rc" -ne 0 -a "$(grep -c "^check-version: debian/changelog has $version, VERSION has 99.0.0" "$work/version.log")" -eq 1
arch=$(dpkg --print-architecture)
deb=$work/${pkg}_${version}_${arch}.deb
changes=$work/${pkg}_${version}_${arch}.changes
echo "test-package: dpkg-buildpackage -us -uc -b ($version)"
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
build_rc=$?
if ((build_rc != 0)) || [[ ! -f $deb ]]; then
  fail "dpkg-buildpackage -us -uc -b (exit $build_rc; no $deb)"
  show "$work/build.log" 60
  exit 1
fi
pass "dpkg-buildpackage -us -uc -b: ${deb##*/}"
check "the package's version is VERSION ($version)" test "$(dpkg-deb -f "$deb" Version)" = "$version"
if [[ " ${DEB_BUILD_OPTIONS:-} " != *" nocheck "* ]]; then
  check "the package build ran make check, with check-version.sh" \
    grep -qF "check-version: $version (VERSION, configure.ac, debian/changelog, this build)" "$work/build.log"
fi
check "the package build took APR from apxs ($(apxs -q APR_CONFIG), $(apxs -q APU_CONFIG))" \
  grep -qF "APR:         $(apxs -q APR_CONFIG), $(apxs -q APU_CONFIG)" "$work/build.log"

# Errors and warnings fail; every tag shown (overrides in debian/*.lintian-overrides).
lintian --info --fail-on error,warning "$changes" >"$work/lintian.log" 2>&1
lintian_rc=$?
grep -v "running with root privileges" "$work/lintian.log" | sed 's/^/    lintian: /'
check "lintian: no error, no warning" test "$lintian_rc" -eq 0

# Compared without .gz: dh_compress decides which docs are compressed.
expected_files=$(
  cd "$src" && {
    echo /etc/apache2/mods-available/mapptrack.conf
    echo /etc/apache2/mods-available/mapptrack.load
    echo "$modules/mod_mapptrack.so"
    printf "/usr/share/doc/$pkg/%s\n" README.md changelog copyright docs/*.md
    [[ ! -f debian/$pkg.lintian-overrides ]] || echo "/usr/share/lintian/overrides/$pkg"
    for f in httpd-conf/example-*.conf httpd-conf/prometheus-alerts.yml; do
      echo "/usr/share/doc/$pkg/examples/${f##*/}"
    done
  } | sort
)
files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print substr($6, 2)}' | sed 's/\.gz$//' | sort)
if [[ $files == "$expected_files" ]]; then
  pass "the .deb holds exactly the expected files"
else
  fail "the .deb holds exactly the expected files"
  diff <(echo "$expected_files") <(echo "$files") | sed 's/^/    /'
fi
check "the .deb ships $spool_parent for the spool" bash -c "dpkg-deb -c '$deb' | grep -q ' ./var/spool/apache2/$'"
check "mapptrack.conf in the .deb sets MappTrackSpoolDir $spool" \
  bash -c "dpkg-deb --fsys-tarfile '$deb' | tar -xO ./etc/apache2/mods-available/mapptrack.conf | grep -qx ' *MappTrackSpoolDir $spool'"

# --- make install DESTDIR=… (the build tree dpkg-buildpackage left) -----------
destdir=$work/destdir
if make -C "$src" install DESTDIR="$destdir" >"$work/make-install.log" 2>&1; then
  got=$(cd "$destdir" && find . ! -type d | sed 's/^\.//' | sort)
  if [[ $got == "$modules/mod_mapptrack.so" ]]; then
    pass "make install DESTDIR=… places exactly $modules/mod_mapptrack.so"
  else
    fail "make install DESTDIR=… places exactly $modules/mod_mapptrack.so; got: $(echo $got)"
  fi
else
  fail "make install DESTDIR=…"
  show "$work/make-install.log"
fi
check "make install went through apxs -i" grep -q "apxs2\? -i -S LIBEXECDIR=\"$destdir$modules\"" "$work/make-install.log"
if make -C "$src" uninstall DESTDIR="$destdir" >>"$work/make-install.log" 2>&1; then
  check "make uninstall DESTDIR=… leaves no file" test -z "$(find "$destdir" ! -type d)"
else
  fail "make uninstall DESTDIR=…"
fi

# --- configure: APR and APR-util from the httpd apxs names, else pkg-config ---
# An apxs that names its own apr-config/apu-config (the real ones, with a marker
# added) and one that names none. configure runs in the package's build tree.
fake=$work/fake
mkdir -p "$fake"
for tool in apr apu; do
  cat >"$fake/$tool-config" <<EOF
#!/bin/sh
case "\$1" in
  --version) exec /usr/bin/$tool-1-config --version ;;
  *) echo "\$(/usr/bin/$tool-1-config "\$@") -DMAPPTRACK_APR_OF_APXS" ;;
esac
EOF
done
for variant in own none; do
  if [[ $variant == own ]]; then apr="$fake/apr-config" apu="$fake/apu-config"; else apr= apu=; fi
  cat >"$fake/apxs-$variant" <<EOF
#!/bin/sh
# apxs of "another httpd": its APR is $variant
if [ "\$1" = -q ] && [ "\$2" = APR_CONFIG ]; then echo "$apr"; exit 0; fi
if [ "\$1" = -q ] && [ "\$2" = APU_CONFIG ]; then echo "$apu"; exit 0; fi
exec $(command -v apxs) "\$@"
EOF
done
chmod +x "$fake"/*
makefile_var() { sed -n "s/^$1 = *//p" "$src/Makefile" | tr -s ' ' | sed 's/ *$//'; }
if (cd "$src" && ./configure --with-apxs="$fake/apxs-own") >"$work/configure-own.log" 2>&1; then
  check "--with-apxs: APR_CFLAGS from that apxs' apr-config and apu-config" \
    test "$(makefile_var APR_CFLAGS | grep -o -- -DMAPPTRACK_APR_OF_APXS | wc -l)" -eq 2
  check "--with-apxs: APR_LIBS from that apxs' apr-config and apu-config" \
    test "$(makefile_var APR_LIBS | grep -o -- -DMAPPTRACK_APR_OF_APXS | wc -l)" -eq 2
else
  fail "configure --with-apxs=(an apxs naming its own APR)"
  show "$work/configure-own.log"
fi
if (cd "$src" && ./configure --with-apxs="$fake/apxs-none") >"$work/configure-none.log" 2>&1; then
  check "--with-apxs naming no apr-config: APR from pkg-config, with a warning" \
    test "$(makefile_var APR_CFLAGS)" = "$(pkg-config --cflags apr-1 apr-util-1 | tr -s ' ' | sed 's/ *$//')" -a \
    "$(grep -c "names no apr-config/apu-config: APR and APR-util from pkg-config" "$work/configure-none.log")" -ge 1
else
  fail "configure --with-apxs=(an apxs naming no APR)"
  show "$work/configure-none.log"
fi

# --- install into the system's apache2 ------------------------------------
if apt-get install -y "$deb" >"$work/apt-install.log" 2>&1 && installed; then
  pass "apt-get install ./${deb##*/}"
else
  fail "apt-get install ./${deb##*/}"
  show "$work/apt-install.log"
  exit 1
fi
check "installed: $modules/mod_mapptrack.so, mods-available/mapptrack.load and .conf" \
  test -f "$modules/mod_mapptrack.so" -a -f /etc/apache2/mods-available/mapptrack.load -a \
  -f /etc/apache2/mods-available/mapptrack.conf
check "installing did not enable the module" \
  bash -c '! a2query -q -m mapptrack && ! ls /etc/apache2/mods-enabled/mapptrack.* >/dev/null 2>&1'
a2enmod -q mapptrack >"$work/a2enmod.log" 2>&1
check "a2enmod mapptrack" test -L /etc/apache2/mods-enabled/mapptrack.load -a -L /etc/apache2/mods-enabled/mapptrack.conf

# The stub track server, on a free loopback port.
stub=$work/stub
mkdir -p "$stub"
/usr/bin/python3 "$top/test/package/stub.py" "$stub" >"$stub/out.log" 2>&1 &
stub_pid=$!
if wait_for 20 test -s "$stub/port"; then
  stub_port=$(cat "$stub/port")
  pass "stub track server on 127.0.0.1:$stub_port"
else
  fail "stub track server started"
  show "$stub/out.log"
  exit 1
fi

# The site: example-vhost.conf on a free port, its track domain the stub.
port=$(free_port)
docroot=$work/site
mkdir -p "$docroot"
printf '<!DOCTYPE html>\n<html><head><title>mapptrack</title></head><body>page</body></html>\n' >"$docroot/index.html"
chmod -R a+rX "$docroot"
example=$top/httpd-conf/example-vhost.conf
for old in '*:80' https://yourdomain.webtrekk.net /var/www/example; do
  grep -qF -- "$old" "$example" || fail "example-vhost.conf no longer contains $old"
done
{
  echo "# scripts/test-package.sh: httpd-conf/example-vhost.conf on a free port"
  echo "Listen 127.0.0.1:$port"
  sed -e "s|\*:80|127.0.0.1:$port|" -e "s|https://yourdomain.webtrekk.net|http://127.0.0.1:$stub_port|" \
    -e "s|/var/www/example|$docroot|g" "$example"
} >"/etc/apache2/sites-available/$site_name.conf"
a2ensite -q "$site_name" >/dev/null 2>&1
# Port 80 (ports.conf) may be taken by another server on this machine.
if ! port_free 80; then
  echo "test-package: port 80 is taken: ports.conf's Listen lines are commented out for the test"
  sed -i 's/^\(\s*Listen\b\)/#\1/' /etc/apache2/ports.conf
fi
if apachectl configtest >"$work/configtest.log" 2>&1; then
  pass "apachectl configtest"
else
  fail "apachectl configtest"
  show "$work/configtest.log"
fi

if apachectl start >"$work/start.log" 2>&1; then
  apache_started=1
  pass "apachectl start"
else
  fail "apachectl start"
  show "$work/start.log"
  show /var/log/apache2/error.log
  exit 1
fi
check "apache2 accepts connections on 127.0.0.1:$port" wait_for 20 accepts "$port"
run_user=$(set +u; . /etc/apache2/envvars && echo "$APACHE_RUN_USER")
check "the first start made the spool $spool, mode 700, owned by $run_user" \
  test "$(stat -c '%F %a %U' "$spool" 2>/dev/null)" = "directory 700 $run_user"

# get MARKER: a page of the site; prints the status
get() {
  curl -sS -o /dev/null -w '%{http_code}' -H 'Host: www.example.com' \
    "http://127.0.0.1:$port/index.html?m=$1"
}
hit_ok() {  # MARKER: the stub has the page's hit, as example-vhost.conf shapes it
  [[ -f $stub/hits.jsonl ]] && /usr/bin/python3 - "$stub/hits.jsonl" "$1" <<'PY'
import json, sys
hits = [json.loads(l) for l in open(sys.argv[1]) if sys.argv[2] in l]
sys.exit(0 if any(h["ids"] == "123451234512345" and h["p"][1] == "www.example.com/index.html"
                  and h["params"].get("cp1") == "http" for h in hits) else 1)
PY
}
m1=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
check "a page: 200" test "$(get "$m1")" = 200
if wait_for 20 hit_ok "$m1"; then
  pass "its hit arrived at the stub (track ID, page name, cp1)"
else
  fail "its hit arrived at the stub (track ID, page name, cp1)"
  show "$stub/hits.jsonl" 5
  show /var/log/apache2/error.log
fi
check "access log: mapptrack=queued with an ever-ID" wait_for 10 \
  grep -qE "GET /index.html\?m=$m1 .* mapptrack=queued eid=[0-9]{19}" /var/log/apache2/example-access.log

# --- upgrade, with a hit waiting in the spool ------------------------------
# The track server goes down; the page's hit goes to the spool. A newer version
# of the package is installed and apache2 reloaded gracefully (the postinst asks
# invoke-rc.d; a container's policy-rc.d may refuse, so apachectl graceful does
# it as systemctl reload would). Once the track server is back, the hit arrives.
kill -USR1 "$stub_pid"
check "stub down" wait_for 10 not accepts "$stub_port"
m2=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
check "a page while the track server is down: 200" test "$(get "$m2")" = 200
check "its hit is in the spool" wait_for 20 bash -c "grep -qa '$m2' '$spool'/*.mts 2>/dev/null"
upgrade=$work/upgrade
dpkg-deb -R "$deb" "$upgrade"
sed -i "s/^Version: .*/Version: $version+pkgtest1/" "$upgrade/DEBIAN/control"
dpkg-deb -b "$upgrade" "$work/${pkg}_$version+pkgtest1_$arch.deb" >/dev/null 2>&1
if apt-get install -y "$work/${pkg}_$version+pkgtest1_$arch.deb" >"$work/apt-upgrade.log" 2>&1; then
  pass "upgrade to $version+pkgtest1"
else
  fail "upgrade to $version+pkgtest1"
  show "$work/apt-upgrade.log"
fi
check "the upgrade kept the module enabled" a2query -q -m mapptrack
check "the postinst asked for a graceful reload of the enabled module" \
  grep -q "apache2_invoke mapptrack: already enabled" "$work/apt-upgrade.log"
check "apachectl graceful" bash -c "apachectl graceful >'$work/graceful.log' 2>&1"
kill -USR2 "$stub_pid"
check "stub up again" wait_for 10 accepts "$stub_port"
if wait_for 60 hit_ok "$m2"; then
  pass "the spooled hit arrived after the upgrade"
else
  fail "the spooled hit arrived after the upgrade"
  show /var/log/apache2/error.log
fi
m3=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
check "a page after the upgrade: 200" test "$(get "$m3")" = 200
check "its hit arrived" wait_for 20 hit_ok "$m3"

# --- stop, a2dismod, purge: nothing left -----------------------------------
pid=$(system_pid)
apachectl stop >/dev/null 2>&1
if wait_for 20 bash -c "! kill -0 $pid 2>/dev/null"; then
  apache_started=
  pass "apachectl stop"
else
  fail "apachectl stop"
fi
a2dissite -q "$site_name" >/dev/null 2>&1
rm -f "/etc/apache2/sites-available/$site_name.conf"
a2dismod -q mapptrack >/dev/null 2>&1
check "a2dismod mapptrack" bash -c '! ls /etc/apache2/mods-enabled/mapptrack.* >/dev/null 2>&1'
if apt-get purge -y "$pkg" >"$work/apt-purge.log" 2>&1; then
  pass "apt-get purge $pkg"
else
  fail "apt-get purge $pkg"
  show "$work/apt-purge.log"
fi
check "dpkg -L $pkg: not installed" not bash -c "dpkg -L $pkg >/dev/null 2>&1"
check "dpkg knows nothing of $pkg (not even config files)" not known_to_dpkg
if [[ "$(module_dir_listing)" == "$(cat "$state/modules")" ]]; then
  pass "$modules is as it was"
else
  fail "$modules is as it was"
  diff "$state/modules" <(module_dir_listing) | sed 's/^/    /'
fi
check "mods-available and mods-enabled: no mapptrack.*" \
  bash -c '! ls /etc/apache2/mods-available/mapptrack.* /etc/apache2/mods-enabled/mapptrack.* >/dev/null 2>&1'
check "no a2enmod state left for mapptrack in /var/lib/apache2" \
  test -z "$(find /var/lib/apache2 -name mapptrack 2>/dev/null)"
if grep -qxF "$spool_parent" "$state/dirs"; then
  check "the spool $spool is gone" test ! -e "$spool"
else
  check "the spool $spool and $spool_parent are gone" test ! -e "$spool_parent"
fi
check "the doc dir /usr/share/doc/$pkg is gone" test ! -e "/usr/share/doc/$pkg"
