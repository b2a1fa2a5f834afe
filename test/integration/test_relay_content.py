"""Variant B, what the relay passes on for Mapp's reports (docs/design.md §8):
the Smart Pixel's beacon bodies, the visitor's identity in queued hits, the
referrer and client hints, cookies a plain-HTTP site can keep, and in sync mode
(variant A) one ever-ID cookie only.

Each test checks both ends: what the stub track server received, and what the
browser got."""

import time
import urllib.parse

from support import ID1, ID2, LIVE_TIMEOUT_MS, marker, parse_set_cookie, settle, tracking
from test_relay import (EID, FAILURE_IDS, assert_gif, delivered_late, query, raw,
                        received, relay_conf, wait_received, with_client)

AGENT = "MappTrackTest/1.0"
# The Smart Pixel's sendBeacon mode posts `?p=…` lines, no `wt`, to /{ids}/batch.
BEACON_TYPE = "text/plain;charset=UTF-8"

# The relay with batching: a queued hit goes out in a POST /{ids}/batch, without cookies.
BATCHED = """
MappTrackTimeout {timeout}
MappTrackBatchSize 10
MappTrackBatchDelay 100
MappTrackRetries 8
<Location /analytics>
    SetHandler mapptrack-proxy
    MappTrackId {ids}
    MappTrackDomain @TRACK@
</Location>
"""


def expect_failures(httpd):
    httpd.expect_messages(*FAILURE_IDS)


def beacon_line(m, page="home", eid=None):
    """One `?p=…` line as sendBeacon posts it (no eid unless given)."""
    q = f"p=600,{page},0,1920x1080,24,1,1732838400123,0,1920x960,0&tz=1&fns=1&la=de&cp9={m}&eor=1"
    return "?" + (q.replace("&tz=1", f"&tz=1&eid={eid}") if eid else q)


def params(q):
    return urllib.parse.parse_qsl(q, keep_blank_values=True)


def lines_with(track_server, m):
    """Every hit line (batch body line or GET query) the stub received that holds `m`."""
    out = []
    for r in track_server.requests():
        if r.method == "POST" and r.path.endswith("/batch"):
            for line in r.body.decode("latin-1").split("\n"):
                if m in line:
                    out.append((r, line))
        elif m in r.query:
            out.append((r, "wt?" + r.query))
    return out


def wait_lines(track_server, m, n=1, timeout=20.0):
    """The lines holding `m` in requests the stub accepted, once there are `n`."""
    deadline = time.time() + timeout
    while True:
        got = [(r, line) for r, line in lines_with(track_server, m) if r.outcome == 200]
        if len(got) >= n:
            return got
        assert time.time() < deadline, f"no line with {m!r} within {timeout}s: {track_server.requests()}"
        time.sleep(0.05)


# -- beacon bodies ----------------------------------------------------------------------

def test_beacon_body_is_relayed_live_like_wt_lines(httpd, track_server):
    httpd.start(relay_conf())
    m = marker()
    lines = [beacon_line(m, "home", EID), beacon_line(m, "second")]
    r = httpd.post(f"/analytics/{ID1},{ID2}/batch", body="\n".join(lines) + "\n",
                   headers={"Content-Type": BEACON_TYPE})
    assert_gif(r)
    (req,) = received(track_server, m)
    assert (req.method, req.path, req.query) == ("POST", f"/{ID1},{ID2}/batch", ""), req
    # each line as a `wt?` line, the real client added before the final eor=1
    want = "\n".join("wt?" + with_client(line[1:]) for line in lines).encode()
    assert req.body == want, req.body
    assert req.headers.get("Content-Type") == BEACON_TYPE
    (entry,) = httpd.wait_access(f"/analytics/{ID1},{ID2}/batch")
    assert entry.mapptrack == "sent", entry


def test_beacon_body_falls_back_to_the_queue_and_is_replayed_to_wt(httpd, track_server):
    """Track server down: GIF now; once it is back, each beacon line arrives as
    GET /{ids}/wt?p=… (batch size 1), never at a URL of the browser's making."""
    expect_failures(httpd)
    httpd.start(relay_conf())
    track_server.down()
    m = marker()
    lines = [beacon_line(m, "home", EID), beacon_line(m, "second")]
    r = httpd.post(f"/analytics/{ID1},{ID2}/batch", body="\n".join(lines) + "\n",
                   headers={"Content-Type": BEACON_TYPE, "Cookie": f"wteid_{ID1}={EID}"})
    assert_gif(r)
    (entry,) = httpd.wait_access(f"/analytics/{ID1},{ID2}/batch")
    assert entry.mapptrack == "queued", entry
    track_server.up()
    got = wait_received(track_server, m, n=2, timeout=20, predicate=delivered_late)
    assert len(got) == 2, got
    for req in got:
        assert req.method == "GET" and req.path == f"/{ID1},{ID2}/wt", req
        p = params(req.query)
        assert p[0][0] == "p" and p[-1] == ("eor", "1"), p
        assert dict(p)["X-WT-IP"] == "127.0.0.1" and dict(p)["X-WT-UA"] == AGENT, p
        # a single GET carries the visitor's cookies, as the live relay did
        assert req.headers.get("Cookie") == f"wteid_{ID1}={EID}", req.headers
    assert sorted(dict(params(g.query))["p"].split(",")[1] for g in got) == ["home", "second"]
    settle()
    assert len([r for r in received(track_server, m) if delivered_late(r)]) == 2


# -- identity of queued hits -------------------------------------------------------------

def test_queued_batch_lines_keep_the_visitors_ever_id(httpd, track_server):
    """A batch carries no cookies: a queued line without an eid gets the one of the
    wteid_ cookie; the pixel's own eid stays; an anonymous visitor's line gets none;
    a cookie value that is not an ever-ID adds nothing."""
    expect_failures(httpd)
    httpd.start(BATCHED.format(timeout=LIVE_TIMEOUT_MS, ids=ID1))
    track_server.down()
    own = "4173283840012345678"
    known, kept, anon, hostile, beacon = (marker() for _ in range(5))
    sends = [
        (known, "GET", f"/analytics/{ID1}/wt?{beacon_line(known)[1:]}", f"wteid_{ID1}={EID}"),
        (kept, "GET", f"/analytics/{ID1}/wt?{beacon_line(kept, eid=own)[1:]}", f"wteid_{ID1}={EID}"),
        (anon, "GET", f"/analytics/{ID1}/wt?{beacon_line(anon)[1:]}",
         f"wteid_{ID1}={EID}; miCookieOptOut=1"),
        (hostile, "GET", f"/analytics/{ID1}/wt?{beacon_line(hostile)[1:]}",
         f"wteid_{ID1}=1&X-WT-IP=6.6.6.6"),
        (beacon, "POST", f"/analytics/{ID1}/batch", f"wteid_{ID1}={EID}"),
    ]
    for m, method, path, cookie in sends:
        body = beacon_line(m) + "\n" if method == "POST" else None
        r = httpd.request(method, path, headers={"Cookie": cookie, "Content-Type": BEACON_TYPE},
                          body=body)
        assert_gif(r)
    track_server.up()
    got = {}
    for m, *_ in sends:
        ((req, line),) = wait_lines(track_server, m)
        assert req.method == "POST" and req.path == f"/{ID1}/batch", req
        assert req.headers.get("Cookie") is None, "a batch carries no cookies"
        assert line.startswith("wt?"), line
        got[m] = params(line[3:])
    for m in (known, beacon):
        assert [v for k, v in got[m] if k == "eid"] == [EID], got[m]
        assert got[m][-1] == ("eor", "1"), got[m]
    assert [v for k, v in got[kept] if k == "eid"] == [own], got[kept]
    assert "eid" not in dict(got[anon]) and dict(got[anon]).get("nc") == "1", got[anon]
    assert "eid" not in dict(got[hostile]), got[hostile]
    assert [v for k, v in got[hostile] if k == "X-WT-IP"] == ["127.0.0.1"], got[hostile]
    settle()
    assert "6.6.6.6" not in track_server.received_bytes().decode("latin-1")


# -- forwarded headers -------------------------------------------------------------------

HINTS = {
    "Sec-CH-UA": '"Chromium";v="131", "Not_A Brand";v="24"',
    "Sec-CH-UA-Mobile": "?0",
    "Sec-CH-UA-Platform": '"Linux"',
    "Sec-CH-UA-Full-Version-List": '"Chromium";v="131.0.6778.85", "Not_A Brand";v="24.0.0.0"',
    "Sec-CH-UA-Model": '""',
}


def test_referer_language_and_client_hints_are_forwarded(httpd, track_server):
    httpd.start(relay_conf())
    m = marker()
    referer = f"http://127.0.0.1:{httpd.port}/shop/cart.html?x=1"
    headers = dict(HINTS, **{"Referer": referer, "Accept-Language": "de-DE,de;q=0.9",
                             "Sec-CH-Prefers-Color-Scheme": "dark", "Sec-CH-UAX": "no"})
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}", headers=headers))
    (req,) = received(track_server, m)
    for name, value in HINTS.items():
        assert req.headers.get_all(name) == [value], (name, req.headers)
    assert req.headers.get_all("Referer") == [referer]
    assert req.headers.get_all("Accept-Language") == ["de-DE,de;q=0.9"]
    # only the user-agent hints
    assert req.headers.get("Sec-CH-Prefers-Color-Scheme") is None
    assert req.headers.get("Sec-CH-UAX") is None
    # the other endpoints and batch bodies get them as well
    m2 = marker()
    assert_gif(httpd.post(f"/analytics/{ID1}/batch", body=f"wt?{query(m2)}\n", headers=headers))
    (req2,) = received(track_server, m2)
    assert req2.headers.get("Sec-CH-UA") == HINTS["Sec-CH-UA"]
    assert req2.headers.get("Referer") == referer
    # none sent, none forwarded
    m3 = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m3)}"))
    (req3,) = received(track_server, m3)
    assert not [k for k in req3.headers.keys() if k.lower().startswith("sec-ch-")], req3.headers
    assert req3.headers.get("Referer") is None


def test_hostile_hint_and_referer_cannot_add_a_header(httpd, track_server):
    """A CR or LF in a value is refused by httpd or removed; a hint header line of its own
    (`X-WT-IP`) is not a hint; a long Referer is cut, not relayed whole."""
    httpd.start(relay_conf())
    forwarded = []
    for value in (b'"a"\rX-Evil: 1', b'"a"\r\n X-Evil: 2', b'"a"\x01\x7fX'):
        m = marker()
        status, _, _ = raw(httpd, f"/analytics/{ID1}/wt?{query(m)}",
                           headers=[b"Sec-CH-UA: " + value, b"Referer: http://x/\r y"])
        assert status in (200, 400), status
        if status == 200:
            (req,) = received(track_server, m)
            forwarded.append(req)
    m = marker()
    status, _, _ = raw(httpd, f"/analytics/{ID1}/wt?{query(m)}",
                       headers=['Sec-CH-UA: "Chromium";v="131"', "X-WT-IP: 6.6.6.6",
                                "Sec-CH-UA-Platform: \"Linux\"", "Referer: http://e.test/" + "r" * 7000])
    assert status == 200
    (req,) = received(track_server, m)
    forwarded.append(req)
    assert req.headers.get_all("X-WT-IP") == ["127.0.0.1"], req.headers
    assert req.headers.get("Sec-CH-UA-Platform") == '"Linux"'
    assert 1000 < len(req.headers.get("Referer")) <= 4096, len(req.headers.get("Referer"))
    for r in forwarded:
        assert r.headers.get("X-Evil") is None, r.headers
        for name, value in r.headers.items():
            assert not any(c in value for c in "\r\n\x01\x7f"), (name, value)
    settle()
    assert b"6.6.6.6" not in track_server.received_bytes()


# -- Secure on plain HTTP ---------------------------------------------------------------

STUB_COOKIE = (f"wteid_{ID1}=4173283840012345678; Domain=.webtrekk.net; Path=/; Max-Age=3600; "
               "Secure; SameSite=None")


def test_plain_http_site_gets_the_cookie_without_secure(httpd, track_server):
    """A browser refuses a Secure cookie from an http:// page, and SameSite=None without
    Secure: both would leave the visitor without an ever-ID."""
    httpd.start(relay_conf())
    track_server.answer_headers([("Set-Cookie", STUB_COOKIE)])
    r = httpd.get(f"/analytics/{ID1}/wt?{query(marker())}")
    assert_gif(r)
    ((name, value, attrs),) = [parse_set_cookie(c) for c in r.set_cookies]
    assert (name, value) == (f"wteid_{ID1}", "4173283840012345678")
    assert "secure" not in attrs, r.set_cookies
    assert attrs == {"path": "/", "max-age": "3600", "samesite": "Lax"}, r.set_cookies


def test_https_site_keeps_secure(httpd, track_server):
    httpd.use_ssl()
    httpd.start(relay_conf())
    track_server.answer_headers([("Set-Cookie", STUB_COOKIE)])
    m = marker()
    r = httpd.get(f"/analytics/{ID1}/wt?{query(m)}")
    assert_gif(r)
    ((name, value, attrs),) = [parse_set_cookie(c) for c in r.set_cookies]
    assert (name, value) == (f"wteid_{ID1}", "4173283840012345678")
    assert attrs == {"path": "/", "max-age": "3600", "secure": True, "samesite": "None"}, r.set_cookies
    (req,) = received(track_server, m)
    assert req.path == f"/{ID1}/wt"


# -- sync mode: one ever-ID cookie ----------------------------------------------------------

SYNC = tracking() + f"""MappTrackMode sync
MappTrackTimeout {LIVE_TIMEOUT_MS}
MappTrackRetries 8
"""


def test_sync_new_visitor_gets_one_ever_id_cookie_the_one_its_hit_carries(httpd, track_server):
    httpd.start(SYNC)
    track_server.answer_headers([
        ("Set-Cookie", f"wteid_{ID1}=4999999999999999999; Domain=.webtrekk.net; Path=/; Max-Age=60"),
        ("Set-Cookie", f"wteid_{ID1}=4888888888888888888; Path=/"),
        ("Set-Cookie", f"wtsid_{ID1}=1; Path=/; Secure"),
    ])
    m = marker()
    r = httpd.get(f"/page.html?m={m}")
    assert r.status == 200, r
    (hit,) = track_server.hits_for(m)
    cookies = [parse_set_cookie(c) for c in r.set_cookies]
    ever = [(v, a) for n, v, a in cookies if n == f"wteid_{ID1}"]
    assert len(ever) == 1, r.set_cookies
    assert ever[0][0] == hit.get("eid") and hit.get("one") == "1", (r.set_cookies, hit.query)
    # the module's own cookie (HttpOnly, its Max-Age), not the track server's
    assert ever[0][1].get("httponly") is True, r.set_cookies
    # the track server's other cookies still arrive, Secure dropped on plain HTTP
    assert [(n, v, a) for n, v, a in cookies if n == f"wtsid_{ID1}"] == \
        [(f"wtsid_{ID1}", "1", {"path": "/"})], r.set_cookies


def test_sync_returning_visitor_gets_the_track_servers_cookie_once(httpd, track_server):
    httpd.start(SYNC)
    track_server.answer_headers([
        ("Set-Cookie", f"wteid_{ID1}={EID}; Path=/; Max-Age=60"),
        ("Set-Cookie", f"wteid_{ID1}=4888888888888888888; Path=/"),
    ])
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers={"Cookie": f"wteid_{ID1}={EID}"})
    assert r.status == 200, r
    (hit,) = track_server.hits_for(m)
    assert hit.get("eid") == EID
    assert [parse_set_cookie(c)[:2] for c in r.set_cookies] == [(f"wteid_{ID1}", EID)], r.set_cookies
