"""Lifecycle: restarts and stops under load lose no hit and crash nothing (docs/design.md §2, docs/delivery.md)."""

import os
import time

import pytest

from support import Load, hits_by_marker, marker, tracking

CONF = tracking(batch=20, delay=100)


def assert_all_delivered(track_server, markers, timeout=10):
    deadline = time.time() + timeout
    while True:
        got = hits_by_marker(track_server.hits())
        missing = [m for m in markers if m not in got]
        if not missing:
            return
        if time.time() > deadline:
            pytest.fail(f"{len(missing)} of {len(markers)} pages answered 200 have no hit "
                        f"after {timeout}s, e.g. {missing[:5]}")
        time.sleep(0.1)


@pytest.mark.heavy
def test_graceful_restart_twice_under_load(httpd, track_server):
    httpd.start(CONF)
    with Load(httpd, clients=2) as load:
        load.wait_for(20)
        httpd.graceful()
        load.wait_for(len(load.ok) + 20)
        httpd.graceful()
        load.wait_for(len(load.ok) + 20)
    assert httpd.running
    assert_all_delivered(track_server, list(load.ok))


@pytest.mark.heavy
def test_graceful_stop_under_load(httpd, track_server):
    httpd.start(CONF)
    with Load(httpd, clients=2) as load:
        load.wait_for(30)
        t0 = time.time()
        httpd.graceful_stop()
        took = time.time() - t0
    assert not httpd.running
    assert took < 15, f"graceful stop took {took:.1f}s"
    assert_all_delivered(track_server, list(load.ok))


@pytest.mark.heavy
def test_hard_stop_under_load(httpd, track_server):
    if httpd.mpm == "event" and os.environ.get("MAPPTRACK_SANITIZE") == "1":
        # httpd's event MPM can crash in its own SIGTERM path (harness.httpd_event_stop_race).
        # The harness tells that crash from ours by the core's backtrace, but under ASan
        # httpd's SIGSEGV handler replaces ASan's and no core is written: nothing to tell
        # them apart by. The release build runs this test under every MPM.
        pytest.skip("event MPM SIGTERM race cannot be told apart from a module crash under ASan")
    httpd.start(CONF)
    with Load(httpd, clients=2) as load:
        load.wait_for(30)
        took = httpd.stop(timeout=15)
    assert not httpd.running
    assert took < 15


@pytest.mark.heavy
def test_restart_under_load(httpd, track_server):
    httpd.start(CONF)
    with Load(httpd, clients=2) as load:
        load.wait_for(20)
        httpd.restart()
        load.wait_for(len(load.ok) + 20)
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    track_server.wait_marker(m)


def test_stop_while_track_server_is_down_is_bounded(httpd, track_server):
    """Draining at shutdown must respect its deadline when delivery cannot work."""
    # Delivery failed (the hits go to the spool); at the stop, hits not delivered
    # within the deadline are spooled, and threads still in a transfer left behind.
    httpd.expect_messages("MT0101", "MT0202", "MT0203")
    httpd.start(CONF)
    track_server.down()
    for _ in range(30):
        assert httpd.get(f"/page.html?m={marker()}").status == 200
    took = httpd.stop(timeout=15)
    assert took < 12, f"stop took {took:.1f}s with the track server down"
