"""Delivery isolation: a failing or unreachable endpoint, or one hit
that cannot be sent, never stops or delays delivery to the others, across
restarts.

The attacks of the review, as an attacker (a visitor, a tenant) would send them:
- a relayed line libcurl cannot turn into a URL, sent while the track server fails;
- a tenant's .htaccess naming an allowed track domain that cannot be reached;
- a track server for one site that hangs.
The safe outcome: every hit of the healthy endpoints arrives, also after a restart.
"""

import pytest

from support import ID1, ID4, LIVE_TIMEOUT_MS, KeepAlive, delivered, marker, settle, tracking, wait_delivered

# Messages a failing endpoint makes the module log (rate-limited).
FAILURE_IDS = ("MT0101", "MT0102", "MT0105", "MT0107", "MT0109", "MT0110", "MT0117", "MT0301")

TENANT = """
<Directory "@DOCROOT@/tenant">
    AllowOverride FileInfo
</Directory>
MappTrackAllowDomain 127.0.0.1:*
"""

RELAY = """
<Location /analytics>
    SetHandler mapptrack-proxy
</Location>
"""


def closed_port_url():
    """A loopback URL nothing listens on (connections are refused at once)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def pages(httpd, n, prefix=""):
    ms = [marker() for _ in range(n)]
    for m in ms:
        assert httpd.get(f"{prefix}/page.html?m={m}").status == 200
    return ms


def test_poison_line_and_unreachable_tenant_never_stop_delivery(httpd, track_server):
    """The review's attack 1: while the track server fails, a relayed line with a
    space (and other hostile lines) arrives, and a tenant points its .htaccess at
    an allowed domain that cannot be reached. After recovery every page hit of
    the healthy site arrives, and again after a restart."""
    httpd.expect_messages(*FAILURE_IDS)
    dead = closed_port_url()
    httpd.write_doc("tenant/.htaccess", f"MappTrack On\nMappTrackId {ID4}\nMappTrackDomain {dead}\n")
    httpd.start(tracking(ids=ID1, batch=1) + f"MappTrackTimeout {LIVE_TIMEOUT_MS}\nMappTrackRetries 1\n"
                + TENANT + RELAY)
    track_server.down()
    # Poison and hostile relayed input while the track server is down.
    poison = [f"/analytics/{ID1}/wt?p=300,a%20b&eor=1",
              "/analytics?p=300,x&eor=1",
              ]
    for target in poison:
        httpd.get(target)
    httpd.post(f"/analytics/{ID1}/batch",
               body=b"wt?p=300,a b&eor=1\n../../../private/admin?cmd=1\nwt?p=300,ok&eor=1\n",
               headers={"Content-Type": "text/plain"})
    before = pages(httpd, 10)
    tenant_pages = pages(httpd, 5, "/tenant")
    track_server.up()
    after = pages(httpd, 40)
    more_tenant = pages(httpd, 5, "/tenant")
    got, took = wait_delivered(track_server, before + after, timeout=40)
    missing = [m for m in before + after if m not in got]
    assert not missing, f"{len(missing)} of {len(before + after)} healthy hits missing, e.g. {missing[:3]}"
    # The tenant's hits never reached the healthy track server (they fail on their own).
    assert not any(m in got for m in tenant_pages + more_tenant)
    # No request ever left the configured paths on the track server.
    for r in track_server.requests():
        assert r.path in (f"/{ID1}/wt", f"/{ID1}/batch"), r
    httpd.restart()
    last = pages(httpd, 10)
    got, _ = wait_delivered(track_server, last, timeout=20)
    assert all(m in got for m in last), "after a restart delivery still works"
    settle()
    dups = {m: n for m, n in delivered(track_server).items() if n > 1 and m in set(before + after + last)}
    assert not dups, f"duplicated hits: {dups}"


@pytest.mark.serial  # counts the attempts at A while B's hits go: a busy machine makes more
def test_a_hanging_track_server_for_one_site_does_not_delay_another(httpd, track_server, track_server2):
    """Site A's track server hangs; site B's hits go out at once on the same
    delivery thread (MappTrackThreads 1), while A's wait for their turn."""
    httpd.expect_messages(*FAILURE_IDS)
    track_server.delay(30)  # hangs: every attempt times out
    httpd.start(f"""
MappTrackThreads 1
MappTrackTimeout 1500
MappTrackBatchSize 1
MappTrack On
MappTrackId {ID1}
MappTrackDomain @TRACK@
<Location /b>
    MappTrackDomain @TRACK2@
</Location>
""")
    httpd.write_doc("b/page.html", "<html><body>b</body></html>\n")
    a_hits, b_hits = [], []
    for i in range(20):
        a_hits += pages(httpd, 1)
        b_hits += pages(httpd, 1, "/b")
    got, took = wait_delivered(track_server2, b_hits, timeout=15)
    assert all(m in got for m in b_hits), f"B's hits held up: {len(got)} of {len(b_hits)}"
    # A's track server saw only a few attempts meanwhile (its hits wait, not 20 timeouts in a row).
    attempts = len(track_server.requests())
    print(f"\n[{httpd.mpm}] B delivered {len(b_hits)} hits in {took:.1f}s while A hung "
          f"({attempts} attempts at A)")
    assert attempts <= 6, attempts
    track_server.delay(0)
    got, _ = wait_delivered(track_server, a_hits, timeout=40)
    assert all(m in got for m in a_hits), "A's hits arrive once its track server answers"


def test_a_refused_hit_does_not_cost_the_other_hits_of_its_batch(httpd, track_server):
    """The track server refuses one hit of a batch (400 when the body holds it):
    the batch is split, the others are delivered, the bad one is dropped."""
    httpd.expect_messages("MT0103")
    httpd.start(tracking(ids=ID1, batch=10, delay=1000) + "MappTrackThreads 1\n")
    client = KeepAlive(httpd)  # one child: the one whose endpoint has delivered
    try:
        first = marker()
        assert client.get(f"/page.html?m={first}") == 200
        wait_delivered(track_server, [first], timeout=10)
        bad = marker()
        track_server.refuse_body_containing(bad.encode(), 400)
        ms = [marker() for _ in range(8)]
        for m in ms[:4] + [bad] + ms[4:]:
            assert client.get(f"/page.html?m={m}") == 200
    finally:
        client.close()
    got, _ = wait_delivered(track_server, ms, timeout=15)
    assert all(m in got for m in ms), f"good hits lost with the refused one: {[m for m in ms if m not in got]}"
    assert bad not in got
