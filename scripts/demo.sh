#!/usr/bin/env bash
# mod_mapptrack demo: builds the module if needed, starts a local stand-in
# track server (demo/collector.py) and an apache2 with the module serving
# demo/site/, requests a few pages (async and sync tracking, and the pixel
# relay) and shows which hits arrived.
#
#   ./scripts/demo.sh            run the scripted visits, then keep running
#                                (open http://127.0.0.1:8080/), Ctrl-C stops
#   ./scripts/demo.sh --once     scripted visits only, then stop (exit 1 if
#                                the hits are not what they should be)
#
# Environment: DEMO_PORT (8080), COLLECTOR_PORT (8090), MAPPTRACK_MODULE
# (a mod_mapptrack.so to use instead of the build tree's), DEMO_KEEP=1 (keep
# the temporary directory with the config, logs and hits.jsonl).
# Run as root: apache2 starts as root and serves as www-data.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO_PORT=${DEMO_PORT:-8080}
COLLECTOR_PORT=${COLLECTOR_PORT:-8090}
TRACK_ID=123451234512345
PYTHON=/usr/bin/python3
# APACHE and MODDIR: the httpd the module is built for (configure's paths.ini, below).

once=0
for arg in "$@"; do
    case $arg in
        --once) once=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown argument '$arg' (use --once or --help)" >&2; exit 2 ;;
    esac
done
[[ -t 0 ]] || once=1

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }
indent() { sed 's/^/    /'; }

[[ $(id -u) -eq 0 ]] || die "run me as root (apache2 binds as root and serves as www-data; missing packages are installed with apt-get)"
for p in "$DEMO_PORT" "$COLLECTOR_PORT"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "'$p' is not a port number"; fi
done
[[ $DEMO_PORT != "$COLLECTOR_PORT" ]] || die "DEMO_PORT and COLLECTOR_PORT must differ"

# --- dependencies -------------------------------------------------------------
if [[ -f $REPO/scripts/install-deps.sh ]]; then
    say "Checking dependencies (scripts/install-deps.sh)"
    bash "$REPO/scripts/install-deps.sh"
else
    # Fallback while install-deps.sh is absent: the packages the demo needs.
    missing=()
    command -v autoreconf >/dev/null || missing+=(autoconf automake libtool)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    command -v g++ >/dev/null || missing+=(g++)
    command -v make >/dev/null || missing+=(make)
    command -v curl >/dev/null || missing+=(curl)
    command -v apache2 >/dev/null || missing+=(apache2)
    command -v apxs >/dev/null || missing+=(apache2-dev)
    [[ -e /usr/include/x86_64-linux-gnu/curl/curl.h || -e /usr/include/curl/curl.h ]] ||
        pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)
    [[ -x $PYTHON ]] || missing+=(python3)
    if ((${#missing[@]})); then
        say "Installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi
[[ -x $PYTHON ]] || die "$PYTHON not found (apt-get install python3)"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
id www-data >/dev/null 2>&1 || die "user www-data does not exist (it comes with apache2)"

# --- the module -----------------------------------------------------------------
if [[ -n ${MAPPTRACK_MODULE:-} ]]; then
    SO=$MAPPTRACK_MODULE
    [[ -f $SO ]] || die "MAPPTRACK_MODULE=$SO does not exist"
else
    SO=$REPO/build/release/mod_mapptrack/.libs/mod_mapptrack.so
    stale=""
    [[ -f $SO ]] && stale=$(find "$REPO/mod_mapptrack" "$REPO/include" "$REPO/Makefile.am" \
        "$REPO/configure.ac" -newer "$SO" -type f -print -quit 2>/dev/null || true)
    if [[ ! -f $SO || -n $stale ]]; then
        say "Building the module in build/release"
        if [[ ! -x $REPO/configure ]]; then
            echo "    autoreconf -fi"
            (cd "$REPO" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf -fi failed (run it by hand to see why)"
        fi
        mkdir -p "$REPO/build/release"
        cd "$REPO/build/release"
        if [[ ! -f Makefile ]]; then
            echo "    ../../configure   (output: build/release/configure.out)"
            ../../configure >configure.out 2>&1 || { tail -n 30 configure.out >&2; die "configure failed"; }
        fi
        echo "    make -j2          (output: build/release/make.out)"
        make -j2 >make.out 2>&1 || { tail -n 40 make.out >&2; die "the build failed"; }
        cd "$REPO"
    fi
    [[ -f $SO ]] || die "the build did not produce $SO"
fi
# The httpd this build is for, as configure found it through apxs (--with-apxs).
paths_ini=$(dirname "$SO")/../../test/integration/paths.ini
if [[ -f $paths_ini ]]; then
    APACHE=$(sed -n 's/^apache = //p' "$paths_ini")
    MODDIR=$(sed -n 's/^modules = //p' "$paths_ini")
else  # a module from elsewhere (MAPPTRACK_MODULE): the httpd apxs names
    apxs=$(command -v apxs2 || command -v apxs) || die "no $paths_ini and no apxs to find httpd"
    APACHE=$("$apxs" -q SBINDIR)/$("$apxs" -q PROGNAME)
    MODDIR=$("$apxs" -q LIBEXECDIR)
fi
[[ -x $APACHE ]] || die "$APACHE (from $paths_ini) not found (apt-get install apache2)"
if ldd "$SO" 2>/dev/null | grep -q libasan; then
    die "$SO is a sanitizer build (--enable-sanitizers); build a normal one in build/release or set MAPPTRACK_MODULE"
fi

# --- ports ----------------------------------------------------------------------
port_busy() {
    "$PYTHON" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}
for spec in "DEMO_PORT:$DEMO_PORT" "COLLECTOR_PORT:$COLLECTOR_PORT"; do
    name=${spec%%:*} port=${spec#*:}
    if port_busy "$port"; then
        who=""
        if command -v ss >/dev/null; then
            who=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n1 |
                sed -E 's/users:\(\("([^"]*)",pid=([0-9]*)/\1 (pid \2)/' || true)
        fi
        die "port $port is already in use${who:+ by $who}; choose another: $name=<port> $0 $*"
    fi
done

# --- a temporary server root -------------------------------------------------------
TMP=$(mktemp -d /tmp/mapptrack-demo.XXXXXX)
chmod 755 "$TMP"
mkdir -m 755 "$TMP/conf" "$TMP/logs" "$TMP/run" "$TMP/htdocs"
APACHE_PID="" COLLECTOR_PID="" TAIL_PID=""

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    [[ -n $TAIL_PID ]] && kill "$TAIL_PID" 2>/dev/null
    if [[ -n $APACHE_PID ]] && kill -0 "$APACHE_PID" 2>/dev/null; then
        # apache2 first: its children deliver what is still queued while the collector listens.
        kill -TERM "$APACHE_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$APACHE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$APACHE_PID" 2>/dev/null || true
    fi
    [[ -n $APACHE_PID ]] && wait "$APACHE_PID" 2>/dev/null
    if [[ -n $COLLECTOR_PID ]]; then
        kill -TERM "$COLLECTOR_PID" 2>/dev/null
        wait "$COLLECTOR_PID" 2>/dev/null
    fi
    if [[ ${DEMO_KEEP:-0} == 1 ]]; then
        echo "demo.sh: kept $TMP (conf/, logs/, hits.jsonl)"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo.sh: stopping"; exit 0' INT TERM

cp -R "$REPO/demo/site/." "$TMP/htdocs/"
find "$TMP/htdocs" -type d -exec chmod 755 {} + -o -type f -exec chmod 644 {} +

BASE_URL=http://127.0.0.1:$DEMO_PORT
mkdir -m 755 "$TMP/htdocs/about"
cp "$TMP/htdocs/index.html" "$TMP/htdocs/about/index.html"
chmod 644 "$TMP/htdocs/about/index.html"

cat >"$TMP/conf/httpd.conf" <<EOF
# Generated by scripts/demo.sh
ServerRoot "$TMP"
PidFile "$TMP/run/httpd.pid"
DefaultRuntimeDir "$TMP/run"
ErrorLog "$TMP/logs/error.log"
LogLevel warn
Listen 127.0.0.1:$DEMO_PORT
ServerName 127.0.0.1
User www-data
Group www-data

LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authz_host_module $MODDIR/mod_authz_host.so
LoadModule mime_module $MODDIR/mod_mime.so
LoadModule dir_module $MODDIR/mod_dir.so
LoadModule mapptrack_module "$SO"

TypesConfig /etc/mime.types
AddDefaultCharset utf-8
DocumentRoot "$TMP/htdocs"
DirectoryIndex index.html
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$TMP/htdocs">
    Require all granted
</Directory>

# Delivery (server-wide): one GET per hit, so hits show up at once.
# In production keep the defaults (batches of up to 50 hits, 200 ms).
MappTrackBatchSize 1
MappTrackTimeout 1000

# Track every page of this server to the local collector.
MappTrack On
MappTrackId $TRACK_ID
MappTrackDomain http://127.0.0.1:$COLLECTOR_PORT
MappTrackContentId "%{HTTP_HOST}%{REQUEST_URI}"
MappTrackParam cg1 "demo"
MappTrackParam cp1 "%{req:Accept-Language}"

# Variant A for one page: its hit is sent before the page's headers leave.
<Location "/checkout.html">
    MappTrackMode sync
</Location>

# Variant B: a Mapp pixel configured with trackDomain "127.0.0.1:$DEMO_PORT/analytics"
# sends its requests here; the module relays them with the visitor's real IP.
<Location "/analytics">
    SetHandler mapptrack-proxy
</Location>

# The inspector: a local track server that shows what is sent, decoded and checked
# against Mapp's rules (open $BASE_URL/inspect/). Pages under /about/ track to it.
<Location "/inspect">
    SetHandler mapptrack-inspect
    Require local
</Location>
<Location "/about">
    MappTrackDomain http://127.0.0.1:$DEMO_PORT/inspect
</Location>

# Server-wide figures (JSON; ?format=prometheus for a scrape job). They reveal
# traffic volumes: keep them local.
<Location "/mapptrack-status">
    SetHandler mapptrack-status
    Require local
</Location>

# MAPPTRACK: what happened to the request; MAPPTRACK_EID: the visitor's ever-ID.
LogFormat "%h \"%r\" %>s %{Content-Type}o mapptrack=%{MAPPTRACK}e eid=%{MAPPTRACK_EID}e" demo
CustomLog "$TMP/logs/access.log" demo
EOF

# --- start the collector and apache2 -------------------------------------------------
say "Starting the collector (demo/collector.py) on 127.0.0.1:$COLLECTOR_PORT"
: >"$TMP/hits.jsonl"
"$PYTHON" -u "$REPO/demo/collector.py" --port "$COLLECTOR_PORT" --jsonl "$TMP/hits.jsonl" \
    >"$TMP/logs/collector.log" 2>&1 &
COLLECTOR_PID=$!
for _ in $(seq 50); do
    grep -q "listening" "$TMP/logs/collector.log" 2>/dev/null && break
    kill -0 "$COLLECTOR_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q "listening" "$TMP/logs/collector.log" 2>/dev/null ||
    { cat "$TMP/logs/collector.log" >&2; die "the collector did not start"; }
indent <"$TMP/logs/collector.log"

say "Starting apache2 on 127.0.0.1:$DEMO_PORT"
echo "    module: $SO"
echo "    config: $TMP/conf/httpd.conf"
"$APACHE" -t -f "$TMP/conf/httpd.conf" 2>&1 | indent ||
    die "apache2 -t rejected the generated configuration"
"$APACHE" -f "$TMP/conf/httpd.conf" -DFOREGROUND >"$TMP/logs/stdout.log" 2>&1 &
APACHE_PID=$!
for _ in $(seq 100); do
    grep -q "resuming normal operations" "$TMP/logs/error.log" 2>/dev/null && break
    kill -0 "$APACHE_PID" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q "resuming normal operations" "$TMP/logs/error.log" 2>/dev/null; then
    cat "$TMP/logs/stdout.log" "$TMP/logs/error.log" 2>/dev/null | indent >&2
    die "apache2 did not start (see above)"
fi

# --- scripted visits --------------------------------------------------------------------
BASE=http://127.0.0.1:$DEMO_PORT
UA="Mozilla/5.0 (X11; Linux x86_64) mapptrack-demo"
visit() {  # visit "what" url [curl args...]: prints status, type and Set-Cookie
    local what=$1 url=$2; shift 2
    say "$what"
    echo "    curl${*:+ $*} '$url'"
    curl -sS -o "$TMP/body" -D "$TMP/headers" -A "$UA" -H "Accept-Language: en-GB" "$@" "$url" ||
        die "request to $url failed"
    { head -n1 "$TMP/headers"; grep -i '^Content-Type:' "$TMP/headers"; } | tr -d '\r' |
        sed "1s/\$/   ($(wc -c <"$TMP/body") bytes)/" | indent
    grep -i '^Set-Cookie:' "$TMP/headers" | tr -d '\r' | indent || echo "    (no Set-Cookie)"
}

visit "1. First visit, no cookie: the module issues an ever-ID (Set-Cookie) and sends a hit with one=1" "$BASE/"
COOKIE=$(grep -i '^Set-Cookie:' "$TMP/headers" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: *\([^;]*\).*/\1/p' | head -n1)
[[ -n $COOKIE ]] || die "the first visit got no Set-Cookie"

visit "2. Same visitor, second page, with the cookie and a Referer: same ever-ID, no one=1" \
    "$BASE/products.html?color=red&size=xl" -b "$COOKIE" -e "$BASE/"
visit "3. A stylesheet (text/css): not a page, no hit" "$BASE/style.css" -b "$COOKIE"
visit "4. An image (image/svg+xml): not a page, no hit" "$BASE/logo.svg" -b "$COOKIE"
visit "5. A missing page (404): not a page, no hit" "$BASE/missing.html" -b "$COOKIE"
visit "6. A visitor who opted out (cookie webtrekkOptOut=1): no hit" "$BASE/products.html" \
    -b "webtrekkOptOut=1"
visit "7. MappTrackMode sync: the hit is sent before the page's headers leave (access log: sent)" \
    "$BASE/checkout.html" -b "$COOKIE" -e "$BASE/products.html?color=red&size=xl"
# What a Mapp pixel would send to the relay; the X-WT-IP it claims is replaced.
now_ms=$(date +%s%3N)
visit "8. The browser pixel through the relay (SetHandler mapptrack-proxy): answered with the GIF" \
    "$BASE/analytics/$TRACK_ID/wt?p=600,checkout.thankyou,1,1920x1080,24,1,$now_ms,0,1280x900,0&eid=${COOKIE#*=}&cg1=pixel&X-WT-IP=192.0.2.66&eor=1" \
    -b "$COOKIE"

visit "9. A page under /about/, tracked to the built-in inspector (SetHandler mapptrack-inspect)" \
    "$BASE/about/" -b "$COOKIE"

# Hits are delivered by background threads: wait for the four that should come,
# then a little more so that one that should not come would show up too.
for _ in $(seq 50); do
    [[ $(wc -l <"$TMP/hits.jsonl") -ge 4 ]] && break
    sleep 0.1
done
sleep 0.5

say "What the collector received"
sed -n '2,$p' "$TMP/logs/collector.log" | indent
if [[ -s $TMP/hits.jsonl ]]; then
    echo
    echo "    The same, as a JSON line in hits.jsonl (first hit, shortened):"
    head -n1 "$TMP/hits.jsonl" | cut -c1-400 | sed 's/$/ .../' | indent
fi

for _ in $(seq 50); do
    curl -s "$BASE/inspect/?format=json" | grep -q '"number"' && break
    sleep 0.1
done
say "What the inspector received ($BASE/inspect/ shows it as a page; here its JSON, shortened)"
curl -sS "$BASE/inspect/?format=json" >"$TMP/inspect.json" || die "the inspector did not answer"
"$PYTHON" - "$TMP/inspect.json" <<'EOF' | indent
import json, sys
for h in json.load(open(sys.argv[1]))["hits"]:
    print(f"hit {h['number']} ({h['method']}, track IDs {h['track_ids']}), received {h['received']}")
    i = h["identity"]
    print(f"  visitor: ever-ID {i['ever_id'] or '-'}, IP {i['ip'] or '-'}, user agent {i['user_agent'] or '-'}")
    for f in h["page"][:8]:
        print(f"  p: {f['label']}: {f['value']}")
    for p in h["params"]:
        if p["key"] != "p":
            print(f"  {p['key']} ({p['label'] or '?'}): {p['value'][:80]}")
    print("  rules: " + ("; ".join(h["violations"]) if h["violations"] else "no rule broken"))
EOF

say "Server-wide figures ($BASE/mapptrack-status; ?format=prometheus for Prometheus)"
curl -sS "$BASE/mapptrack-status" >"$TMP/status.json" || die "the status page did not answer"
"$PYTHON" - "$TMP/status.json" <<'EOF' | indent
import json, sys
doc = json.load(open(sys.argv[1]))
for r in doc["rows"]:
    dropped = sum(r["dropped"].values())
    skipped = ", ".join(f"{k} {v}" for k, v in r["skipped"].items() if v) or "none"
    print(f"{r['vhost']} / {r['track_ids'] or '-'}: pages {r['pages']}, queued {r['queued']}, "
          f"sent {r['sent']}, dropped {dropped}, relayed {r['relay_requests']}; skipped: {skipped}")
EOF

say "Access log (LogFormat ... mapptrack=%{MAPPTRACK}e eid=%{MAPPTRACK_EID}e)"
indent <"$TMP/logs/access.log"

errors=$(grep -v -e 'resuming normal operations' -e 'AH00094: Command line' "$TMP/logs/error.log" || true)
if [[ -n $errors ]]; then
    say "Error log"
    echo "$errors" | indent
fi

# --- check: three page views and one relayed pixel hit, one visitor ---------------------
nhits=$(wc -l <"$TMP/hits.jsonl")
verdict=$("$PYTHON" - "$TMP/hits.jsonl" "${COOKIE#*=}" <<'EOF'
import json, sys
from urllib.parse import urlsplit
path, eid = sys.argv[1], sys.argv[2]
try:
    hits = [json.loads(line) for line in open(path)]
except FileNotFoundError:
    hits = []
problems = []
def page(h):  # path?query of the page a hit reports
    u = urlsplit(dict(h["params"]).get("X-WT-RQ", ""))
    return u.path + ("?" + u.query if u.query else "")
relayed = [h for h in hits if h.get("headers")]  # the relay sends the client in headers
pages = [h for h in hits if not h.get("headers")]
got = sorted(page(h) for h in pages)
want = sorted(["/", "/products.html?color=red&size=xl", "/checkout.html"])
if got != want or len(relayed) != 1:
    problems.append(f"expected hits for {want} and 1 relayed pixel hit, got {got} and {len(relayed)}")
for h in hits:
    p = dict(h["params"])
    if p.get("eid") != eid:
        problems.append(f"hit {h['number']} has eid {p.get('eid')}, expected {eid}")
    if p.get("X-WT-IP") == "192.0.2.66" or h.get("headers", {}).get("X-WT-IP") == "192.0.2.66":
        problems.append("the relay passed on the IP the browser claimed")
first = [h for h in pages if dict(h["params"]).get("one") == "1"]
if len(first) != 1:
    problems.append(f"expected one hit with one=1, got {len(first)}")
try:
    inspected = json.load(open(path.replace("hits.jsonl", "inspect.json")))["hits"]
except (OSError, ValueError):
    inspected = []
if len(inspected) != 1 or inspected[0]["violations"] or inspected[0]["identity"]["ever_id"] != eid:
    problems.append(f"expected one hit in the inspector, for {eid}, breaking no rule; got {inspected}")
try:
    status = json.load(open(path.replace("hits.jsonl", "status.json")))
    sent = status["totals"]["sent"]
except (OSError, ValueError, KeyError):
    sent = None
if sent is None or sent < 5:
    problems.append(f"the status page should count at least 5 hits sent, says {sent}")
print("; ".join(problems) if problems else "ok")
EOF
)
if [[ $verdict == ok ]]; then
    say "OK: $nhits hits (3 page views, 1 relayed pixel request) for one visitor (ever-ID ${COOKIE#*=}), 1 in the inspector; CSS, image, 404 and opt-out sent nothing"
else
    say "UNEXPECTED: $verdict"
    ((once)) && exit 1
fi

if ((once)); then
    exit 0
fi

say "The demo keeps running: open $BASE/ in a browser (or: curl $BASE/products.html)"
echo "    Hits appear below as the collector receives them. Ctrl-C stops apache2 and the collector."
echo
# -n0: only what arrives from now on; the output above already showed the rest.
tail -n0 -f "$TMP/logs/collector.log" &
TAIL_PID=$!
wait "$APACHE_PID" || true
echo "demo.sh: apache2 exited; see $TMP/logs/error.log" >&2
exit 1
