"""Self-tests of the harness: stub track server, hit parser, httpd fixture.

They need no module (run them with MAPPTRACK_NO_MODULE=1 while it is not built).
"""

import http.client
import os
import socket
import time

import pytest

import mapphit
from trackstub import GIF, TrackServer

GOOD = ("p=300,0,0,0,0,0,1764370000000,0&X-WT-UA=UA%20x&X-WT-IP=127.0.0.1"
        "&X-WT-RQ=http%3A%2F%2Fa.test%2Fp&eid=4176437000012345678&one=1&cp1=%2Fp&eor=1")


@pytest.fixture
def stub():
    ts = TrackServer()
    yield ts
    ts.close()


def send(ts, method, target, body=None, headers=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", ts.port, timeout=timeout)
    try:
        c.request(method, target, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        c.close()


def test_stub_records_a_get_hit_and_answers_the_gif(stub):
    status, ctype, body = send(stub, "GET", f"/{'1' * 15},{'2' * 15}/wt?{GOOD}")
    assert (status, ctype, body) == (200, "image/gif", GIF)
    (hit,) = stub.wait_hits(1, 2)
    assert hit.ids == "111111111111111,222222222222222"
    assert hit.method == "GET" and hit.kind == "wt"
    assert hit.p == ["300", "0", "0", "0", "0", "0", "1764370000000", "0"]
    assert hit.get("X-WT-UA") == "UA x"
    assert hit.get("X-WT-RQ") == "http://a.test/p"
    mapphit.assert_well_formed(hit, custom=["cp1"])


def test_stub_splits_a_batch_into_hits(stub):
    body = f"wt?{GOOD}\nwt?{GOOD.replace('cp1=%2Fp', 'cp1=%2Fq')}"
    status, _, _ = send(stub, "POST", "/prefix/111/batch", body=body,
                        headers={"Content-Type": "text/plain"})
    assert status == 200
    hits = stub.wait_hits(2, 2)
    assert [h.get("cp1") for h in hits] == ["/p", "/q"]
    assert all(h.kind == "batch" and h.ids == "111" for h in hits)
    assert hits[0].headers["Content-Type"] == "text/plain"


def test_p_fields_are_decoded_after_splitting(stub):
    send(stub, "GET", "/1/wt?p=300,a%2Cb,0,0,0,0,1764370000000,http%3A%2F%2Fr%2F%3Fx%3D1%2C2&eor=1")
    (hit,) = stub.wait_hits(1, 2)
    assert hit.p[1] == "a,b" and hit.p[7] == "http://r/?x=1,2" and len(hit.p) == 8


def test_stub_status_delay_reset_down_up(stub):
    stub.status(503)
    assert send(stub, "GET", "/1/wt?eor=1")[0] == 503
    stub.status(200)
    stub.delay(0.5)
    t0 = time.monotonic()
    assert send(stub, "GET", "/1/wt?eor=1")[0] == 200
    assert time.monotonic() - t0 >= 0.45
    stub.delay(0)
    stub.reset()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        send(stub, "GET", "/1/wt?eor=1")
    stub.reset(False)
    port = stub.port
    stub.down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    stub.up()
    assert stub.port == port
    assert send(stub, "GET", "/1/wt?eor=1")[0] == 200
    assert [r.outcome for r in stub.requests()] == [503, 200, "reset", 200]


def test_down_drops_kept_alive_connections(stub):
    c = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=3)
    c.request("GET", "/1/wt?eor=1")
    assert c.getresponse().read() == GIF
    stub.down()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        c.request("GET", "/1/wt?eor=1")
        c.getresponse().read()
    c.close()


@pytest.mark.parametrize("query, why", [
    (GOOD.replace("UA%20x", "UA x"), "raw space"),
    (GOOD.replace("&eor=1", "") + "&eor=1&cp2=x", "eor not last"),
    (GOOD.replace("cp1=", "zz="), "unknown name"),
    (GOOD.replace("p=300,0,0,0,0,0,", "p=300,0,0,0,0,"), "7 p fields"),
    (GOOD.replace("UA%20x", "UA%26x%3D1"), "ok: encoded ampersand"),
    (GOOD.replace("UA%20x", "UA&x=1"), "raw ampersand adds a parameter"),
    (GOOD.replace("UA%20x", "UA%FFx"), "invalid UTF-8"),
    (GOOD.replace("UA%20x", "UA%0Dx"), "control character"),
    (GOOD.replace("&one=1", "").replace("eid=4176437000012345678", "one=1&eid=4176437000012345678"),
     "one before eid"),
])
def test_well_formed_check_rejects_bad_hits(query, why):
    hit = mapphit.Hit("1", query)
    if why.startswith("ok"):
        mapphit.assert_well_formed(hit)
    else:
        with pytest.raises(AssertionError):
            mapphit.assert_well_formed(hit)


def test_httpd_harness_flags_unexpected_and_fatal_lines(httpd):
    httpd.start("<Location /denied>\n    Require all denied\n</Location>\n", with_module=False)
    assert httpd.get("/page.html").status == 200
    assert httpd.get("/denied").status == 403
    httpd.wait_log(r"AH01630")
    assert any("AH01630" in p for p in httpd.log_problems())
    httpd.expect_log(r"AH01630")
    assert httpd.log_problems() == []
    httpd.stop()
    httpd.hard_signal_sent = False  # a crash outside a hard stop: never excused
    with open(os.path.join(httpd.root, "logs", "error.log"), "a") as f:
        f.write("[x] [core:notice] [pid 1:tid 1] AH00052: child pid 9 exit signal "
                "Segmentation fault (11)\n")
    httpd.expect_log(r".*")
    assert any(p.startswith("FATAL") for p in httpd.log_problems())
    open(os.path.join(httpd.root, "logs", "error.log"), "w").close()


def test_httpd_harness_restarts_and_reports_configtest(httpd):
    ok, out = httpd.configtest("NoSuchDirective 1\n", with_module=False)
    assert not ok and "NoSuchDirective" in out
    httpd.start("", with_module=False)
    httpd.graceful()
    assert httpd.get("/").status == 200
    httpd.restart()
    r = httpd.get("/image.png")
    assert r.status == 200 and r.headers["content-type"] == "image/png"
    r = httpd.get("/page.shtml")
    assert b"<p>page</p>" in r.body
    httpd.graceful_stop()
    assert not httpd.running
