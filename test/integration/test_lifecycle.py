"""Lifecycle: restarts and stops under load lose no hit and crash nothing (docs/design.md §2, docs/delivery.md)."""

import os
import threading
import time

import pytest

from support import hits_by_marker, marker, tracking

CONF = tracking(batch=20, delay=100)


class Load:
    """Background clients requesting tracked pages until stopped."""

    def __init__(self, httpd, clients=2):
        self.httpd = httpd
        self.ok = []       # markers answered 200
        self.errors = []   # (marker, exception or status)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self):
        while not self._stop.is_set():
            m = marker()
            try:
                r = self.httpd.get(f"/page.html?m={m}", timeout=15)
                (self.ok if r.status == 200 else self.errors).append(
                    m if r.status == 200 else (m, r.status))
            except Exception as e:  # connection refused once apache stops listening
                self.errors.append((m, repr(e)))
                if not self.httpd.running:
                    return
                time.sleep(0.01)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def wait_for(self, n, timeout=20):
        deadline = time.time() + timeout
        while len(self.ok) < n and time.time() < deadline:
            time.sleep(0.02)
        assert len(self.ok) >= n, f"only {len(self.ok)} requests succeeded: {self.errors[:5]}"

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def __exit__(self, *exc):
        self.stop()


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


def test_graceful_restart_twice_under_load(httpd, track_server):
    httpd.start(CONF)
    with Load(httpd) as load:
        load.wait_for(20)
        httpd.graceful()
        load.wait_for(len(load.ok) + 20)
        httpd.graceful()
        load.wait_for(len(load.ok) + 20)
    assert httpd.running
    assert_all_delivered(track_server, list(load.ok))


def test_graceful_stop_under_load(httpd, track_server):
    httpd.start(CONF)
    with Load(httpd) as load:
        load.wait_for(30)
        t0 = time.time()
        httpd.graceful_stop()
        took = time.time() - t0
    assert not httpd.running
    assert took < 15, f"graceful stop took {took:.1f}s"
    assert_all_delivered(track_server, list(load.ok))


def test_hard_stop_under_load(httpd, track_server):
    if httpd.mpm == "event" and os.environ.get("MAPPTRACK_SANITIZE") == "1":
        # httpd's event MPM can crash in its own SIGTERM path (conftest.httpd_event_stop_race).
        # The harness tells that crash from ours by the core's backtrace, but under ASan
        # httpd's SIGSEGV handler replaces ASan's and no core is written: nothing to tell
        # them apart by. The release build runs this test under every MPM.
        pytest.skip("event MPM SIGTERM race cannot be told apart from a module crash under ASan")
    httpd.start(CONF)
    with Load(httpd) as load:
        load.wait_for(30)
        took = httpd.stop(timeout=15)
    assert not httpd.running
    assert took < 15


def test_restart_under_load(httpd, track_server):
    # The event MPM's own lingering close can race a hard restart's pollset teardown
    # (no module frame involved); it is httpd's, and harmless to tracking.
    httpd.expect_log(r"\[mpm_event:error\].*AH03092: process_lingering_close: apr_pollset_add failure")
    httpd.start(CONF)
    with Load(httpd) as load:
        load.wait_for(20)
        httpd.restart()
        load.wait_for(len(load.ok) + 20)
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    track_server.wait_marker(m)


def test_stop_while_track_server_is_down_is_bounded(httpd, track_server):
    """Draining at shutdown must respect its deadline when delivery cannot work."""
    httpd.expect_log(r"\[mapptrack:(notice|warn|error)\]")  # TODO: exact MT ids
    httpd.start(CONF)
    track_server.down()
    for _ in range(30):
        assert httpd.get(f"/page.html?m={marker()}").status == 200
    took = httpd.stop(timeout=15)
    assert took < 12, f"stop took {took:.1f}s with the track server down"
