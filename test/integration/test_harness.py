"""Self-tests of the harness: stub track server, hit parser, httpd fixture.

They need no module (run them with MAPPTRACK_NO_MODULE=1 while it is not built).
"""

import http.client
import os
import socket
import subprocess
import sys
import time

import pytest

import mapphit
from harness import HERE, free_port, judge_log, message_id, release_port
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
    httpd.expect_messages("AH01630")
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


# -- the error-log rules ---------------------------------------------------------------

STAMP = "[Thu Nov 28 12:00:00.123456 2024]"
DELIVERY = f"{STAMP} [mapptrack:error] [pid 7:tid 8] MT0101: delivery to http://x/1 failed after 3 attempt(s)"
TRAIL = f"{STAMP} [mapptrack:debug] [pid 7:tid 8] dispatcher.cpp(259): MT0113: sent http://x/1/wt?p=1"
RELAYED = f"{STAMP} [mapptrack:warn] [pid 7:tid 8] [client 127.0.0.1:5000] MT0105: relay to x failed"
DENIED = f"{STAMP} [authz_core:error] [pid 7:tid 8] [client 127.0.0.1:5000] AH01630: client denied"
CRASH = f"{STAMP} [core:notice] [pid 7] AH00052: child pid 9 exit signal Segmentation fault (11)"


def test_a_line_is_known_by_its_message_id():
    assert [message_id(x) for x in (DELIVERY, TRAIL, RELAYED, DENIED, CRASH)] == \
        ["MT0101", "MT0113", "MT0105", "AH01630", "AH00052"]
    # the module's line is known by its own ID, not by one it quotes
    assert message_id(f"{STAMP} [mapptrack:error] [pid 7] MT0405: x keeps no hits (MT0401)") == "MT0405"
    assert message_id(f"{STAMP} [mapptrack:warn] [pid 7] no ID here") is None


def test_module_lines_are_expected_by_id_and_by_nothing_else():
    assert judge_log(DELIVERY, expected_ids={"MT0101"}) == ([], [], [])
    assert judge_log(DELIVERY, expected_ids={"MT0102"}) == ([], [DELIVERY], [])
    # no regex hides a module line, however wide
    assert judge_log(DELIVERY, expected_regexes=[r".*", r"MT0101"]) == ([], [DELIVERY], [])
    # a module line without an ID is never expected
    bare = f"{STAMP} [mapptrack:warn] [pid 7] something without an ID"
    assert judge_log(bare, expected_ids={"MT0101"}, expected_regexes=[r".*"]) == ([], [bare], [])
    assert judge_log("\n".join([TRAIL, RELAYED]), expected_ids={"MT0113", "MT0105"}) == ([], [], [])


def test_httpd_lines_are_expected_by_ah_id_or_regex():
    assert judge_log(DENIED) == ([], [DENIED], [])
    assert judge_log(DENIED, expected_ids={"AH01630"}) == ([], [], [])
    assert judge_log(DENIED, expected_regexes=[r"client denied"]) == ([], [], [])


def test_required_messages_must_appear():
    assert judge_log(DENIED, {"AH01630", "MT0101"}, required_ids={"MT0101"}) == \
        ([], [], ["(missing expected message MT0101)"])
    assert judge_log(DELIVERY, {"MT0101"}, required_ids={"MT0101"}) == ([], [], [])
    # quoting an ID is not logging it
    quoted = f"{STAMP} [mapptrack:error] [pid 7] MT0405: x keeps no hits (MT0401)"
    assert judge_log(quoted, {"MT0405"}, required_ids={"MT0401"})[2] == ["(missing expected message MT0401)"]


def test_crashes_and_sanitizer_lines_fail_whatever_was_expected():
    fatal, unexpected, _ = judge_log(CRASH, expected_ids={"AH00052"}, expected_regexes=[r".*"])
    assert fatal == ["FATAL: " + CRASH] and unexpected == []
    asan = f"{STAMP} [mapptrack:error] [pid 7] MT0101: ==7==ERROR: AddressSanitizer: heap-use-after-free"
    assert judge_log(asan, expected_ids={"MT0101"})[0] == ["FATAL: " + asan]


def test_expect_messages_takes_only_documented_ids(httpd):
    for bad in ("MT9999", "0101", "mt0101", "AH1630", "MT0101: "):
        with pytest.raises(ValueError):
            httpd.expect_messages(bad)
    for regex in (r"MT0101: delivery", r"\[mapptrack:warn\]", r"AH01630"):
        with pytest.raises(ValueError):
            httpd.expect_log(regex)
    httpd.expect_messages("MT0101", "AH01630")
    httpd.expect_messages("MT0102", required=True)
    assert httpd.expected_ids == {"MT0101", "MT0102", "AH01630"} and httpd.required_ids == {"MT0102"}


def test_a_sanitizer_report_fails_the_test(httpd):
    with open(os.path.join(httpd.root, "asan.4711"), "w") as f:
        f.write("==4711==ERROR: AddressSanitizer: heap-buffer-overflow\n")
    problems = httpd.log_problems()
    assert len(problems) == 1 and "heap-buffer-overflow" in problems[0], problems
    os.unlink(os.path.join(httpd.root, "asan.4711"))
    assert httpd.log_problems() == []


def test_free_ports_are_distinct_and_bindable():
    ports = [free_port() for _ in range(50)]
    try:
        assert len(set(ports)) == 50
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
        if low > 21000:
            assert all(p < low for p in ports), "a port in the ephemeral range"
        for p in ports[:5]:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))
    finally:
        for p in ports:
            release_port(p)


def test_a_port_held_here_is_not_handed_out_to_another_process():
    port = free_port()
    probe = f"import sys, harness; fd = harness._lock_port({port}); sys.exit(0 if fd is None else 3)"
    try:
        assert subprocess.run([sys.executable, "-c", probe], cwd=HERE, timeout=30).returncode == 0
    finally:
        release_port(port)
    assert subprocess.run([sys.executable, "-c", probe], cwd=HERE, timeout=30).returncode == 3
