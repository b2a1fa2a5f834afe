"""Capture: which requests become hits, and what a hit carries (docs/design.md §7, §4)."""

import re
import time

import pytest

import mapphit
from support import ID1, ID2, ID3, hits_by_marker, marker, now_ms, settle, tracking

UA = "Mozilla/5.0 (X11; Linux x86_64) MappTrackTest/1.0"

TWO_VHOSTS = """
MappTrackBatchSize 1
MappTrackTimeout 3000
MappTrackThreads 3
MappTrackQueueSize 500
<VirtualHost *:@PORT@>
    ServerName a.test
    DocumentRoot "@DOCROOT@"
    MappTrack On
    MappTrackId @IDS_A@
    MappTrackDomain @TRACK@
    MappTrackContentId "%{REQUEST_URI}"
    MappTrackParam cp1 "%{REQUEST_URI}"
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName b.test
    DocumentRoot "@DOCROOT@"
    MappTrack On
    MappTrackId @IDS_B@
    MappTrackDomain @TRACK2@/prefix
    MappTrackPixelVersion 600
</VirtualHost>
"""


def check_ts(hit, t0, t1):
    ts = int(hit.p[6])
    assert t0 - 500 <= ts <= t1 + 500, f"p timestamp {ts} outside the request window {t0}..{t1}"


def test_two_vhosts_each_get_exactly_their_hits(httpd, track_server, track_server2):
    httpd.start(TWO_VHOSTS, subst={"IDS_A": f"{ID1},{ID2}", "IDS_B": ID3})
    ma, mb = marker(), marker()
    ref = "http://ref.example/from?x=1"
    t0 = now_ms()
    ra = httpd.get(f"/page.html?m={ma}", host=f"a.test:{httpd.port}",
                   headers={"User-Agent": UA, "Referer": ref})
    rb = httpd.get(f"/other.html?m={mb}&q=1", host=f"b.test:{httpd.port}",
                   headers={"User-Agent": UA + " b"})
    t1 = now_ms()
    assert ra.status == 200 and rb.status == 200
    (ha,) = track_server.wait_hits(1)
    (hb,) = track_server2.wait_hits(1)
    settle()
    assert track_server.hits() == [ha] and len(track_server.requests()) == 1
    assert track_server2.hits() == [hb] and len(track_server2.requests()) == 1

    # vhost a: two track IDs, content ID and custom parameter from expressions
    assert ha.method == "GET" and ha.request.path == f"/{ID1},{ID2}/wt"
    mapphit.assert_well_formed(ha, custom=["cp1"])
    assert ha.names() == ["p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eid", "one", "cp1", "eor"]
    assert ha.p[:6] == ["300", "/page.html", "0", "0", "0", "0"]
    check_ts(ha, t0, t1)
    assert ha.p[7] == ref
    assert ha.get("X-WT-UA") == UA
    assert ha.get("X-WT-IP") == "127.0.0.1"
    assert ha.get("X-WT-RQ") == f"http://a.test:{httpd.port}/page.html?m={ma}"
    assert re.fullmatch(r"[0-9]{19}", ha.get("eid"))
    assert ha.get("one") == "1"
    assert ha.get("cp1") == "/page.html"
    assert ha.get("eor") == "1"

    # vhost b: pixel version, the default page name (host + path), no referrer (0), domain with a path
    assert hb.request.path == f"/prefix/{ID3}/wt"
    mapphit.assert_well_formed(hb, custom=[])
    assert hb.names() == ["p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eid", "one", "eor"]
    assert hb.p[:6] == ["600", f"b.test:{httpd.port}/other.html", "0", "0", "0", "0"]
    assert hb.p[7] == "0"
    check_ts(hb, t0, t1)
    assert hb.get("X-WT-UA") == UA + " b"
    assert hb.get("X-WT-RQ") == f"http://b.test:{httpd.port}/other.html?m={mb}&q=1"
    assert hb.get("eid") != ha.get("eid")


def test_batched_delivery_posts_lines(httpd, track_server):
    httpd.start(f"""
MappTrack On
MappTrackId {ID1},{ID2}
MappTrackDomain @TRACK@
MappTrackBatchDelay 1000
""")
    markers = [marker() for _ in range(12)]
    for m in markers:
        assert httpd.get(f"/page.html?m={m}").status == 200
    hits = track_server.wait_hits(len(markers), timeout=10)
    settle()
    hits = track_server.hits()
    by = hits_by_marker(hits)
    assert sorted(k for k in by) == sorted(markers)
    assert all(len(v) == 1 for v in by.values()), by
    posts = track_server.requests()
    for req in posts:
        assert req.method == "POST" and req.path == f"/{ID1},{ID2}/batch", req
        assert req.headers.get("Content-Type", "").split(";")[0].strip() == "text/plain"
        lines = req.body.decode("ascii").split("\n")
        assert all(line.startswith("wt?") for line in lines), lines
    assert max(len(req.body.split(b"\n")) for req in posts) >= 2, "no batch carried two hits"
    for h in hits:
        mapphit.assert_well_formed(h, custom=[])


NOT_PAGES = """
MappTrackBatchSize 1
MappTrack On
MappTrackId 111111111111111
MappTrackDomain @TRACK@
RewriteEngine On
RewriteRule ^/old$ /page.html [PT]
<Directory "@DOCROOT@">
    RewriteEngine On
    RewriteRule ^old2$ page.html [L]
</Directory>
<Location /errdoc/>
    ErrorDocument 404 /page.html
</Location>
"""


def test_only_pages_are_tracked(httpd, track_server):
    httpd.start(NOT_PAGES)
    tracked, untracked = {}, {}

    def req(kind, method, path, expect_status):
        m = marker()
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}m={m}"
        if method == "GET":
            r = httpd.get(url)
        elif method == "HEAD":
            r = httpd.head(url)
        else:
            r = httpd.post(url, b"a=1")
        assert r.status == expect_status, (method, url, r)
        (tracked if kind else untracked)[m] = (method, path)
        return m

    m_page = req(True, "GET", "/page.html", 200)
    m_xhtml = req(True, "GET", "/page.xhtml", 200)
    m_shtml = req(True, "GET", "/page.shtml", 200)
    m_index = req(True, "GET", "/", 200)
    m_dir = req(True, "GET", "/dir/", 200)
    m_old = req(True, "GET", "/old", 200)
    m_old2 = req(True, "GET", "/old2", 200)
    req(False, "GET", "/style.css", 200)
    req(False, "GET", "/image.png", 200)
    req(False, "GET", "/script.js", 200)
    req(False, "GET", "/data.txt", 200)
    req(False, "GET", "/missing.html", 404)
    req(False, "GET", "/errdoc/missing.html", 404)
    req(False, "POST", "/page.html", 200)
    req(False, "HEAD", "/page.html", 200)
    req(False, "HEAD", "/", 200)
    track_server.wait_hits(len(tracked), timeout=10)
    settle()
    by = hits_by_marker(track_server.hits())
    assert None not in by, f"hits without a marker: {by.get(None)}"
    extra = {m: untracked[m] for m in by if m in untracked}
    assert not extra, f"non-pages were tracked: {extra}"
    counts = {tracked[m]: len(by.get(m, [])) for m in tracked}
    assert all(c == 1 for c in counts.values()), f"pages must give exactly one hit: {counts}"
    port = httpd.port
    rq = {m: by[m][0].get("X-WT-RQ") for m in tracked}
    # the URL as the visitor asked for it, not the sub-request or redirect target
    assert rq[m_shtml] == f"http://127.0.0.1:{port}/page.shtml?m={m_shtml}"
    assert rq[m_index] == f"http://127.0.0.1:{port}/?m={m_index}"
    assert rq[m_dir] == f"http://127.0.0.1:{port}/dir/?m={m_dir}"
    assert rq[m_old] == f"http://127.0.0.1:{port}/old?m={m_old}"
    assert rq[m_old2] == f"http://127.0.0.1:{port}/old2?m={m_old2}"
    assert rq[m_page] == f"http://127.0.0.1:{port}/page.html?m={m_page}"
    assert rq[m_xhtml] == f"http://127.0.0.1:{port}/page.xhtml?m={m_xhtml}"
    for hits in by.values():
        mapphit.assert_well_formed(hits[0], custom=[])


def test_mapptrack_off_in_a_location(httpd, track_server):
    httpd.start(tracking() + """
<Location /admin>
    MappTrack Off
</Location>
""")
    m_on, m_off, m_off2 = marker(), marker(), marker()
    assert httpd.get(f"/admin/page.html?m={m_off}").status == 200
    assert httpd.get(f"/admin/?m={m_off2}").status == 200
    assert httpd.get(f"/page.html?m={m_on}").status == 200
    track_server.wait_marker(m_on)
    settle()
    assert set(hits_by_marker(track_server.hits())) == {m_on}


def test_condition_replaces_the_page_rule(httpd, track_server):
    httpd.write_doc("special/data.css", "a { }\n")
    httpd.start(tracking() + 'MappTrackCondition "%{REQUEST_URI} =~ m#^/special#"\n')
    m_special, m_css, m_page = marker(), marker(), marker()
    assert httpd.get(f"/special/page.html?m={m_special}").status == 200
    assert httpd.get(f"/special/data.css?m={m_css}").status == 200
    assert httpd.get(f"/page.html?m={m_page}").status == 200
    track_server.wait_hits(2, predicate=lambda h: "/special/" in h.get("X-WT-RQ", ""))
    settle()
    by = hits_by_marker(track_server.hits())
    assert set(by) == {m_special, m_css}, "MappTrackCondition must replace the built-in rule"
    assert all(len(v) == 1 for v in by.values())


def test_env_vars_for_the_access_log(httpd, track_server):
    httpd.start(tracking())
    m_page, m_css = marker(), marker()
    assert httpd.get(f"/page.html?m={m_page}").status == 200
    assert httpd.get(f"/style.css?m={m_css}").status == 200
    (hit,) = track_server.wait_marker(m_page)
    (page,) = httpd.wait_access(m_page)
    (css,) = httpd.wait_access(m_css)
    assert page.mapptrack == "queued", page
    assert page.eid == hit.get("eid"), page
    assert css.mapptrack.startswith("skipped:"), css


@pytest.mark.serial
def test_hits_arrive_promptly_in_async_mode(httpd, track_server):
    """Batch size 1: a hit leaves at once, not after a batch delay or a timeout."""
    httpd.start(tracking())
    m = marker()
    t0 = time.time()
    assert httpd.get(f"/page.html?m={m}").status == 200
    (hit,) = track_server.wait_marker(m, timeout=5)
    assert hit.time - t0 < 1.0, f"hit took {hit.time - t0:.2f}s to arrive"
