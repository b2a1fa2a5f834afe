"""A stub Mapp track server on 127.0.0.1: records every request, can delay,
answer an error status, reset connections, or stop listening.
"""

import base64
import http.server
import socket
import socketserver
import struct
import threading
import time

import mapphit

GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
assert len(GIF) == 43


class Request:
    """One HTTP request as the stub received it."""

    def __init__(self, method, target, headers, body, when, peer):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition("?")
        self.headers = headers  # email.message.Message: .get(), .get_all()
        self.body = body
        self.time = when
        self.peer = peer  # (ip, port) of the client: the port tells connections apart
        self.outcome = None  # status code answered, or "reset"

    @property
    def client_port(self):
        return self.peer[1] if self.peer else None

    def __repr__(self):
        return f"Request({self.method} {self.target[:200]!r}, body={len(self.body)}B, {self.outcome})"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # let the client keep connections alive
    server_version = "MappStub/1.0"
    sys_version = ""

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.server.owner._conn_opened(self.connection)

    def handle(self):
        try:
            super().handle()
        except (OSError, ValueError):
            pass

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass
        self.server.owner._conn_closed(self.connection)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self):
        owner = self.server.owner
        body = self._read_body()
        req = Request(self.command, self.path, self.headers, body, time.time(),
                      self.client_address)
        delay, status, reset = owner._record(req)
        for needle, code in owner._refuse:
            if needle in body or needle in self.path.encode("latin-1", "replace"):
                status = code
        if delay:
            owner._wake.wait(delay)
        if reset or owner._mode_reset:
            req.outcome = "reset"
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        payload = GIF if status < 300 else b""
        content_type = "image/gif" if payload else None
        if owner._body is not None:
            content_type, payload = owner._body
        req.outcome = status
        self.send_response(status)
        if payload and content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in owner._extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = _serve


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass


class TrackServer:
    """Stub track server. `url` is `http://127.0.0.1:PORT`."""

    def __init__(self, port=0):
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._requests = []
        self._delay = 0.0
        self._status = 200
        self._mode_reset = False
        self._extra_headers = []
        self._body = None
        self._refuse = []
        self._wake = threading.Event()
        self._conns = set()
        self._server = None
        self._thread = None
        self.port = port
        self.up()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # -- controls -------------------------------------------------------------
    def delay(self, seconds):
        """Sleep `seconds` before answering each request (0 = answer at once)."""
        self._delay = float(seconds)
        if not seconds:
            self._wake.set()
            self._wake = threading.Event()

    def status(self, code):
        """Answer every request with `code` (200 answers the GIF)."""
        self._status = int(code)

    def reset(self, on=True):
        """Close each connection abruptly (RST) instead of answering."""
        self._mode_reset = bool(on)

    def answer_headers(self, headers):
        """Add these (name, value) headers to every answer, e.g.
        [("Set-Cookie", "wteid_111=...; Domain=.webtrekk.net; Path=/")]."""
        self._extra_headers = list(headers)

    def answer_body(self, content_type, body):
        """Answer every request with this body (None: the GIF on 2xx, empty otherwise)."""
        self._body = None if body is None else (content_type, bytes(body))

    def refuse_body_containing(self, needle, code=400):
        """Answer `code` to every request whose body or target contains `needle` (bytes)."""
        self._refuse.append((bytes(needle), int(code)))

    def normal(self):
        """Back to answering 200 with the GIF at once."""
        self.delay(0)
        self.status(200)
        self.reset(False)
        self.answer_headers([])
        self.answer_body(None, None)
        self._refuse = []

    def connections(self):
        """The client ports of the recorded requests, in order (one per TCP connection)."""
        return [r.client_port for r in self.requests()]

    def up(self):
        """Listen (again) on the same port."""
        if self._server is not None:
            return
        deadline = time.time() + 10
        while True:
            try:
                srv = _Server(("127.0.0.1", self.port), _Handler)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        srv.owner = self
        self.port = srv.server_address[1]
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"trackstub-{self.port}", daemon=True)
        self._thread.start()

    def down(self):
        """Stop listening and drop open connections: new connections are refused."""
        srv, self._server = self._server, None
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def close(self):
        self._wake.set()
        self.down()

    # -- recording ------------------------------------------------------------
    def _conn_opened(self, conn):
        with self._lock:
            self._conns.add(conn)

    def _conn_closed(self, conn):
        with self._lock:
            self._conns.discard(conn)

    def _record(self, req):
        with self._cond:
            self._requests.append(req)
            self._cond.notify_all()
            return self._delay, self._status, self._mode_reset

    def clear(self):
        with self._lock:
            self._requests.clear()

    def requests(self):
        with self._lock:
            return list(self._requests)

    def hits(self, predicate=None):
        out = []
        for req in self.requests():
            out.extend(mapphit.hits_from_request(req))
        if predicate is not None:
            out = [h for h in out if predicate(h)]
        return out

    def hits_for(self, marker):
        """Hits whose page URL (X-WT-RQ) contains `marker`."""
        return self.hits(lambda h: marker in (h.get("X-WT-RQ") or ""))

    def wait_hits(self, n, timeout=10.0, predicate=None):
        """Wait until at least `n` hits (matching `predicate`) arrived; return them all."""
        deadline = time.time() + timeout
        while True:
            hits = self.hits(predicate)
            if len(hits) >= n:
                return hits
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(
                    f"track server {self.url}: expected >= {n} hits within {timeout}s, got "
                    f"{len(hits)}: {hits[:5]}; requests: {self.requests()[:5]}")
            with self._cond:
                self._cond.wait(min(left, 0.1))

    def wait_marker(self, marker, n=1, timeout=10.0):
        return self.wait_hits(n, timeout, lambda h: marker in (h.get("X-WT-RQ") or ""))

    def received_bytes(self):
        """Everything the stub received, as one bytes blob (targets, headers, bodies)."""
        parts = []
        for r in self.requests():
            parts.append(r.target.encode("latin-1", "replace"))
            parts.append(str(r.headers).encode("latin-1", "replace"))
            parts.append(r.body)
        return b"\n".join(parts)

