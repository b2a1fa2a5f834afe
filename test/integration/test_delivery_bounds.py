"""Delivery stays within its stated bounds in real configurations:
a slow track server gets a hit at most twice, one site's batching never delays
another's, and MappTrackQueueSize is the child's total over all its threads."""

import time

import pytest

from support import ID1, KeepAlive, marker, settle, tracking


def test_a_track_server_that_never_answers_in_time_gets_a_hit_twice_at_most(httpd, track_server):
    """It answers after 1.5 s, MappTrackTimeout is 300 ms: the first attempt times out
    (the server has the hit), the second waits 600 ms and times out too; then the hit
    is not sent again (MT0111), however many retries are allowed."""
    httpd.expect_messages("MT0111", required=True)
    track_server.delay(1.5)
    httpd.start(tracking() + "MappTrackTimeout 300\nMappTrackRetries 20\n")
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    track_server.wait_marker(m, n=2, timeout=15)
    httpd.wait_log(r"MT0111: 1 hit\(s\) for http://127\.0\.0\.1:\d+/" + ID1 + " are not sent again",
                   timeout=15)
    settle(2.0)
    assert len(track_server.hits_for(m)) == 2, track_server.requests()
    assert [e.mapptrack for e in httpd.access_entries(m)] == ["queued"]


@pytest.mark.serial
def test_a_slow_track_server_counts_each_page_view_at_most_twice(httpd, track_server):
    """It answers after 450 ms, MappTrackTimeout is 300 ms: the first hit arrives twice
    (a timed-out attempt, then one that waits 600 ms), and the page views after it
    once each, because the longer wait stays while the server stays slow."""
    track_server.delay(0.45)
    httpd.start(tracking() + "MappTrackTimeout 300\nMappTrackRetries 20\nMappTrackThreads 1\n")
    client = KeepAlive(httpd)
    try:
        first = marker()
        assert client.get(f"/page.html?m={first}") == 200
        track_server.wait_marker(first, n=2, timeout=15)
        later = [marker() for _ in range(5)]
        for m in later:
            assert client.get(f"/page.html?m={m}") == 200
    finally:
        client.close()
    for m in later:
        track_server.wait_marker(m, timeout=15)
    settle(2.0)
    counts = {m: len(track_server.hits_for(m)) for m in [first] + later}
    assert counts == {first: 2, **{m: 1 for m in later}}, counts


def test_one_sites_batch_delay_does_not_hold_up_another_site(httpd, track_server):
    """Same delivery thread, same track server and ID: a.test batches for 5 s,
    b.test sends each hit at once; b's hit arrives long before a's batch."""
    httpd.start(f"""
MappTrackThreads 1
MaxKeepAliveRequests 0
<VirtualHost *:@PORT@>
    ServerName a.test
    MappTrack On
    MappTrackId {ID1}
    MappTrackDomain @TRACK@
    MappTrackBatchSize 50
    MappTrackBatchDelay 5000
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName b.test
    MappTrack On
    MappTrackId {ID1}
    MappTrackDomain @TRACK@
    MappTrackBatchSize 1
</VirtualHost>
""")
    client = KeepAlive(httpd)
    ma, mb = marker(), marker()
    try:
        sent = time.time()
        assert client.get(f"/page.html?m={ma}", {"Host": "a.test"}) == 200
        assert client.get(f"/page.html?m={mb}", {"Host": "b.test"}) == 200
        track_server.wait_marker(mb, timeout=10)
        b_after = time.time() - sent
        assert not track_server.hits_for(ma), "a.test's batch left before its delay"
        track_server.wait_marker(ma, timeout=15)
        a_after = time.time() - sent
    finally:
        client.close()
    assert b_after < 2.5, f"b.test's hit waited {b_after:.1f}s behind a.test's batch"
    assert a_after >= 4.0, f"a.test's batch left after {a_after:.1f}s, before its 5 s delay"


def test_queue_size_is_the_childs_total_for_one_visitor_too(httpd, track_server):
    """MappTrackQueueSize 4 with 2 threads and no spool: while the track server
    holds a hit, one visitor can queue 4 more (not 2 or 3), the next is refused,
    and MT0201 names the real size."""
    httpd.expect_messages("MT0201", required=True)
    track_server.delay(3.0)
    httpd.start(tracking() + "MappTrackQueueSize 4\nMappTrackThreads 2\nMappTrackSpoolMaxSize 0\n"
                "MappTrackTimeout 10000\nMaxKeepAliveRequests 0\n")
    cookie = {"Cookie": f"wteid_{ID1}=4000000000000000007"}
    client = KeepAlive(httpd)
    ms = [marker() for _ in range(6)]
    try:
        assert client.get(f"/page.html?m={ms[0]}", cookie) == 200
        track_server.wait_marker(ms[0], timeout=10)  # a thread holds it now
        for m in ms[1:]:
            assert client.get(f"/page.html?m={m}", cookie) == 200
    finally:
        client.close()
    outcomes = [httpd.wait_access(m)[0].mapptrack for m in ms]
    assert outcomes == ["queued"] * 5 + ["skipped:queue-full"], outcomes
    httpd.wait_log(r"MT0201: delivery queue full \(4 hits\)")
    track_server.delay(0)
    for m in ms[1:5]:
        track_server.wait_marker(m, timeout=15)
    settle()
    assert not track_server.hits_for(ms[5])
    # In order, one visitor's hits through one thread.
    got = [h.get("X-WT-RQ") for h in track_server.hits()]
    order = [next(i for i, m in enumerate(ms) if m in rq) for rq in got]
    assert order == sorted(order), order


def test_a_full_queue_spills_into_the_spool_and_says_so(httpd, track_server):
    """With the spool on, a full queue costs nothing: the hits go to disk, MT0209 says
    so once, and every hit arrives when the track server catches up."""
    httpd.expect_messages("MT0209", required=True)
    track_server.delay(2.0)
    httpd.start(tracking() + "MappTrackQueueSize 2\nMappTrackThreads 1\nMappTrackTimeout 10000\n"
                "MaxKeepAliveRequests 0\n")
    client = KeepAlive(httpd)
    ms = [marker() for _ in range(8)]
    try:
        assert client.get(f"/page.html?m={ms[0]}") == 200
        track_server.wait_marker(ms[0], timeout=10)
        for m in ms[1:]:
            assert client.get(f"/page.html?m={m}") == 200
    finally:
        client.close()
    assert [httpd.wait_access(m)[0].mapptrack for m in ms] == ["queued"] * 8
    httpd.wait_log(r"MT0209: delivery queue full \(2 hits\): new hits go to the spool in ")
    track_server.delay(0)
    for m in ms:
        track_server.wait_marker(m, timeout=20)
    settle()
    assert {m: len(track_server.hits_for(m)) for m in ms} == {m: 1 for m in ms}
    assert httpd.error_log().count("MT0209: ") == 1
