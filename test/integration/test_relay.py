"""Variant B: the first-party pixel relay, `SetHandler mapptrack-proxy` (docs/design.md §8).

Every relayed request is checked twice: what the browser got, and what the stub
track server received. Refusals are sent as raw bytes, so that no client library
normalises `..` or escapes anything on the way; a refusal must leave the stub
with nothing at all.
"""

import http.client
import time
import urllib.parse

import pytest

from support import ID1, ID2, ID3, LIVE_TIMEOUT_MS, marker, parse_set_cookie, raw_request, settle, wait_for
from trackstub import GIF

ID9 = "999999999999999"
EID = "2170000000000000001"
TIMEOUT_MS = 500  # for the tests of a slow track server and of the fallback's time
# A query as the Smart Pixel sends it (page request, ever-ID, screen size, ...).
PIXEL_QUERY = ("p=600,home,0,1920x1080,24,1,1732838400123,0,1920x960,0"
               f"&tz=1&eid={EID}&fns=1&one=1&la=de&eor=1")

RELAY = """
MappTrackTimeout {timeout}
MappTrackBatchSize 1
MappTrackRetries 8
<Location /analytics>
    SetHandler mapptrack-proxy
    MappTrackId {ids}
    MappTrackDomain {domain}
{extra}
</Location>
"""
# What a failing track server makes the module log: the relay failed, the queued
# hits' delivery failed, works again.
FAILURE_IDS = ("MT0105", "MT0101", "MT0102")


def relay_conf(ids=f"{ID1},{ID2}", domain="@TRACK@", extra="", timeout=LIVE_TIMEOUT_MS):
    return RELAY.format(ids=ids, domain=domain, extra=extra, timeout=timeout)


def query(m):
    """The pixel query with a unique marker as a custom parameter."""
    return PIXEL_QUERY.replace("&eor=1", f"&cp9={m}&eor=1")


def received(track_server, m):
    return [r for r in track_server.requests() if m in r.target or m.encode() in r.body]


def wait_received(track_server, m, n=1, timeout=10.0, predicate=None):
    deadline = time.time() + timeout
    while True:
        got = [r for r in received(track_server, m) if predicate is None or predicate(r)]
        if len(got) >= n:
            return got
        if time.time() > deadline:
            raise AssertionError(f"the stub did not receive {n} request(s) with {m!r} within "
                                 f"{timeout}s: {track_server.requests()[:10]}")
        time.sleep(0.02)


def raw(httpd, target, method="GET", headers=(), body=b""):
    """Sends exactly this request line and returns (status, head, body)."""
    lines = [f"{method} {target} HTTP/1.1".encode("latin-1") if isinstance(target, str)
             else method.encode() + b" " + target + b" HTTP/1.1",
             f"Host: 127.0.0.1:{httpd.port}".encode(), b"User-Agent: MappTrackTest/1.0",
             b"Connection: close"]
    lines += [h.encode("latin-1") if isinstance(h, str) else h for h in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}".encode())
    return raw_request(httpd.port, b"\r\n".join(lines) + b"\r\n\r\n" + body)


def with_client(q, agent="MappTrackTest/1.0", ip="127.0.0.1"):
    """A hit query as the relay passes it on: the real client added before the final eor=1
    (no X-WT-UA for a client that sent no User-Agent)."""
    client = ("X-WT-UA=" + urllib.parse.quote(agent, safe="-._~") + "&" if agent else "") + "X-WT-IP=" + ip
    return q[:-len("&eor=1")] + "&" + client + "&eor=1" if q.endswith("&eor=1") else q + "&" + client


def header_values(head, name):
    out = []
    for line in head.split(b"\r\n")[1:]:
        n, _, v = line.partition(b":")
        if n.strip().lower() == name.lower().encode():
            out.append(v.strip().decode("latin-1"))
    return out


def assert_gif(r):
    assert r.status == 200, r
    assert r.headers.get("content-type") == "image/gif", r.headers
    assert r.body == GIF and len(r.body) == 43
    assert r.headers.get("cache-control") == "no-store", r.headers


# -- what is relayed ------------------------------------------------------------------

def test_each_path_form_is_relayed(httpd, track_server):
    httpd.start(relay_conf())
    forms = [  # (method, browser path without query, path the stub must see)
        ("GET", f"/analytics/{ID1}/wt", f"/{ID1}/wt"),
        ("GET", f"/analytics/{ID1},{ID2}/wt", f"/{ID1},{ID2}/wt"),
        ("GET", f"/analytics/{ID2},{ID1}/wt", f"/{ID2},{ID1}/wt"),
        ("GET", f"/analytics/{ID1}/wt7xq2k9", f"/{ID1}/wt7xq2k9"),
        ("GET", f"/analytics/{ID1}/wt.pl", f"/{ID1}/wt.pl"),
        ("GET", f"/analytics/{ID1}/cc", f"/{ID1}/cc"),
        ("GET", f"/analytics/{ID1}/optout", f"/{ID1}/optout"),
        ("GET", f"/analytics/{ID1}/optout.php", f"/{ID1}/optout.php"),
        ("POST", f"/analytics/{ID1}/wt", f"/{ID1}/wt"),
        ("POST", f"/analytics/{ID1}/wt4f8a", f"/{ID1}/wt4f8a"),
        ("GET", "/analytics", f"/{ID1},{ID2}/wt"),       # Smart Pixel sendViaServer
        ("GET", "/analytics/", f"/{ID1},{ID2}/wt"),
        ("POST", "/analytics", f"/{ID1},{ID2}/wt"),
    ]
    for method, path, upstream in forms:
        m = marker()
        q = query(m)
        r = httpd.request(method, f"{path}?{q}", body=b"" if method == "POST" else None)
        assert_gif(r)
        (req,) = received(track_server, m)
        assert req.method == method, (path, req)
        assert req.path == upstream, (path, req)
        # a hit's query arrives with the real client added; cc and optout… unchanged
        want = with_client(q) if upstream.rsplit("/", 1)[1].startswith("wt") else q
        assert req.query == want, f"{path}: the query must arrive as {want!r}: {req.query!r}"
        (entry,) = httpd.wait_access(m)
        assert entry.mapptrack == "sent", entry
    assert len(track_server.requests()) == len(forms)


def test_location_with_only_sethandler_uses_the_servers_ids_and_domain(httpd, track_server):
    """The usual setup: IDs and domain for the whole vhost, the <Location> only sets the handler."""
    httpd.start(f"""
MappTrackId {ID1}
MappTrackDomain @TRACK@
MappTrackBatchSize 1
<Location /analytics/>
    SetHandler mapptrack-proxy
</Location>
""")
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}"))
    (req,) = received(track_server, m)
    assert req.path == f"/{ID1}/wt"
    r = httpd.get(f"/analytics/{ID1}/wt/extra?{query(marker())}")
    assert r.status == 404


def test_batch_post_body_lines_are_relayed_with_the_client_added(httpd, track_server):
    """Each valid line goes on, in order, rewritten like a single hit ("\n"-joined); a line
    that is not a clean Mapp hit (here raw UTF-8) is left out."""
    httpd.start(relay_conf())
    m = marker()
    lines = [f"wt?{query(m)}", "wt?p=600,page%20two,0,0,0,0,1732838400456,0&eid=" + EID + "&eor=1",
             "wt?p=600,%C3%BC%E2%82%AC,0,0,0,0,1732838400789,0&cp1=a%26b&eor=1"]
    body = ("\r\n".join(lines) + "\n\n").encode() + b"wt?p=600,x,0,0,0,0,1,0&cp2=\xc3\xa4&eor=1\n"
    r = httpd.post(f"/analytics/{ID1},{ID2}/batch", body=body,
                   headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert_gif(r)
    (req,) = received(track_server, m)
    assert (req.method, req.path, req.query) == ("POST", f"/{ID1},{ID2}/batch", "")
    want = "\n".join("wt?" + with_client(line[3:]) for line in lines).encode()
    assert req.body == want, req.body
    assert req.headers.get("Content-Type") == "text/plain;charset=UTF-8"
    # chunked from the browser: de-chunked, the same lines
    m2 = marker()
    body2 = f"wt?{query(m2)}\n".encode() * 100
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=10)
    try:
        conn.putrequest("POST", f"/analytics/{ID1}/batch")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "text/plain")
        conn.endheaders()
        for i in range(0, len(body2), 1000):
            piece = body2[i:i + 1000]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == GIF
    finally:
        conn.close()
    (req2,) = received(track_server, m2)
    # (http.client sends no User-Agent here)
    assert req2.body == "\n".join([f"wt?{with_client(query(m2), agent='')}"] * 100).encode()


def test_relays_only_to_the_configured_domain_and_path(httpd, track_server, track_server2):
    """A path prefix in MappTrackDomain is kept; the browser's Host goes nowhere."""
    httpd.start(relay_conf(ids=ID1, domain="@TRACK@/tracker/v1"))
    m = marker()
    r = httpd.get(f"/analytics/{ID1}/wt?{query(m)}", host=f"127.0.0.1:{track_server2.port}")
    assert_gif(r)
    (req,) = received(track_server, m)
    assert req.path == f"/tracker/v1/{ID1}/wt"
    assert req.headers.get("Host") == f"127.0.0.1:{track_server.port}"
    settle(0.3)
    assert track_server2.requests() == []


def test_relay_requests_are_not_tracked_as_pages(httpd, track_server):
    httpd.start("MappTrack On\nMappTrackId 555555555555555\nMappTrackDomain @TRACK@\n"
                + relay_conf(ids=ID1))
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}"))
    settle()
    assert len(track_server.requests()) == 1, track_server.requests()


# -- never an open relay ----------------------------------------------------------------

REFUSED = [  # (name, raw request target, allowed statuses)
    ("unknown_id", f"/analytics/{ID9}/wt?{PIXEL_QUERY}", {404}),
    ("one_unknown_of_two", f"/analytics/{ID1},{ID9}/wt?{PIXEL_QUERY}", {404}),
    ("id_configured_elsewhere", f"/analytics/{ID3}/wt?{PIXEL_QUERY}", {404}),
    ("empty_id_in_list", f"/analytics/{ID1},/wt?{PIXEL_QUERY}", {404}),
    ("unknown_endpoint", f"/analytics/{ID1}/admin?eid=1", {404}),
    ("no_p_parameter", "/analytics?eid=1&eor=1", {404}),
    ("bare_location", "/analytics", {404}),
    ("dotdot_to_other_id", f"/analytics/{ID9}/../{ID1}/wt?{PIXEL_QUERY}", {400, 404}),
    ("dotdot_after_endpoint", f"/analytics/{ID1}/wt/../wt?{PIXEL_QUERY}", {400, 404}),
    ("dotdot_out_of_location", f"/analytics/../{ID1}/wt?{PIXEL_QUERY}", {400, 404}),
    ("dot_segment", f"/analytics/./{ID1}/wt?{PIXEL_QUERY}", {400, 404}),
    ("encoded_dotdot", f"/analytics/{ID9}/%2e%2e/{ID1}/wt?{PIXEL_QUERY}", {400, 404}),
    ("encoded_slash", f"/analytics/{ID1}%2Fwt?{PIXEL_QUERY}", {400, 404}),
    ("encoded_slash_dotdot", f"/analytics/{ID1}/wt%2F..%2F..%2Fx?{PIXEL_QUERY}", {400, 404}),
    ("encoded_letter", f"/analytics/{ID1}/%77t?{PIXEL_QUERY}", {400, 404}),
    ("at_sign", f"/analytics/evil.example@127.0.0.1/{ID1}/wt?{PIXEL_QUERY}", {400, 404}),
    ("at_in_endpoint", f"/analytics/{ID1}/wt@evil.example?{PIXEL_QUERY}", {400, 404}),
    ("backslash", f"/analytics/{ID1}\\wt?{PIXEL_QUERY}", {400, 404}),
    ("absolute_url", f"http://evil.example/analytics/{ID1}/wt?{PIXEL_QUERY}", {400, 404}),
    ("scheme_relative", f"//evil.example/analytics/{ID1}/wt?{PIXEL_QUERY}", {400, 404}),
    ("encoded_crlf_in_path", f"/analytics/{ID1}/wt%0D%0AX-Evil:%201?{PIXEL_QUERY}", {400, 404}),
    ("raw_cr_in_target", f"/analytics/{ID1}/wt?p=1\rX-Evil: 1", {400}),
    ("raw_nul_in_query", f"/analytics/{ID1}/wt?p=1\x00x", {400}),
    ("fragment_in_query", f"/analytics/{ID1}/wt?p=1#frag", {400, 404}),
    ("non_ascii_path", f"/analytics/{ID1}/wt\u00e4?{PIXEL_QUERY}", {400, 404}),
]


def test_refusals_reach_nobody(httpd, track_server):
    httpd.start(relay_conf())
    wrong = []  # every case is tried, then all that went wrong are reported
    for name, target, allowed in REFUSED:
        status, head, body = raw(httpd, target.encode("utf-8"))
        reached = [r.target for r in track_server.requests()]
        track_server.clear()
        if status not in allowed or reached:
            wrong.append(f"{name}: {target[:90]!r} answered {status} (expected {sorted(allowed)})"
                         + (f" and reached the track server as {reached}" if reached else ""))
    assert not wrong, "not refused:\n" + "\n".join(wrong)
    # a relayed request works on the same server, so the refusals were refusals
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}"))
    settle()
    assert [r.path for r in track_server.requests()] == [f"/{ID1}/wt"], track_server.requests()


ONLY_AT_THE_LOCATION = [  # {location}/{ids}/{rest} and {location}?p=... only
    ("unknown_endpoint_with_p", f"/analytics/{ID1}/admin?{PIXEL_QUERY}"),
    ("no_endpoint_with_p", f"/analytics/{ID1}/?{PIXEL_QUERY}"),
    ("ids_only_with_p", f"/analytics/{ID1}?{PIXEL_QUERY}"),
    ("any_path_with_p", f"/analytics/static/x.js?{PIXEL_QUERY}"),
    ("extra_segment_before_ids", f"/analytics/evil.example/{ID1}/wt?{PIXEL_QUERY}"),
    ("extra_segments_before_ids", f"/analytics/a/b/c/{ID1}/wt?{PIXEL_QUERY}"),
    ("absolute_url_in_path", f"/analytics/http://evil.example/{ID1}/wt?{PIXEL_QUERY}"),
]


def test_only_the_location_itself_is_relayed(httpd, track_server):
    """`?p=` is the sendViaServer form only on the location itself, and {ids} must
    follow the location directly: `/analytics/anything?p=…` is not a pixel request."""
    httpd.start(relay_conf())
    wrong = []
    for name, target in ONLY_AT_THE_LOCATION:
        status, head, body = raw(httpd, target)
        reached = [r.target for r in track_server.requests()]
        track_server.clear()
        if status != 404 or reached:
            wrong.append(f"{name}: {target[:70]!r} answered {status} (expected 404)"
                         + (f" and reached the track server as {[t[:60] for t in reached]}"
                            if reached else ""))
    assert not wrong, "relayed although not {location}/{ids}/{rest} or {location}?p=:\n" + \
        "\n".join(wrong)


def test_module_refusals_explain_themselves(httpd, track_server):
    """Refusals by the module (not by httpd's core) say why, and are not cached."""
    httpd.start(relay_conf())
    status, head, body = raw(httpd, f"/analytics/{ID9}/wt?{PIXEL_QUERY}")
    assert status == 404 and ID9.encode() in body, body
    assert header_values(head, "Cache-Control") == ["no-store"]
    status, head, body = raw(httpd, f"/analytics/{ID1}/x@y/wt?p=1")
    assert status == 400 and b"@" in body, body
    assert track_server.requests() == []


def test_other_methods_get_405(httpd, track_server):
    httpd.start(relay_conf())
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        status, head, _ = raw(httpd, f"/analytics/{ID1}/wt?{PIXEL_QUERY}", method=method,
                              body=b"x" if method in ("PUT", "PATCH") else b"")
        assert status == 405, (method, head)
        allow = ",".join(header_values(head, "Allow")).replace(" ", "").split(",")
        assert "GET" in allow and "POST" in allow and method not in allow, (method, head)
    settle(0.3)
    assert track_server.requests() == []


def test_oversized_uri_gets_414(httpd, track_server):
    httpd.start(relay_conf(), top="LimitRequestLine 65536\n")
    base = f"/analytics/{ID1}/wt?"
    m = marker()
    fits = base + query(m) + "&cp8=" + "a" * (16 * 1024 - len(base) - len(query(m)) - 5)
    assert len(fits) == 16 * 1024
    status, head, _ = raw(httpd, fits)
    assert status == 200, head
    assert len(received(track_server, m)) == 1
    track_server.clear()
    too_long = fits + "b"
    status, head, body = raw(httpd, too_long)
    assert status == 414, head
    assert b"16384" in body, body
    status, _, _ = raw(httpd, too_long + "c" * 30000)
    assert status == 414
    assert track_server.requests() == []


def test_oversized_body_gets_413(httpd, track_server):
    """MappTrackRelayMaxBody, default 256 KiB (the line limit raised here so that only the
    byte limit counts)."""
    httpd.start("MappTrackRelayMaxLines 10000\n" + relay_conf())
    limit = 256 * 1024
    m = marker()
    line = f"wt?{query(m)}\n".encode()
    body = (line * (limit // len(line) + 1))[:limit]
    r = httpd.post(f"/analytics/{ID1}/batch", body=body, headers={"Content-Type": "text/plain"})
    assert r.status == 200, r
    (req,) = received(track_server, m)
    assert len(req.body.split(b"\n")) >= body.count(b"\n"), "a body of exactly the limit is relayed whole"
    track_server.clear()
    r = httpd.post(f"/analytics/{ID1}/batch", body=body + b"x", headers={"Content-Type": "text/plain"})
    assert r.status == 413, r
    assert b"262144" in r.body, r.body
    # chunked, no Content-Length: the limit holds while reading
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=20)
    try:
        conn.putrequest("POST", f"/analytics/{ID1}/batch")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"y" * 65536
        try:
            for _ in range(limit // len(chunk) + 2):
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the whole body is sent
        resp = conn.getresponse()
        assert resp.status == 413, resp.status
    finally:
        conn.close()
    settle(0.3)
    assert track_server.requests() == []


# -- what is added, removed and forwarded -------------------------------------------------

def test_client_ip_and_agent_replace_the_browsers_claims(httpd, track_server):
    httpd.start(relay_conf())
    m = marker()
    claimed = ("X-WT-IP=6.6.6.6&x-wt-ua=Fake%20Agent&X%2DWT%2DIP=7.7.7.7&"
               f"{query(m)}&X-WT-UA=Other")
    agent = "Mozilla/5.0 (X11; Linux x86_64) RelayTest/2.0"
    r = httpd.get(f"/analytics/{ID1}/wt?{claimed}",
                  headers={"User-Agent": agent, "X-WT-IP": "8.8.8.8", "X-WT-UA": "Header Agent",
                           "X-Forwarded-For": "9.9.9.9"})
    assert_gif(r)
    (req,) = received(track_server, m)
    assert req.headers.get_all("X-WT-IP") == ["127.0.0.1"], req.headers
    assert req.headers.get_all("X-WT-UA") == [agent], req.headers
    params = urllib.parse.parse_qsl(req.query, keep_blank_values=True)
    claims = [(n, v) for n, v in params if n.lower() in ("x-wt-ip", "x-wt-ua")]
    assert claims == [("X-WT-UA", agent), ("X-WT-IP", "127.0.0.1")], req.query
    assert req.query == with_client(query(m), agent), req.query
    blob = track_server.received_bytes()
    for claim in (b"6.6.6.6", b"7.7.7.7", b"8.8.8.8", b"9.9.9.9", b"Fake", b"Header Agent", b"Other"):
        assert claim not in blob, f"{claim!r} reached the track server"


def test_only_mapp_cookies_accept_language_and_referer_are_forwarded(httpd, track_server):
    httpd.start(relay_conf())
    m = marker()
    cookie = (f"PHPSESSID=secret-session; wteid_{ID1}={EID}; wtstp_eid={EID}; "
              "session_token=topsecret; wt_rla=1; _ga=GA1.2.3")
    r = httpd.get(f"/analytics/{ID1}/wt?{query(m)}",
                  headers={"Cookie": cookie, "Accept-Language": "de-DE,de;q=0.9,en;q=0.5",
                           "Authorization": "Basic c2VjcmV0", "Referer": "https://site/private?x"})
    assert_gif(r)
    (req,) = received(track_server, m)
    forwarded = "; ".join(req.headers.get_all("Cookie") or [])
    names = {c.split("=", 1)[0].strip() for c in forwarded.split(";") if c.strip()}
    # (miCookieOptOut makes the visitor anonymous: no cookies then, test_relay_hostile.py)
    assert names == {f"wteid_{ID1}", "wtstp_eid", "wt_rla"}, forwarded
    assert req.headers.get("Accept-Language") == "de-DE,de;q=0.9,en;q=0.5"
    # the Referer is the page, as the pixel's own hit says (test_relay_content.py)
    assert req.headers.get("Referer") == "https://site/private?x"
    blob = track_server.received_bytes()
    for secret in (b"PHPSESSID", b"secret-session", b"topsecret", b"_ga", b"Authorization",
                   b"c2VjcmV0"):
        assert secret not in blob, f"{secret!r} reached the track server"
    # without cookies: no Cookie header at all
    m2 = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m2)}", headers={"Cookie": "PHPSESSID=x"}))
    (req2,) = received(track_server, m2)
    assert req2.headers.get("Cookie") is None, req2.headers


SET_COOKIES = [
    f"wteid_{ID1}=4173283840012345678; Domain=.webtrekk.net; Path=/; Max-Age=15552000; "
    "Secure; SameSite=None",
    f"wtsid_{ID1}=1; domain=webtrekk.net; Path=/",
    "wt_rla=1; Path=/; Expires=Wed, 01 Jan 2031 00:00:00 GMT",
]


@pytest.mark.parametrize("cookie_domain", [None, "example.test"], ids=["removed", "rewritten"])
def test_set_cookies_are_relayed_with_domain_rewritten(httpd, track_server, cookie_domain):
    extra = f"    MappTrackCookieDomain {cookie_domain}\n" if cookie_domain else ""
    httpd.start(relay_conf(extra=extra))
    track_server.answer_headers([("Set-Cookie", c) for c in SET_COOKIES])
    m = marker()
    r = httpd.get(f"/analytics/{ID1}/wt?{query(m)}")
    assert_gif(r)
    assert len(r.set_cookies) == len(SET_COOKIES), r.set_cookies
    got = [parse_set_cookie(c) for c in r.set_cookies]
    want = [parse_set_cookie(c) for c in SET_COOKIES]
    for (name, value, attrs), (wname, wvalue, wattrs) in zip(got, want):
        assert (name, value) == (wname, wvalue)
        wattrs.pop("domain", None)
        if cookie_domain:
            assert attrs.pop("domain") == cookie_domain, r.set_cookies
        assert "domain" not in attrs, r.set_cookies
        # a plain-HTTP site: Secure dropped, SameSite=None then Lax (test_relay_content.py)
        if wattrs.pop("secure", None) and wattrs.get("samesite") == "None":
            wattrs["samesite"] = "Lax"
        assert attrs == wattrs, f"other attributes must stay: {r.set_cookies}"
    assert "webtrekk.net" not in " ".join(r.set_cookies)


def test_status_content_type_body_and_location_are_relayed(httpd, track_server):
    httpd.start(relay_conf())
    # a JSON answer (the pixel's cc / config requests)
    track_server.answer_body("application/json; charset=utf-8", b'{"ok":true,"n":1}')
    m = marker()
    r = httpd.get(f"/analytics/{ID1}/cc?{query(m)}")
    assert r.status == 200 and r.body == b'{"ok":true,"n":1}', r
    assert r.headers.get("content-type") == "application/json; charset=utf-8"
    assert r.headers.get("cache-control") == "no-store"
    # a refusal by the track server is relayed, not replaced by the GIF
    track_server.answer_body("text/plain", b"unknown track id")
    track_server.status(404)
    r = httpd.get(f"/analytics/{ID1}/wt?{query(marker())}")
    assert r.status == 404 and r.body == b"unknown track id", r
    assert r.headers.get("cache-control") == "no-store"
    # the opt-out redirect
    track_server.status(302)
    track_server.answer_body(None, None)
    # (only to the site itself or the track domain: test_relay_hostile.py)
    back = f"http://127.0.0.1:{httpd.port}/privacy?optout=done"
    track_server.answer_headers([("Location", back)])
    r = httpd.get(f"/analytics/{ID1}/optout?redirect=x")
    assert r.status == 302, r
    assert r.headers.get("location") == back
    assert r.headers.get("cache-control") == "no-store"


# -- the track server fails ----------------------------------------------------------------

def delivered_late(r):
    """A queued hit the stub accepted: it carries X-WT-UA/X-WT-IP parameters (a relayed
    request carries them as headers) and was answered 200."""
    return "X-WT-IP=" in r.query and r.outcome == 200


def queued_hit(track_server, m, timeout=20.0):
    (req,) = wait_received(track_server, m, timeout=timeout, predicate=delivered_late)
    return req


def recover(track_server, fault):
    if fault == "slow":
        # Requests the stub is still holding were given up by the module (timeout):
        # reset them rather than answer, so that every 200 is a real delivery.
        track_server.reset(True)
        track_server.delay(0)
        wait_for(lambda: all(r.outcome is not None for r in track_server.requests()), 5,
                 "the stub reset the requests it held")
    track_server.normal()
    track_server.up()


FAULTS = ["down", "status503"]


@pytest.mark.parametrize("fault", ["slow", "reset"])
def test_a_track_server_that_got_the_hits_but_never_answered_gets_them_twice_at_most(
        httpd, track_server, fault):
    """Slow past the timeout, or resetting after reading the request: the live attempt may
    have been counted, so the queued copy is each hit's last (MT0111 when it fails the
    same way), and nothing more arrives once the track server recovers."""
    httpd.expect_messages(*FAILURE_IDS)
    httpd.expect_messages("MT0111", required=True)
    httpd.start(relay_conf(timeout=TIMEOUT_MS))
    if fault == "slow":
        track_server.delay(3)
    else:
        track_server.reset()
    m, m_batch = marker(), marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt8k2?{query(m)}", headers={"User-Agent": "Fallback/1.0"}))
    batch = f"wt?{query(m_batch)}\nwt?p=600,second,0,0,0,0,1732838400999,0&cp9={m_batch}x&eor=1\n"
    assert_gif(httpd.post(f"/analytics/{ID1},{ID2}/batch", body=batch, headers={"User-Agent": "Fallback/1.0"}))
    assert httpd.wait_access(m)[0].mapptrack == "queued"
    wait_received(track_server, m, n=2, timeout=15)
    httpd.wait_log(r"MT0111: 1 hit\(s\) for ", timeout=15)
    recover(track_server, fault)
    settle(2.0)
    copies = {k: len(received(track_server, k)) for k in (m, m_batch + "&", m_batch + "x")}
    assert all(1 <= n <= 2 for n in copies.values()), (copies, track_server.requests())
    assert copies[m] == 2, copies


@pytest.mark.serial
@pytest.mark.parametrize("fault", FAULTS)
def test_failing_track_server_gets_gif_and_hit_is_delivered_later(httpd, track_server, fault):
    httpd.expect_messages(*FAILURE_IDS)
    httpd.start(relay_conf(timeout=TIMEOUT_MS))
    agent = "Mozilla/5.0 Fallback/1.0 (a&b=c)"
    if fault == "down":
        track_server.down()
    elif fault == "slow":
        track_server.delay(3)
    elif fault == "status503":
        track_server.status(503)
    else:
        track_server.reset()
    m, m_batch = marker(), marker()
    r = httpd.get(f"/analytics/{ID1}/wt8k2?{query(m)}&X-WT-IP=6.6.6.6",
                  headers={"User-Agent": agent, "Cookie": f"wteid_{ID1}={EID}; PHPSESSID=s"})
    assert_gif(r)
    assert r.elapsed < TIMEOUT_MS / 1000 + 0.7, f"the fallback took {r.elapsed:.2f}s"
    batch = f"wt?{query(m_batch)}\nwt?p=600,second,0,0,0,0,1732838400999,0&cp9={m_batch}x&eor=1\n"
    r = httpd.post(f"/analytics/{ID1},{ID2}/batch", body=batch, headers={"User-Agent": agent})
    assert_gif(r)
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "queued", entry
    if fault == "status503":  # the queued copy failed too
        wait_received(track_server, m, timeout=10, predicate=lambda r: "X-WT-IP=" in r.query and r.outcome == 503)
    else:  # refused connections leave no trace: down for a while
        time.sleep(1.0)
    recover(track_server, fault)
    req = queued_hit(track_server, m)
    assert req.method == "GET" and req.path == f"/{ID1}/wt", req
    params = urllib.parse.parse_qsl(req.query, keep_blank_values=True)
    names = [n for n, _ in params]
    assert dict(params)["X-WT-UA"] == agent and dict(params)["X-WT-IP"] == "127.0.0.1", req.query
    assert names.count("X-WT-IP") == 1 and names[-1] == "eor", names
    assert [p for p in params if not p[0].startswith("X-WT-")] == \
        urllib.parse.parse_qsl(query(m)), "the pixel's parameters must be kept"
    assert (req.headers.get("Cookie") or "") == f"wteid_{ID1}={EID}"
    # both lines of the batch, each with the client added
    got = wait_received(track_server, m_batch, n=2, timeout=20, predicate=delivered_late)
    for g in got:
        assert g.path == f"/{ID1},{ID2}/wt" and "X-WT-UA=" in g.query, g
    assert {dict(urllib.parse.parse_qsl(g.query))["cp9"] for g in got} == {m_batch, m_batch + "x"}
    settle()
    queued = [r for r in track_server.requests() if delivered_late(r)]
    assert len(queued) == 3, f"each hit is delivered once: {queued}"


def test_a_fallback_keeps_a_batch_bodys_last_line_without_a_newline(httpd, track_server):
    """A beacon body whose last line has no trailing newline: every line is queued
    when the track server fails, the last one included, and delivered once later."""
    httpd.expect_messages(*FAILURE_IDS)
    httpd.start(relay_conf())
    track_server.status(503)
    m = marker()
    lines = [f"wt?p=600,first,0,0,0,0,1732838400111,0&cp9={m}a&eor=1",
             f"wt?p=600,middle,0,0,0,0,1732838400222,0&cp9={m}b&eor=1",
             f"wt?p=600,last,0,0,0,0,1732838400333,0&cp9={m}c&eor=1"]
    r = httpd.post(f"/analytics/{ID1}/batch", body="\n".join(lines))  # no "\n" at the end
    assert_gif(r)
    recover(track_server, "status503")
    got = wait_received(track_server, m, n=3, timeout=20, predicate=delivered_late)
    assert sorted(dict(urllib.parse.parse_qsl(g.query))["cp9"] for g in got) == [m + "a", m + "b", m + "c"]
    settle()
    assert len([g for g in received(track_server, m) if delivered_late(g)]) == 3


def test_no_hit_in_a_failed_cc_request_is_logged_as_such(httpd, track_server):
    httpd.expect_messages(*FAILURE_IDS)
    httpd.start(relay_conf())
    track_server.down()
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/cc?x={m}"))
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "skipped:track-server-failed", entry


# -- connections ------------------------------------------------------------------------------

def test_upstream_connections_are_kept_alive(httpd, track_server):
    httpd.start(relay_conf())
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=10)
    markers = []
    try:
        for i in range(6):
            m = marker()
            markers.append(m)
            if i % 2:
                conn.request("POST", f"/analytics/{ID1}/batch", body=f"wt?{query(m)}\n",
                             headers={"Content-Type": "text/plain"})
            else:
                conn.request("GET", f"/analytics/{ID1}/wt?{query(m)}")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == GIF
    finally:
        conn.close()
    ports = [received(track_server, m)[0].client_port for m in markers]
    assert len(set(ports)) == 1, f"each relayed request opened a new connection: ports {ports}"
