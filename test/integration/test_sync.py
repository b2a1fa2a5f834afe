"""Variant A: `MappTrackMode sync` sends a page's hit before the response headers
leave, bounded by MappTrackTimeout, and relays the track server's Set-Cookie
(docs/design.md §1, §4, §5). When the track server fails, the page is served anyway and
the hit is queued, not lost."""

import time

import pytest

import mapphit
from support import ID1, LIVE_TIMEOUT_MS, marker, parse_set_cookie, settle, tracking, wait_for

EID = "2170000000000000001"
TIMEOUT_MS = 500
SYNC = tracking() + f"""MappTrackMode sync
MappTrackTimeout {TIMEOUT_MS}
MappTrackRetries 8
<Location /admin>
    MappTrack Off
</Location>
"""
# The same for the tests of a healthy track server (the answer's cookies, the hit
# there before the page): a busy machine must not make them time out.
SYNC_LIVE = SYNC.replace(f"MappTrackTimeout {TIMEOUT_MS}\n", f"MappTrackTimeout {LIVE_TIMEOUT_MS}\n")
RETURNING = {"Cookie": f"wteid_{ID1}={EID}; PHPSESSID=secret-session"}
STUB_COOKIES = [
    f"wteid_{ID1}=4173283840012345678; Domain=.webtrekk.net; Path=/; Max-Age=15552000; Secure",
    f"wtsid_{ID1}=1; domain=webtrekk.net; Path=/",
]
# A failing track server: the synchronous attempt failed, the queued hit's delivery
# failed, works again.
FAILURE_IDS = ("MT0104", "MT0101", "MT0102")


def expect_failures(httpd):
    httpd.expect_messages(*FAILURE_IDS)


def accepted(track_server, m):
    """Hits for marker m that the stub answered with 200."""
    return [h for h in track_server.hits_for(m) if h.request.outcome == 200]


def wait_accepted(track_server, m, timeout=20.0):
    deadline = time.time() + timeout
    while True:
        got = accepted(track_server, m)
        if got or time.time() > deadline:
            assert got, f"no hit for {m} accepted within {timeout}s: {track_server.requests()[:8]}"
            return got
        time.sleep(0.05)


@pytest.mark.serial
def test_hit_is_sent_before_the_response(httpd, track_server):
    httpd.start(SYNC)
    track_server.answer_headers([("Set-Cookie", c) for c in STUB_COOKIES])
    track_server.delay(0.3)  # the page must wait for it
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers=RETURNING)
    assert r.status == 200 and b"<title>page</title>" in r.body, r
    # already there when the client has the response: no waiting here
    hits = track_server.hits_for(m)
    assert len(hits) == 1, f"the hit must have arrived before the response: {track_server.requests()}"
    (hit,) = hits
    assert hit.kind == "wt" and hit.method == "GET" and hit.request.path == f"/{ID1}/wt"
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.get("eid") == EID and not hit.has("one")
    assert hit.request.headers.get("Cookie") == f"wteid_{ID1}={EID}", "Mapp cookies only"
    assert r.elapsed >= 0.3, f"the response did not wait for the track server ({r.elapsed:.3f}s)"
    assert r.elapsed < TIMEOUT_MS / 1000 + 0.5
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "sent", entry
    settle()
    assert len(track_server.hits()) == 1, f"a sent hit must not be queued as well: {track_server.hits()}"


@pytest.mark.parametrize("cookie_domain", [None, "example.test"], ids=["removed", "rewritten"])
def test_track_server_cookies_are_relayed(httpd, track_server, cookie_domain):
    extra = f"MappTrackCookieDomain {cookie_domain}\n" if cookie_domain else ""
    httpd.start(SYNC_LIVE + extra)
    track_server.answer_headers([("Set-Cookie", c) for c in STUB_COOKIES])
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers=RETURNING)
    assert r.status == 200
    assert len(r.set_cookies) == len(STUB_COOKIES), r.set_cookies
    for got, sent in zip(r.set_cookies, STUB_COOKIES):
        name, value, attrs = parse_set_cookie(got)
        wname, wvalue, wattrs = parse_set_cookie(sent)
        assert (name, value) == (wname, wvalue), r.set_cookies
        wattrs.pop("domain")
        assert attrs.pop("domain", None) == cookie_domain, r.set_cookies
        wattrs.pop("secure", None)  # a plain-HTTP site: Secure dropped (test_relay_content.py)
        assert attrs == wattrs, r.set_cookies
    assert "webtrekk.net" not in " ".join(r.set_cookies)
    # an error page of the same server relays nothing and sends nothing
    m404 = marker()
    r = httpd.get(f"/missing.html?m={m404}", headers=RETURNING)
    assert r.status == 404 and r.set_cookies == [], r
    settle()
    assert track_server.hits_for(m404) == []


def test_new_visitor_in_sync_mode(httpd, track_server):
    """The generated ever-ID goes out with the hit and in the visitor's cookie."""
    httpd.start(SYNC_LIVE)
    m = marker()
    r = httpd.get(f"/page.html?m={m}")
    (hit,) = track_server.hits_for(m)
    cookies = [parse_set_cookie(c) for c in r.set_cookies]
    assert [(n, v) for n, v, _ in cookies] == [(f"wteid_{ID1}", hit.get("eid"))], r.set_cookies
    assert hit.get("one") == "1"


FAULTS = ["down", "status503"]


@pytest.mark.serial
def test_a_slow_track_server_gets_the_hit_twice_at_most(httpd, track_server):
    """It answers after 3 s, the page waits 500 ms: the page is not held, the
    synchronous attempt reached the server, so the queued copy is the hit's last
    (MT0111 when it times out too), and no third copy follows."""
    expect_failures(httpd)
    httpd.expect_messages("MT0111", required=True)
    httpd.start(SYNC)
    track_server.delay(3)
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers=RETURNING)
    assert r.status == 200 and b"<title>page</title>" in r.body, r
    assert r.elapsed < TIMEOUT_MS / 1000 + 1.0, f"the page took {r.elapsed:.2f}s"
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "queued", entry
    track_server.wait_marker(m, n=2, timeout=10)
    httpd.wait_log(r"MT0111: 1 hit\(s\) for ", timeout=10)
    track_server.delay(0)
    settle(2.0)
    assert len(track_server.hits_for(m)) == 2, track_server.hits_for(m)


@pytest.mark.serial
@pytest.mark.parametrize("fault", FAULTS)
def test_failing_track_server_does_not_hold_the_page(httpd, track_server, fault):
    expect_failures(httpd)
    httpd.start(SYNC)
    track_server.answer_headers([("Set-Cookie", STUB_COOKIES[0])])
    if fault == "down":
        track_server.down()
    else:
        track_server.status(503)
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers=RETURNING)
    assert r.status == 200 and b"<title>page</title>" in r.body, r
    assert r.elapsed < TIMEOUT_MS / 1000 + 1.0, f"the page took {r.elapsed:.2f}s"
    assert r.set_cookies == [], "no cookie from a track server that failed"
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "queued", entry
    assert accepted(track_server, m) == []
    if fault == "status503":  # the synchronous attempt, then the queued copy, failed
        wait_for(lambda: len(track_server.hits_for(m)) >= 2, 10, "the queued copy was tried")
    else:  # refused connections leave no trace: down for a while
        time.sleep(1.0)
    track_server.normal()
    track_server.up()
    (hit,) = wait_accepted(track_server, m)
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.get("eid") == EID
    settle()
    assert len(accepted(track_server, m)) == 1, f"delivered more than once: {track_server.hits_for(m)}"


@pytest.mark.serial
def test_error_pages_and_non_pages_are_not_held_up(httpd, track_server):
    httpd.start(SYNC)
    track_server.delay(3)
    fast = {  # path -> expected status
        "/missing.html": 404,
        "/style.css": 200,
        "/image.png": 200,
        "/script.js": 200,
        "/admin/page.html": 200,  # MappTrack Off there
    }
    markers = {}
    for path, status in fast.items():
        m = marker()
        markers[path] = m
        r = httpd.get(f"{path}?m={m}", headers=RETURNING)
        assert r.status == status, (path, r)
        assert r.elapsed < 0.25, f"{path} waited {r.elapsed:.2f}s for the track server"
    m_out = marker()
    r = httpd.get(f"/page.html?m={m_out}", headers={"Cookie": "webtrekkOptOut=1"})
    assert r.status == 200 and r.elapsed < 0.25, f"an opted-out visitor waited {r.elapsed:.2f}s"
    track_server.delay(0)
    settle()
    assert track_server.requests() == [], f"sent for a non-page: {track_server.requests()}"
    for path, m in markers.items():
        (entry,) = httpd.wait_access(m)
        assert entry.mapptrack.startswith("skipped") or entry.mapptrack == "", (path, entry)
