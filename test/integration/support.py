"""Small helpers shared by the integration test files: markers and config
lines, cookies and hits, raw requests, and load: `Load` (client threads), a
`KeepAlive` connection (one child), what the stub accepted (`delivered`)."""

import collections
import glob
import http.client
import os
import re
import socket
import threading
import time
import uuid

from harness import wait_until

ID1 = "111111111111111"
ID2 = "222222222222222"
ID3 = "333333333333333"
ID4 = "444444444444444"
EID_RE = re.compile(r"[0-9]{19}")
SETTLE = float(os.environ.get("MAPPTRACK_SETTLE", "1.0"))
# MappTrackTimeout for tests whose track server answers at once (or fails at once):
# long enough that a busy machine (tests run in parallel) never turns a quick answer
# into a timeout. Tests about timeouts set their own, short ones.
LIVE_TIMEOUT_MS = 5000


def marker():
    """A unique query marker so each request's hit can be told apart."""
    return "m" + uuid.uuid4().hex[:16]


def settle(seconds=None):
    """Wait long enough that a hit that should not exist would have arrived. Only
    for "nothing else arrived" checks: what should happen is waited for."""
    time.sleep(SETTLE if seconds is None else seconds)


def wait_for(condition, timeout, what, interval=0.05):
    """Polls `condition()` until it holds (returns its value); fails the test
    after `timeout` s, naming `what`."""
    value = wait_until(condition, timeout, interval)
    assert value, f"{what}: not within {timeout}s"
    return value


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


# -- load and delivery ---------------------------------------------------------------

class Load:
    """Client threads requesting tracked pages, each with a new marker.

    clients: threads; count: requests in all (None: until stop()); spread: seconds
    to spread them over (paced); path: page path, `extra`: more query text.
    start() or `with Load(...) as load:` (stopped at the end of the block).
    ok: markers answered 200; errors: (marker, status or exception).
    A client ends when apache2 is no longer running.
    """

    def __init__(self, httpd, clients=4, count=None, spread=0.0, path="/page.html", extra=""):
        self.httpd = httpd
        self.ok = []
        self.errors = []
        self.count = count
        self.spread = spread
        self.path = path
        self.extra = extra
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i, clients), daemon=True)
                         for i in range(clients)]

    def _run(self, index, clients):
        mine = None if self.count is None else len(range(index, self.count, clients))
        interval = self.spread / mine if mine and self.spread else 0.0
        t0 = time.time()
        i = 0
        while not self._stop.is_set() and (mine is None or i < mine):
            if interval:
                pause = t0 + i * interval - time.time()
                if pause > 0:
                    time.sleep(pause)
            i += 1
            m = marker()
            try:
                r = self.httpd.get(f"{self.path}?m={m}{self.extra}", timeout=15)
                with self._lock:
                    if r.status == 200:
                        self.ok.append(m)
                    else:
                        self.errors.append((m, r.status))
            except Exception as e:  # a killed child resets its connections; a stopped server refuses
                with self._lock:
                    self.errors.append((m, repr(e)))
                if not self.httpd.running:
                    return
                time.sleep(0.01)

    def start(self):
        for t in self._threads:
            t.start()
        return self

    @property
    def running(self):
        return any(t.is_alive() for t in self._threads)

    def wait_for(self, n, timeout=20):
        """Until `n` requests were answered 200."""
        deadline = time.time() + timeout
        while len(self.ok) < n and time.time() < deadline:
            time.sleep(0.02)
        assert len(self.ok) >= n, f"only {len(self.ok)} requests succeeded: {self.errors[:5]}"

    def join(self, timeout=120):
        for t in self._threads:
            t.join(timeout)

    def stop(self):
        self._stop.set()
        self.join(30)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class KeepAlive:
    """One persistent connection: every request goes to the same child."""

    def __init__(self, httpd):
        self.httpd = httpd
        self.conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=30)

    def get(self, path, headers=None):
        hdrs = {"Host": f"127.0.0.1:{self.httpd.port}", "User-Agent": "MappTrackTest/1.0"}
        hdrs.update(headers or {})
        self.conn.request("GET", path, headers=hdrs)
        r = self.conn.getresponse()
        r.read()
        assert not r.will_close, "the server closed the keep-alive connection"
        return r.status

    def close(self):
        self.conn.close()


def delivered(track_server):
    """marker -> number of complete hits the stub accepted (2xx) for it."""
    ok = [h for h in track_server.hits()
          if isinstance(h.request.outcome, int) and 200 <= h.request.outcome < 300
          and h.get("eor") == "1"]
    return collections.Counter({m: len(hs) for m, hs in hits_by_marker(ok).items() if m})


def wait_delivered(track_server, markers, timeout):
    """Waits until every marker arrived; returns (counter, seconds waited)."""
    t0 = time.time()
    want = set(markers)
    while True:
        got = delivered(track_server)
        if want <= set(got) or time.time() - t0 > timeout:
            return got, time.time() - t0
        time.sleep(0.1)


def spool_files(path):
    return sorted(glob.glob(os.path.join(path, "seg-*.mts")))


def children(httpd):
    """pids of apache2's children (the processes that track)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == httpd.proc.pid:
            out.append(int(p))
    return out


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
