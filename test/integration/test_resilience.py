"""Resilience: a slow, failing or absent track server never slows pages (docs/delivery.md)."""

import time

import pytest

import mapphit
from support import hits_by_marker, marker, median, tracking

CONF = tracking() + """
MappTrackTimeout 2000
<Location /admin>
    MappTrack Off
</Location>
"""
FAULTS = ["delay", "down", "reset", "status503"]
# What each fault makes the module log: delivery failed (MT0101), works again
# (MT0102), hits not delivered by the stop (MT0202, MT0203); a track server that
# got a hit but did not answer in time (delay: past MappTrackTimeout; reset: after
# reading the request) may have counted it: twice so, it is not sent again (MT0111).
FAULT_IDS = {
    "delay": ("MT0101", "MT0102", "MT0111", "MT0202", "MT0203"),
    "down": ("MT0101", "MT0102", "MT0202", "MT0203"),
    "reset": ("MT0101", "MT0102", "MT0111", "MT0202", "MT0203"),
    "status503": ("MT0101", "MT0102", "MT0202", "MT0203"),
}


def inject(track_server, fault):
    if fault == "delay":
        track_server.delay(5)
    elif fault == "down":
        track_server.down()
    elif fault == "reset":
        track_server.reset()
    elif fault == "status503":
        track_server.status(503)


def recover(track_server):
    track_server.normal()
    track_server.up()


def measure(httpd, n=20):
    """Interleave n tracked and n untracked page requests; return (on, off, markers)."""
    on, off, markers = [], [], []
    for _ in range(n):
        m = marker()
        r = httpd.get(f"/page.html?m={m}")
        assert r.status == 200
        on.append(r.elapsed)
        markers.append(m)
        r = httpd.get(f"/admin/page.html?m={marker()}")
        assert r.status == 200
        off.append(r.elapsed)
    return on, off, markers


@pytest.mark.serial
@pytest.mark.parametrize("fault", FAULTS)
def test_page_latency_unaffected_by_track_server_faults(httpd, track_server, fault):
    httpd.expect_messages(*FAULT_IDS[fault])
    httpd.start(CONF)
    # warm up: children started, connections to the stub made
    m0 = marker()
    assert httpd.get(f"/page.html?m={m0}").status == 200
    track_server.wait_marker(m0)
    inject(track_server, fault)
    on, off, during = measure(httpd)
    med_on, med_off = median(on), median(off)
    assert med_on < 3 * med_off + 0.05, f"tracked median {med_on:.4f}s vs untracked {med_off:.4f}s"
    assert max(on) < 1.0, f"a tracked request took {max(on):.2f}s: {sorted(on)[-5:]}"
    recover(track_server)
    after = [marker() for _ in range(3)]
    for m in after:
        assert httpd.get(f"/page.html?m={m}").status == 200
    for m in after:
        hits = track_server.wait_marker(m, timeout=30)
        mapphit.assert_well_formed(hits[0], custom=[])


@pytest.mark.parametrize("fault", ["down", "status503"])
def test_hits_during_an_outage_are_delivered_after_recovery(httpd, track_server, fault):
    """Design §8: failed hits are retried or spooled and replayed once delivery works."""
    httpd.expect_messages(*FAULT_IDS[fault])
    httpd.start(CONF + "MappTrackRetries 3\n")
    inject(track_server, fault)
    during = [marker() for _ in range(5)]
    for m in during:
        assert httpd.get(f"/page.html?m={m}").status == 200
    # let the module fail at least once
    if fault == "status503":
        track_server.wait_hits(1, timeout=10)
    else:
        time.sleep(1.5)
    recover(track_server)
    track_server.wait_hits(len(during), timeout=40,
                           predicate=lambda h: any(m in h.get("X-WT-RQ", "") for m in during)
                           and h.request.outcome == 200)
    ok = hits_by_marker([h for h in track_server.hits() if h.request.outcome == 200])
    assert set(during) <= set(ok), f"lost: {set(during) - set(ok)}"


def test_client_error_is_not_retried(httpd, track_server):
    """Design §5: other 4xx are dropped (not retried, not spooled)."""
    httpd.expect_messages("MT0103")  # the track server refused the hit
    httpd.start(CONF)
    track_server.status(400)
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    track_server.wait_marker(m)
    time.sleep(3)
    assert len(track_server.hits_for(m)) == 1, "a hit answered 400 must not be retried"
