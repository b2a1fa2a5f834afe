#!/usr/bin/env bash
# Benchmarks, as ratios against a baseline measured in the same run:
#   1. page tracking: a static page with MappTrack On (async) vs. Off;
#   2. the pixel relay (SetHandler mapptrack-proxy) vs. httpd's own
#      mod_proxy_http + mod_headers doing the same job.
# Both front ends talk to one local "track server" (an apache2 serving the
# GIF), so neither is limited by a slow stub. Writes bench/results.md.
# Usage: bench/run.sh [seconds per run, default 10]   (as root; needs wrk)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
"$top/scripts/install-deps.sh" wrk
"$top/scripts/build.sh" "$top/build/release" >/dev/null
module="$top/build/release/mod_mapptrack/.libs/mod_mapptrack.so"
# The httpd the module is built for (configure's paths.ini; --with-apxs chooses it).
APACHE=$(sed -n 's/^apache = //p' "$top/build/release/test/integration/paths.ini")
MODDIR=$(sed -n 's/^modules = //p' "$top/build/release/test/integration/paths.ini")
work=$(mktemp -d /tmp/mapptrack-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for conf in "$work"/*.conf; do "$APACHE" -f "$conf" -k stop >/dev/null 2>&1 || true; done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); PAGE_OFF=$(port); PAGE_ON=$(port); RELAY=$(port); PROXY=$(port)

mkdir -p "$work/htdocs" "$work/track" "$work/run-up" "$work/run-front" "$work/logs"
printf '<!DOCTYPE html><html><head><title>bench</title></head><body>%s</body></html>\n' \
  "$(head -c 3000 /dev/zero | tr '\0' 'x')" > "$work/htdocs/index.html"
/usr/bin/python3 -c 'import base64,sys; sys.stdout.buffer.write(base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="))' > "$work/track/pixel.gif"
chmod -R a+rX "$work"

common() {  # RUNDIR
  cat <<CONF
ServerRoot $work
PidFile $1/httpd.pid
DefaultRuntimeDir $1
ErrorLog $work/logs/error-$(basename "$1").log
LogLevel warn
ServerName localhost
User www-data
Group www-data
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule mime_module $MODDIR/mod_mime.so
LoadModule alias_module $MODDIR/mod_alias.so
TypesConfig /etc/mime.types
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 150
KeepAlive On
MaxKeepAliveRequests 0
CONF
}

# The stand-in track server (mod_lua): every /{ids}/wt… GET and /{ids}/batch
# POST answers the 43-byte GIF.
cat > "$work/track/gif.lua" <<'LUA'
local gif = nil
function handle(r)
  if not gif then
    local f = io.open(r.document_root .. "/pixel.gif", "rb"); gif = f:read("*a"); f:close()
  end
  if r.method == "POST" then r:requestbody() end
  r.content_type = "image/gif"
  r:write(gif)
  return apache2.OK
end
LUA
chmod a+r "$work/track/gif.lua"
{ common "$work/run-up"
  cat <<CONF
LoadModule lua_module $MODDIR/mod_lua.so
Listen 127.0.0.1:$UP
DocumentRoot $work/track
LuaMapHandler "^/[0-9,]+/(wt|batch)" "$work/track/gif.lua" handle
<Directory $work/track>
  Require all granted
</Directory>
CONF
} > "$work/upstream.conf"

{ common "$work/run-front"
  cat <<CONF
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_http_module $MODDIR/mod_proxy_http.so
LoadModule headers_module $MODDIR/mod_headers.so
LoadModule mapptrack_module $module
Listen 127.0.0.1:$PAGE_OFF
Listen 127.0.0.1:$PAGE_ON
Listen 127.0.0.1:$RELAY
Listen 127.0.0.1:$PROXY
DocumentRoot $work/htdocs
<Directory $work/htdocs>
  Require all granted
</Directory>
MappTrackId 111
MappTrackDomain http://127.0.0.1:$UP
<VirtualHost 127.0.0.1:$PAGE_OFF>
  MappTrack Off
</VirtualHost>
<VirtualHost 127.0.0.1:$PAGE_ON>
  MappTrack On
</VirtualHost>
<VirtualHost 127.0.0.1:$RELAY>
  <Location /analytics>
    SetHandler mapptrack-proxy
  </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:$PROXY>
  # The same job with httpd's own proxy: the real client's IP and user agent,
  # a pooled keep-alive connection, no caching.
  <Location /analytics/>
    ProxyPass http://127.0.0.1:$UP/ keepalive=On
    RequestHeader set X-WT-IP "expr=%{REMOTE_ADDR}"
    RequestHeader set X-WT-UA "expr=%{HTTP_USER_AGENT}"
    Header set Cache-Control no-store
  </Location>
</VirtualHost>
CONF
} > "$work/front.conf"

"$APACHE" -t -f "$work/upstream.conf" >/dev/null 2>&1
"$APACHE" -t -f "$work/front.conf" >/dev/null 2>&1 || "$APACHE" -t -f "$work/front.conf"
"$APACHE" -f "$work/upstream.conf" -k start
"$APACHE" -f "$work/front.conf" -k start
sleep 1.5

# run NAME URL -> "rps p50_ms p99_ms"
run() {
  wrk -t2 -c16 -d2s "$2" >/dev/null 2>&1 || true   # warm-up
  wrk -t2 -c16 -d"${secs}s" --latency "$2" > "$work/$1.wrk"
  /usr/bin/python3 - "$work/$1.wrk" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t)[1])
p50 = ms(re.search(r"50%\s+(\S+)", t)[1]); p99 = ms(re.search(r"99%\s+(\S+)", t)[1])
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {errors[1] if errors else 0}")
PY
}

query='p=600,bench,1,1920x1080,24,1,1700000000000,0,1280x800,0&eor=1'
read -r off_rps off_p50 off_p99 off_err < <(run page-off "http://127.0.0.1:$PAGE_OFF/index.html")
read -r on_rps on_p50 on_p99 on_err < <(run page-on "http://127.0.0.1:$PAGE_ON/index.html")
read -r px_rps px_p50 px_p99 px_err < <(run proxy "http://127.0.0.1:$PROXY/analytics/111/wt?$query")
read -r rl_rps rl_p50 rl_p99 rl_err < <(run relay "http://127.0.0.1:$RELAY/analytics/111/wt?$query")

ratio() { /usr/bin/python3 -c "print(f'{$1/$2:.2f}')"; }
out="$top/bench/results.md"
{
  echo "# Benchmark results"
  echo
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, wrk -t2 -c16 -d${secs}s, apache2 $("$APACHE" -v | sed -n 's/Server version: //p'), MPM event."
  echo "Ratios are against the baseline of the same run; the absolute numbers depend on the machine."
  echo
  echo "## Page tracking (static 3 KB page)"
  echo
  echo "| | req/s | p50 ms | p99 ms | non-2xx |"
  echo "|---|---|---|---|---|"
  echo "| MappTrack Off (baseline) | $off_rps | $off_p50 | $off_p99 | $off_err |"
  echo "| MappTrack On (async, default batching) | $on_rps | $on_p50 | $on_p99 | $on_err |"
  echo "| **ratio On/Off** | **$(ratio "$on_rps" "$off_rps")** | $(ratio "$on_p50" "$off_p50") | $(ratio "$on_p99" "$off_p99") | |"
  echo
  echo "## Pixel relay vs. mod_proxy_http + mod_headers"
  echo
  echo "| | req/s | p50 ms | p99 ms | non-2xx |"
  echo "|---|---|---|---|---|"
  echo "| mod_proxy_http (baseline) | $px_rps | $px_p50 | $px_p99 | $px_err |"
  echo "| mapptrack-proxy | $rl_rps | $rl_p50 | $rl_p99 | $rl_err |"
  echo "| **ratio relay/proxy** | **$(ratio "$rl_rps" "$px_rps")** | $(ratio "$rl_p50" "$px_p50") | $(ratio "$rl_p99" "$px_p99") | |"
} > "$out"
cat "$out"
if grep -v -E "AH00489|AH00094|AH00491|caught SIGTERM" "$work"/logs/error-run-front.log | grep -q .; then
  echo "error log of the front end:"; cat "$work"/logs/error-run-front.log
fi
