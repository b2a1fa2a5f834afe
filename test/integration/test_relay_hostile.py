"""The relay under attack: each test sends what an attacker would send to the
first-party relay, then checks what the stub track server received and what the client got.

- Only Mapp hit lines (`wt…?query`, `?query`) leave the relay, on the live path and from the
  queue, and only to `{domain}/{ids}/wt` or `/batch`; the URL is never client text.
- A relayed request has a line and a byte limit (413, nothing sent or queued), so one request
  cannot flood the queue and spool with hits and evict the real ones.
- `X-WT-IP`/`X-WT-UA` in any spelling a lenient parser might read are replaced by the real client.
- The directory's privacy rules hold for the relay exactly as for page hits.
- The track server's answer is filtered: no redirect elsewhere, only Mapp cookies with
  `Path=/`, no markup on the site's origin; every answer has nosniff and a CSP.
- A hanging track server holds at most MappTrackMaxWaitingWorkers workers.
"""

import concurrent.futures
import time
import urllib.parse

import pytest

from support import ID1, ID2, LIVE_TIMEOUT_MS, marker, parse_set_cookie, settle, wait_for
from test_relay import (EID, FAILURE_IDS, PIXEL_QUERY, assert_gif, header_values, query, raw,
                        received, relay_conf, wait_received)

CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
AGENT = "Mozilla/5.0 HostileTest/1.0"


def expect_failures(httpd):
    httpd.expect_messages(*FAILURE_IDS)


def params(req_or_query):
    q = req_or_query if isinstance(req_or_query, str) else req_or_query.query
    return urllib.parse.parse_qsl(q, keep_blank_values=True)


def delivered_late(r):
    """A hit from the module's queue that the stub accepted: the client is in the query, and
    (unlike a live relayed request) not in an X-WT-IP request header."""
    return r.outcome == 200 and "X-WT-IP=" in r.query and r.headers.get("X-WT-IP") is None


def relayed_live(r):
    return r.headers.get("X-WT-IP") is not None


def lines_of(req):
    return [line for line in req.body.decode("latin-1").split("\n") if line]


def assert_guarded(head_or_response, what):
    """nosniff, the CSP and no-store on an answer (raw head bytes or a Response)."""
    if isinstance(head_or_response, bytes):
        got = {n: header_values(head_or_response, n) for n in
               ("X-Content-Type-Options", "Content-Security-Policy", "Cache-Control")}
        assert got == {"X-Content-Type-Options": ["nosniff"], "Content-Security-Policy": [CSP],
                       "Cache-Control": ["no-store"]}, f"{what}: {head_or_response!r}"
    else:
        h = head_or_response.headers
        assert h.get("x-content-type-options") == "nosniff", (what, h)
        assert h.get("content-security-policy") == CSP, (what, h)
        assert h.get("cache-control") == "no-store", (what, h)


# -- only hit lines, only to the hit endpoints ------------------------------------------------

def test_poison_lines_queued_in_an_outage_never_reach_another_path(httpd, track_server):
    expect_failures(httpd)
    httpd.start(relay_conf())
    track_server.down()
    good1, good2 = marker(), marker()
    body = ("../../../private/admin?cmd=1\n"
            f"wt?{query(good1)}\n"
            "wt?p=300,a b&eor=1\n"
            "http://evil/x\n"
            f"?p=600,second,0,0,0,0,1732838400999,0&cp9={good2}&eor=1\n"
            "wt/../../private?cmd=2\n").encode()
    r = httpd.post(f"/analytics/{ID1},{ID2}/batch", body=body, headers={"User-Agent": AGENT})
    assert_gif(r)
    assert_guarded(r, "the fallback GIF")
    time.sleep(1.0)
    track_server.up()
    for m in (good1, good2):
        (req,) = wait_received(track_server, m, timeout=20, predicate=delivered_late)
        assert dict(params(req))["X-WT-UA"] == AGENT and dict(params(req))["X-WT-IP"] == "127.0.0.1"
    settle()
    paths = {r.path for r in track_server.requests()}
    assert paths <= {f"/{ID1},{ID2}/wt", f"/{ID1},{ID2}/batch"}, paths
    blob = track_server.received_bytes()
    for bad in (b"private", b"admin", b"cmd=", b"evil", b"a b", b"a%20b&eor"):
        assert bad not in blob, f"{bad!r} reached the track server"


def test_live_batch_forwards_only_the_good_lines(httpd, track_server):
    httpd.start(relay_conf())
    good1, good2 = marker(), marker()
    body = (f"wt?{query(good1)}\r\n"
            "../../../private/admin?cmd=1\r\n"
            "wt?p=300,a b&eor=1\r\n"
            "wt?p=1\x00&eor=1\r\n"
            "http://evil/x\r\n"
            f"wt7xq2?p=600,b,0,0,0,0,1,0&cp9={good2}&eor=1\r\n").encode()
    r = httpd.post(f"/analytics/{ID1}/batch", body=body, headers={"User-Agent": AGENT})
    assert_gif(r)
    (req,) = received(track_server, good1)
    assert req.path == f"/{ID1}/batch"
    lines = lines_of(req)
    assert len(lines) == 2, lines
    assert lines[0].startswith("wt?p=600,home") and good1 in lines[0]
    assert lines[1].startswith("wt7xq2?p=600,b") and good2 in lines[1]
    for line in lines:
        assert line.endswith("&X-WT-UA=Mozilla%2F5.0%20HostileTest%2F1.0&X-WT-IP=127.0.0.1&eor=1"), line
    blob = track_server.received_bytes()
    for bad in (b"private", b"evil", b"a b", b"\x00"):
        assert bad not in blob
    # a body with no hit line at all: 400, nothing sent
    track_server.clear()
    r = httpd.post(f"/analytics/{ID1}/batch", body=b"../../x?y=1\nhello\n")
    assert r.status == 400, r
    assert_guarded(r, "400 for a body without hit lines")
    settle(0.3)
    assert track_server.requests() == []


def test_hit_query_that_is_not_clean_is_refused(httpd, track_server):
    httpd.start(relay_conf())
    for target in (f"/analytics/{ID1}/wt?p=1&cp1=\xc3\xa4&eor=1".encode("latin-1"),
                   f"/analytics/{ID1}/wt?p=1&cp1=%zz&eor=1".encode(),
                   f"/analytics/{ID1}/wt?p=1&cp1=<script>&eor=1".encode(),
                   f"/analytics/{ID1}/wt".encode()):
        status, head, _ = raw(httpd, target)
        assert status == 400, (target, head)
        assert_guarded(head, target)
    settle(0.3)
    assert track_server.requests() == []


# -- size limits ------------------------------------------------------------------------------------

LIMITED = "MappTrackRelayMaxLines 5\nMappTrackRelayMaxBody 2048\n"


@pytest.mark.parametrize("outage", [False, True], ids=["live", "outage"])
def test_too_many_lines_or_bytes_get_413_and_nothing_is_sent_or_queued(httpd, track_server, outage):
    httpd.start(LIMITED + relay_conf())
    if outage:
        track_server.down()
    m = marker()
    six_lines = "".join(f"wt?p=600,x{i},0,0,0,0,1,0&cp9={m}&eor=1\n" for i in range(6)).encode()
    big = f"wt?p=600,big,0,0,0,0,1,0&cp9={m}&cp1={'a' * 2100}&eor=1\n".encode()
    for body, what in ((six_lines, "6 lines"), (big, "2 KB+")):
        r = httpd.post(f"/analytics/{ID1}/batch", body=body, headers={"Content-Type": "text/plain"})
        assert r.status == 413, (what, r)
        assert_guarded(r, what)
    # as many junk lines as allowed plus one: the whole body is refused, the good line too
    junk = f"wt?p=600,ok,0,0,0,0,1,0&cp9={m}&eor=1\n".encode() + b"x\n" * 5
    r = httpd.post(f"/analytics/{ID1}/batch", body=junk)
    assert r.status == 413, r
    # within the limits it is relayed (or queued): the limits are the limits
    ok = marker()
    five = "".join(f"wt?p=600,y{i},0,0,0,0,1,0&cp9={ok}&eor=1\n" for i in range(5)).encode()
    assert httpd.post(f"/analytics/{ID1}/batch", body=five).status == 200
    if outage:
        time.sleep(0.5)
        track_server.up()
        wait_received(track_server, ok, n=5, timeout=20, predicate=delivered_late)
    settle()
    assert received(track_server, m) == [], "a refused body must never be sent or queued"
    if outage:
        expect_failures(httpd)


def test_a_flood_body_cannot_evict_real_hits_from_the_spool(httpd, track_server):
    """Issue 7 item 4 scaled down: page hits queued during an outage, then one 1 MB body of
    two-byte lines and one within the byte limit but over the line limit: both 413; every
    page hit is delivered after recovery, and nothing of the flood."""
    expect_failures(httpd)
    httpd.start(f"""
MappTrackTimeout 500
MappTrackBatchSize 1
MappTrackRetries 8
MappTrackQueueSize 100
MappTrack On
MappTrackId {ID1}
MappTrackDomain @TRACK@
<Location /analytics>
    SetHandler mapptrack-proxy
    MappTrack Off
</Location>
""")
    track_server.down()
    pages = [marker() for _ in range(30)]
    for m in pages:
        assert httpd.get(f"/page.html?m={m}").status == 200
    flood = b"a\n" * (512 * 1024)  # 1 MiB
    r = httpd.post(f"/analytics/{ID1}/batch", body=flood, headers={"Content-Type": "text/plain"})
    assert r.status == 413, r
    lines = b"wt?p=1\n" * 200  # 1.4 KB, 200 lines
    r = httpd.post(f"/analytics/{ID1}/batch", body=lines, headers={"Content-Type": "text/plain"})
    assert r.status == 413, r
    time.sleep(1.0)
    track_server.up()
    track_server.wait_hits(len(pages), timeout=30,
                           predicate=lambda h: any(m in (h.get("X-WT-RQ") or "") for m in pages))
    settle()
    for m in pages:
        assert [h for h in track_server.hits_for(m) if h.request.outcome == 200], f"page hit {m} lost"
    assert b"wt?p=1\n" not in track_server.received_bytes()
    assert all(r.path == f"/{ID1}/wt" for r in track_server.requests()), track_server.requests()


# -- claims about the visitor --------------------------------------------------------------------

NEAR_MISSES = ("X-WT-IP%20=6.6.6.6&+X-WT-IP=6.6.6.7&x_wt_ua=EvilAgent&X%2dWT%2dIP=6.6.6.8"
               "&X-WT-%49P=6.6.6.9&xwtip=6.6.6.10&X-WT-UA%00=EvilAgent2")


def client_values(q):
    """Every parameter a lenient parser could take for X-WT-IP / X-WT-UA."""
    out = []
    for piece in q.split("&"):
        name, _, value = piece.partition("=")
        norm = "".join(c for c in urllib.parse.unquote_plus(name) if c.isalnum()).lower()
        if norm in ("xwtip", "xwtua"):
            out.append((name, urllib.parse.unquote(value)))
    return out


def test_near_miss_client_names_are_replaced_everywhere(httpd, track_server):
    expect_failures(httpd)
    httpd.start(relay_conf())
    want = [("X-WT-UA", AGENT), ("X-WT-IP", "127.0.0.1")]
    # a single hit
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{NEAR_MISSES}&{query(m)}", headers={"User-Agent": AGENT}))
    (req,) = received(track_server, m)
    assert client_values(req.query) == want, req.query
    # batch lines
    m2 = marker()
    body = f"wt?{NEAR_MISSES}&{query(m2)}\n?{query(m2)}&{NEAR_MISSES}\n"
    assert_gif(httpd.post(f"/analytics/{ID1}/batch", body=body, headers={"User-Agent": AGENT}))
    (req,) = received(track_server, m2)
    for line in lines_of(req):
        assert client_values(line.partition("?")[2]) == want, line
    # a request that carries no hit keeps its query, without the claims
    m3 = marker()
    track_server.answer_body("application/json", b"{}")
    httpd.get(f"/analytics/{ID1}/cc?x={m3}&{NEAR_MISSES}", headers={"User-Agent": AGENT})
    (req,) = received(track_server, m3)
    assert client_values(req.query) == [] and req.query == f"x={m3}", req.query
    track_server.normal()
    # queued during an outage
    track_server.down()
    m4 = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m4)}&{NEAR_MISSES}", headers={"User-Agent": AGENT}))
    time.sleep(0.5)
    track_server.up()
    (req,) = wait_received(track_server, m4, timeout=20, predicate=delivered_late)
    assert client_values(req.query) == want, req.query
    blob = track_server.received_bytes()
    for claim in (b"6.6.6.", b"EvilAgent"):
        assert claim not in blob, f"{claim!r} reached the track server"


# -- privacy ---------------------------------------------------------------------------------------

def privacy_conf(extra):
    return relay_conf(extra=extra)


@pytest.mark.parametrize("header", ["DNT", "Sec-GPC"])
def test_do_not_track_skip_sends_nothing(httpd, track_server, header):
    httpd.start(privacy_conf("    MappTrackDoNotTrack Skip\n"))
    m = marker()
    r = httpd.get(f"/analytics/{ID1}/wt?{query(m)}", headers={header: "1"})
    assert_gif(r)
    assert_guarded(r, "opt-out GIF")
    r = httpd.post(f"/analytics/{ID1}/batch", body=f"wt?{query(m)}\n", headers={header: "1"})
    assert_gif(r)
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "skipped:optout", entry
    (entry,) = httpd.wait_access(f"/analytics/{ID1}/batch")
    assert entry.mapptrack == "skipped:optout", entry
    settle()
    assert track_server.requests() == []
    # without the header the same request is relayed
    m2 = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m2)}"))
    assert len(received(track_server, m2)) == 1


def test_opted_out_visitor_sends_nothing(httpd, track_server):
    expect_failures(httpd)
    httpd.start(relay_conf())
    cookie = {"Cookie": f"webtrekkOptOut=1; wteid_{ID1}={EID}"}
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}", headers=cookie))
    assert_gif(httpd.post(f"/analytics/{ID1}/batch", body=f"wt?{query(m)}\n", headers=cookie))
    assert_gif(httpd.get(f"/analytics?{query(m)}", headers=cookie))
    # not even queued when the track server is down
    track_server.down()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}", headers=cookie))
    track_server.up()
    settle()
    assert track_server.requests() == []
    assert {e.mapptrack for e in httpd.access_entries(m)} == {"skipped:optout"}


def assert_anonymous(req_query, headers):
    names = [n for n, _ in params(req_query)]
    assert not {"eid", "ceid", "one"} & set(names), req_query
    assert names.count("nc") == 1 and dict(params(req_query))["nc"] == "1", req_query
    assert names[-1] == "eor", names
    if headers is not None:
        assert headers.get("Cookie") is None, headers


def anon_query(m):
    """A pixel query with every ID a known visitor's pixel sends (eid, one, ceid) and nc=0."""
    return PIXEL_QUERY.replace("&eor=1", f"&ceid=custom1&nc=0&cp9={m}&eor=1")


@pytest.mark.parametrize("why", ["miCookieOptOut", "consent_absent", "dnt_anonymous"])
def test_anonymous_visitor_goes_without_ids_or_cookies(httpd, track_server, why):
    expect_failures(httpd)
    extra = {"miCookieOptOut": "",
             "consent_absent": "    MappTrackConsentCookie site_consent\n",
             "dnt_anonymous": "    MappTrackDoNotTrack Anonymous\n"}[why]
    httpd.start(privacy_conf(extra))
    headers = {"Cookie": f"wteid_{ID1}={EID}; wt_rla=1" + ("; miCookieOptOut=1" if why == "miCookieOptOut" else ""),
               "User-Agent": AGENT}
    if why == "dnt_anonymous":
        headers["DNT"] = "1"
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{anon_query(m)}", headers=headers))
    (req,) = received(track_server, m)
    assert_anonymous(req.query, req.headers)
    m2 = marker()
    assert_gif(httpd.post(f"/analytics/{ID1}/batch", body=f"wt?{anon_query(m2)}\n", headers=headers))
    (req,) = received(track_server, m2)
    assert req.headers.get("Cookie") is None
    for line in lines_of(req):
        assert_anonymous(line.partition("?")[2], None)
    # queued during an outage: the same
    track_server.down()
    m3 = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{anon_query(m3)}", headers=headers))
    time.sleep(0.5)
    track_server.up()
    (req,) = wait_received(track_server, m3, timeout=20, predicate=delivered_late)
    assert_anonymous(req.query, req.headers)
    assert EID.encode() not in track_server.received_bytes()


def test_consent_given_keeps_the_ids(httpd, track_server):
    httpd.start(privacy_conf("    MappTrackConsentCookie site_consent\n"))
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}",
                         headers={"Cookie": f"site_consent=1; wteid_{ID1}={EID}"}))
    (req,) = received(track_server, m)
    assert dict(params(req))["eid"] == EID and "nc" not in dict(params(req))
    assert req.headers.get("Cookie") == f"wteid_{ID1}={EID}"


def test_anonymize_ip_shortens_header_and_parameter(httpd, track_server):
    expect_failures(httpd)
    httpd.start(privacy_conf("    MappTrackAnonymizeIP On\n"))
    m = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}"))
    (req,) = received(track_server, m)
    assert req.headers.get_all("X-WT-IP") == ["127.0.0.0"], req.headers
    assert dict(params(req))["X-WT-IP"] == "127.0.0.0", req.query
    track_server.down()
    m2 = marker()
    assert_gif(httpd.post(f"/analytics/{ID1}/batch", body=f"wt?{query(m2)}\n"))
    time.sleep(0.5)
    track_server.up()
    (req,) = wait_received(track_server, m2, timeout=20, predicate=delivered_late)
    assert dict(params(req))["X-WT-IP"] == "127.0.0.0", req.query
    assert b"127.0.0.1" not in track_server.received_bytes().replace(b"Host: 127.0.0.1", b"")


# -- what comes back -------------------------------------------------------------------------------

def test_redirects_go_only_to_the_site_or_the_track_domain(httpd, track_server):
    httpd.start(relay_conf())
    track_server.status(302)
    cases = [("https://evil.example/", False), ("//evil.example/x", False),
             (f"http://127.0.0.1:{httpd.port}@evil.example/", False), ("/\\evil.example", False),
             ("javascript:alert(1)", False),
             (f"http://127.0.0.1:{httpd.port}/privacy?optout=done", True),
             ("/privacy", True), (f"{track_server.url}/optout.php", True)]
    for location, kept in cases:
        track_server.answer_headers([("Location", location)])
        r = httpd.get(f"/analytics/{ID1}/optout?redirect=x")
        assert r.status == 302, (location, r)
        assert r.headers.get("location") == (location if kept else None), (location, r.headers)
        assert_guarded(r, location)


def test_only_mapp_cookies_with_path_root_are_relayed(httpd, track_server):
    httpd.start(relay_conf())
    track_server.answer_headers([
        ("Set-Cookie", "sessionid=attacker; Path=/; HttpOnly"),
        ("Set-Cookie", "wtx=1; Path=/admin; Domain=.webtrekk.net; Secure"),
        ("Set-Cookie", "wty=a b,c; Path=/"),
        ("Set-Cookie", "wtcr=a\rb; Path=/"),
        ("Set-Cookie", "webtrekkOptOut=1; Max-Age=31536000; SameSite=Lax; Priority=High"),
    ])
    r = httpd.get(f"/analytics/{ID1}/wt?{query(marker())}")
    assert_gif(r)
    got = sorted(r.set_cookies)
    assert got == ["webtrekkOptOut=1; Path=/; Max-Age=31536000; SameSite=Lax",
                   "wtx=1; Path=/"], r.set_cookies  # Secure dropped on plain HTTP


def test_markup_from_the_track_server_is_not_served(httpd, track_server):
    httpd.start(relay_conf())
    for content_type in ("text/html; charset=utf-8", "image/svg+xml", "application/javascript",
                         "text/xml"):
        track_server.answer_body(content_type, b"<html><script>alert(document.cookie)</script></html>")
        r = httpd.get(f"/analytics/{ID1}/cc?x=1")
        assert r.status == 200, r
        assert r.body == b"", (content_type, r.body)
        assert content_type.split(";")[0] not in (r.headers.get("content-type") or ""), r.headers
        assert_guarded(r, content_type)
    track_server.answer_body("application/json", b'{"a":1}')
    r = httpd.get(f"/analytics/{ID1}/cc?x=1")
    assert r.body == b'{"a":1}' and r.headers.get("content-type") == "application/json"


def test_every_answer_carries_nosniff_and_the_csp(httpd, track_server):
    expect_failures(httpd)
    httpd.start(LIMITED + relay_conf())
    status, head, _ = raw(httpd, f"/analytics/{ID1}/wt?{query(marker())}")
    assert status == 200
    assert_guarded(head, "relayed GIF")
    status, head, _ = raw(httpd, "/analytics/999/wt?p=1")
    assert status == 404
    assert_guarded(head, "404 refusal")
    status, head, _ = raw(httpd, f"/analytics/{ID1}/wt/../x?p=1")
    assert status == 400
    assert_guarded(head, "400 refusal")
    status, head, _ = raw(httpd, f"/analytics/{ID1}/wt?p=1", method="PUT", body=b"x")
    assert status == 405
    assert_guarded(head, "405")
    status, head, _ = raw(httpd, f"/analytics/{ID1}/batch", method="POST", body=b"wt?p=1\n" * 6)
    assert status == 413
    assert_guarded(head, "413")
    track_server.down()
    status, head, _ = raw(httpd, f"/analytics/{ID1}/wt?{query(marker())}")
    assert status == 200
    assert_guarded(head, "fallback GIF")


# -- sync mode cookies --------------------------------------------------------------------------------

SYNC = f"""MappTrack On
MappTrackId {ID1}
MappTrackDomain @TRACK@
MappTrackBatchSize 1
MappTrackMode sync
MappTrackTimeout {LIVE_TIMEOUT_MS}
"""


def test_sync_mode_relays_only_clean_mapp_cookies(httpd, track_server):
    httpd.start(SYNC)
    track_server.answer_headers([
        ("Set-Cookie", "sessionid=attacker; Path=/"),
        ("Set-Cookie", "wtbad=a\rb; Path=/"),
        ("Set-Cookie", f"wteid_{ID1}=4173283840012345678; Path=/x; Max-Age=100"),
    ])
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers={"Cookie": f"wteid_{ID1}={EID}"})
    assert r.status == 200 and b"<title>page</title>" in r.body, r
    names = [parse_set_cookie(c)[0] for c in r.set_cookies]
    assert names == [f"wteid_{ID1}"], r.set_cookies
    assert parse_set_cookie(r.set_cookies[0])[2] == {"path": "/", "max-age": "100"}
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "sent", entry


# -- a hanging track server cannot take the site down ------------------------------------------------

def test_waiting_workers_are_limited_and_the_rest_queued(httpd, track_server):
    expect_failures(httpd)
    httpd.expect_messages("MT0106", required=True)
    httpd.expect_messages("MT0110", "MT0111")
    httpd.start("MappTrackMaxWaitingWorkers 2\n" + relay_conf(timeout=2500))
    track_server.delay(3)
    markers = [marker() for _ in range(10)]

    def pixel(m):
        return httpd.get(f"/analytics/{ID1}/wt?{query(m)}", headers={"User-Agent": AGENT}, timeout=20)

    with concurrent.futures.ThreadPoolExecutor(len(markers)) as pool:
        futures = [pool.submit(pixel, m) for m in markers]
        wait_for(lambda: len([r for r in track_server.requests() if relayed_live(r)]) >= 2, 10,
                 "two workers wait on the track server")
        page = httpd.get("/page.html")  # a static page while two workers wait
        results = [f.result() for f in futures]
    assert page.status == 200 and page.elapsed < 2.0, page
    for r in results:
        assert_gif(r)
    quick = [r for r in results if r.elapsed < 2.0]
    assert len(quick) >= 8, [round(r.elapsed, 2) for r in results]
    live = [r for r in track_server.requests() if relayed_live(r)]
    assert len(live) == 2, f"more than 2 workers waited on the track server: {live}"
    httpd.wait_log(r"MT0106: 2 workers already wait on the track server \(MappTrackMaxWaitingWorkers\)")
    for m in markers:
        (entry,) = httpd.wait_access(m)
        assert entry.mapptrack == "queued", entry
    # The track server catches up and answers what it holds: every hit arrives, and
    # none more than twice (a timed-out copy the server still counted, then the last).
    track_server.delay(0)
    for m in markers:
        wait_received(track_server, m, timeout=30, predicate=lambda r: r.outcome == 200)
    settle()
    assert len([r for r in track_server.requests() if relayed_live(r)]) == 2
    for m in markers:
        assert 1 <= len(received(track_server, m)) <= 2, received(track_server, m)


def test_no_waiting_worker_allowed_answers_at_once(httpd, track_server):
    """MappTrackMaxWaitingWorkers 0: the relay and sync mode never wait; hits are queued."""
    httpd.expect_messages("MT0106", required=True)
    httpd.start("MappTrackMaxWaitingWorkers 0\n" + relay_conf(ids=ID1) + """
<Location /synced>
    MappTrack On
    MappTrackId {ID1}
    MappTrackDomain @TRACK@
    MappTrackMode sync
</Location>
""".replace("{ID1}", ID1))
    httpd.write_doc("synced/page.html", "<html><head><title>synced</title></head><body></body></html>\n")
    m, m2 = marker(), marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m)}"))
    r = httpd.get(f"/synced/page.html?m={m2}")
    assert r.status == 200, r
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "queued", entry
    (entry,) = httpd.wait_access(m2)
    assert entry.mapptrack == "queued", entry
    httpd.wait_log(r"MT0106: 0 workers already wait on the track server")
    wait_received(track_server, m, timeout=20, predicate=delivered_late)
    track_server.wait_marker(m2, timeout=20)
    assert [r for r in track_server.requests() if relayed_live(r)] == []
