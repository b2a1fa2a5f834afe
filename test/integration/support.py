"""Small helpers shared by the integration test files."""

import os
import re
import socket
import time
import uuid

ID1 = "111111111111111"
ID2 = "222222222222222"
ID3 = "333333333333333"
ID4 = "444444444444444"
EID_RE = re.compile(r"[0-9]{19}")
SETTLE = float(os.environ.get("MAPPTRACK_SETTLE", "1.0"))


def marker():
    """A unique query marker so each request's hit can be told apart."""
    return "m" + uuid.uuid4().hex[:16]


def settle(seconds=None):
    """Wait long enough that a hit that should not exist would have arrived."""
    time.sleep(SETTLE if seconds is None else seconds)


def now_ms():
    return int(time.time() * 1000)


def tracking(ids=ID1, domain="@TRACK@", batch=1, delay=None, extra=""):
    """Server-level config lines that track every page to a stub."""
    lines = ["MappTrack On", f"MappTrackId {ids}", f"MappTrackDomain {domain}",
             f"MappTrackBatchSize {batch}"]
    if delay is not None:
        lines.append(f"MappTrackBatchDelay {delay}")
    return "\n".join(lines) + "\n" + extra


def page(httpd, cookie=None, headers=None):
    """GET a tracked page with a unique marker (and a Cookie header); (marker, response)."""
    m = marker()
    hdrs = dict(headers or {})
    if cookie is not None:
        hdrs["Cookie"] = cookie
    r = httpd.get(f"/page.html?m={m}", headers=hdrs)
    assert r.status == 200, r
    return m, r


def parse_set_cookie(value):
    """'n=v; Path=/; HttpOnly' -> (name, value, {attr-lower: value-or-True})."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), val.strip(), attrs


def hits_by_marker(hits):
    out = {}
    for h in hits:
        m = re.search(r"[?&]m=(m[0-9a-f]{16})", h.get("X-WT-RQ") or "")
        key = m.group(1) if m else None
        out.setdefault(key, []).append(h)
    return out


def raw_request(port, data, timeout=30.0):
    """Send raw bytes (a whole request, 'Connection: close'); return (status, head, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    resp = b"".join(chunks)
    head, _, body = resp.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, head, body


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def parse_prometheus(text):
    """Prometheus text format: ([(name, {label: value}, value)], {families with HELP}, {family: type})."""
    samples, helps, types = [], set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line and not line.startswith("#"):
            m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
            assert m, f"not a Prometheus sample line: {line!r}"
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
    return samples, helps, types
