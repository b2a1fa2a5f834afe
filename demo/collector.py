#!/usr/bin/python3
"""A local stand-in for a Mapp Intelligence track server, for trying mod_mapptrack.

Accepts what the module sends and what a track server accepts:
  GET  /[prefix/]{ids}/wt?p=...          one hit
  POST /[prefix/]{ids}/batch             text/plain, one `wt?...` line per hit
answers 200 with the 43-byte transparent GIF, prints every hit decoded, and
appends it as one JSON object per line to --jsonl. Standard library only.

    /usr/bin/python3 demo/collector.py --port 8090 --jsonl /tmp/hits.jsonl

Point the module at it with `MappTrackDomain http://127.0.0.1:8090`.
"""

import argparse
import base64
import datetime
import json
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
assert len(GIF) == 43

# Parameters the module sets itself; everything else is a MappTrackParam.
OWN = ("p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eid", "ceid", "one", "nc", "eor")
MAX_BODY = 8 * 1024 * 1024

_lock = threading.Lock()
_count = 0


def decode(raw):
    """Percent-decode one value as UTF-8 ('+' stays '+': the module percent-encodes)."""
    return urllib.parse.unquote_to_bytes(raw).decode("utf-8", errors="replace")


def parse_line(query):
    """`p=...&X-WT-UA=...` -> ordered list of (name, decoded value), p fields."""
    if query.startswith("wt?"):
        query = query[3:]
    params = []
    p_fields = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        params.append((decode(name), decode(value)))
        if name == "p":
            # The commas of p separate fields; commas inside values arrive as %2C.
            p_fields = [decode(f) for f in value.split(",")]
    return params, p_fields


def describe_time(field):
    try:
        ms = int(field)
        t = datetime.datetime.fromtimestamp(ms / 1000)
        return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"
    except (ValueError, OverflowError, OSError):
        return field or "?"


def client(hit, params, name):
    """A client value from the hit line, or from the request header the relay sets."""
    if params.get(name):
        return params[name]
    if hit.get("headers", {}).get(name):
        return hit["headers"][name] + "   (request header)"
    return "(none)"


def show(hit):
    """The hit as a few readable lines."""
    params = dict(hit["params"])
    p = hit["p"]
    content_id = p[1] if len(p) > 1 else "?"
    referrer = p[7] if len(p) > 7 else "?"
    lines = [f"[{hit['received'][11:19]}] hit {hit['number']}: {hit['via']}  "
             f"(track IDs {', '.join(hit['track_ids'])})",
             f"  page (X-WT-RQ)  {params.get('X-WT-RQ', '(none: the pixel sends its own page fields)')}",
             f"  content ID      {content_id}" + ("   (none configured)" if content_id == "0" else ""),
             f"  time            {describe_time(p[6] if len(p) > 6 else '')}",
             f"  referrer        {'(none)' if referrer == '0' else referrer}",
             f"  user agent      {client(hit, params, 'X-WT-UA')}",
             f"  IP (X-WT-IP)    {client(hit, params, 'X-WT-IP')}"]
    if "nc" in params:
        lines.append("  ever-ID         none: nc=1 (anonymous: no consent, miCookieOptOut or DNT)")
    else:
        eid = params.get("eid")
        new = "   new visitor (one=1)" if params.get("one") == "1" else "   returning visitor"
        lines.append(f"  ever-ID (eid)   {eid + new if eid else '(none)'}")
    if "ceid" in params:
        lines.append(f"  custom ever-ID  {params['ceid']}")
    custom = [f"{n}={v}" for n, v in hit["params"] if n not in OWN]
    lines.append(f"  parameters      {'  '.join(custom) if custom else '(none)'}")
    if hit.get("cookie"):
        lines.append(f"  Cookie header   {hit['cookie']}")
    if params.get("eor") != "1":
        lines.append("  WARNING: no eor=1 at the end: the hit line was cut")
    return "\n".join(lines)


class Collector(BaseHTTPRequestHandler):
    server_version = "mapptrack-demo-collector"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: hits are printed by record()
        pass

    def _split_path(self):
        url = urllib.parse.urlsplit(self.path)
        segments = [s for s in url.path.split("/") if s]
        if len(segments) < 2:
            return None, None, url.query
        return segments[-2], segments[-1], url.query

    def _answer(self, status, body=GIF, content_type="image/gif"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        ids, last, query = self._split_path()
        if not ids or not last.startswith("wt"):
            self._answer(404, b"not a Mapp hit: expected /{trackIds}/wt?...\n", "text/plain")
            return
        self.server.record(ids, [query], f"GET {urllib.parse.urlsplit(self.path).path}",
                           self.headers)
        self._answer(self.server.status, GIF if self.server.status < 300 else b"")

    def do_POST(self):
        ids, last, _ = self._split_path()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, b"too large\n", "text/plain")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        if not ids or last != "batch":
            self._answer(404, b"not a Mapp batch: expected /{trackIds}/batch\n", "text/plain")
            return
        lines = [line.rstrip("\r") for line in body.decode("latin-1").split("\n")]
        lines = [line for line in lines if line]
        self.server.record(ids, lines, f"POST {urllib.parse.urlsplit(self.path).path}",
                           self.headers)
        self._answer(self.server.status, GIF if self.server.status < 300 else b"")


class CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, jsonl, status, quiet):
        super().__init__(address, Collector)
        self.jsonl = jsonl
        self.status = status
        self.quiet = quiet

    def record(self, ids, lines, via, headers):
        global _count
        received = datetime.datetime.now().isoformat(timespec="milliseconds")
        for i, line in enumerate(lines):
            params, p_fields = parse_line(line)
            with _lock:
                _count += 1
                hit = {
                    "number": _count,
                    "received": received,
                    "via": via + (f" (line {i + 1} of {len(lines)})" if len(lines) > 1 else ""),
                    "track_ids": ids.split(","),
                    "line": line if line.startswith("wt?") else "wt?" + line,
                    "p": p_fields,
                    "params": params,
                    "cookie": headers.get("Cookie", ""),
                    # The pixel relay (mapptrack-proxy) sends the client in headers.
                    "headers": {n: headers[n] for n in ("X-WT-IP", "X-WT-UA") if headers.get(n)},
                    "sender": headers.get("User-Agent", ""),
                    "answered": self.status,
                }
                if self.jsonl:
                    with open(self.jsonl, "a", encoding="utf-8") as f:
                        f.write(json.dumps(hit, ensure_ascii=False) + "\n")
                if not self.quiet:
                    print(show(hit), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    ap.add_argument("--port", type=int, default=8090, help="port to listen on (8090)")
    ap.add_argument("--jsonl", help="append each hit as a JSON line to this file")
    ap.add_argument("--status", type=int, default=200,
                    help="answer every hit with this HTTP status (try 503 to see retries)")
    ap.add_argument("--quiet", action="store_true", help="do not print hits")
    args = ap.parse_args()

    try:
        server = CollectorServer((args.host, args.port), args.jsonl, args.status, args.quiet)
    except OSError as e:
        print(f"collector: cannot listen on {args.host}:{args.port}: {e.strerror} "
              f"(is something else using port {args.port}?)", file=sys.stderr, flush=True)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"collector: listening on http://{args.host}:{args.port}/ "
          f"(MappTrackDomain http://{args.host}:{args.port})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
