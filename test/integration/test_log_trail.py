"""The debug trail: what an operator sees with `LogLevel
mapptrack:debug` and `mapptrack:trace1`.

- debug: each hit as sent (MT0113), its IP as configured (anonymized with
  MappTrackAnonymizeIP On), and each delivery's outcome and latency (MT0112);
  the core's messages carry their own source file and line, not the glue's;
- trace1: the relay's upstream request (MT0306) and the track server's answer
  (MT0307), headers included; at debug, neither appears.
"""

import re

from support import ID1, marker, tracking

DEBUG_IDS = ("MT0112", "MT0113", "MT0306", "MT0307")


def lines_with(httpd, mid):
    return [line for line in httpd.error_log().splitlines() if f"{mid}: " in line]


def test_debug_shows_each_hit_as_sent_with_the_anonymized_ip_and_the_delivery(httpd, track_server):
    httpd.expect_messages(*DEBUG_IDS)
    httpd.start(tracking(extra="LogLevel mapptrack:debug\nMappTrackAnonymizeIP On\n"))
    m = marker()
    assert httpd.get(f"/index.html?{m}").status == 200
    (hit,) = track_server.wait_marker(m)
    sent = httpd.wait_log(rf"MT0113: sent \S+/{ID1}/wt\?[^\n]*{m}")
    line = sent.group(0)
    # The line is the hit the track server got: its IP anonymized, as sent.
    assert hit.get("X-WT-IP") == "127.0.0.0", hit
    assert "X-WT-IP=127.0.0.0" in line, line
    assert "X-WT-IP=127.0.0.1" not in line, line
    delivered = httpd.wait_log(r"MT0112: 1 hit\(s\) delivered to \S+ in (\d+) ms \(HTTP 200\)")
    assert int(delivered.group(1)) < 60000, delivered.group(0)
    # Logged at the core's own call site (httpd shows file(line) at debug).
    (entry,) = [x for x in lines_with(httpd, "MT0113") if m in x]
    assert re.search(r"\bdispatcher\w*\.cpp\(\d+\): MT0113", entry), entry
    assert "lifecycle.cpp" not in " ".join(lines_with(httpd, "MT0112")), lines_with(httpd, "MT0112")


def test_debug_shows_the_ip_whole_when_it_is_not_anonymized(httpd, track_server):
    httpd.expect_messages(*DEBUG_IDS)
    httpd.start(tracking(extra="LogLevel mapptrack:debug\n"))
    m = marker()
    assert httpd.get(f"/index.html?{m}").status == 200
    track_server.wait_marker(m)
    line = httpd.wait_log(rf"MT0113: sent [^\n]*{m}[^\n]*").group(0)
    assert "X-WT-IP=127.0.0.1" in line, line


def test_without_debug_there_is_no_trail(httpd, track_server):
    httpd.start(tracking())
    m = marker()
    assert httpd.get(f"/index.html?{m}").status == 200
    track_server.wait_marker(m)
    for mid in DEBUG_IDS:
        assert not lines_with(httpd, mid), httpd.error_log()


RELAY = """
MappTrackBatchSize 1
<Location /analytics>
    SetHandler mapptrack-proxy
    MappTrackId {id}
    MappTrackDomain @TRACK@
</Location>
LogLevel mapptrack:{level}
"""
EID = "2170000000000000001"


def relay_hit(httpd, m):
    q = f"p=600,home,0,1920x1080,24,1,1732838400123,0,1920x960,0&eid={EID}&cp9={m}&eor=1"
    return httpd.get(f"/analytics/{ID1}/wt?{q}",
                     headers={"Cookie": f"wteid_{ID1}={EID}; private=secret-value",
                              "User-Agent": "TrailTest/1.0"})


def test_trace1_shows_the_relays_upstream_request_and_answer_headers(httpd, track_server):
    httpd.expect_messages(*DEBUG_IDS)
    httpd.start(RELAY.format(id=ID1, level="trace1"))
    m = marker()
    r = relay_hit(httpd, m)
    assert r.status == 200
    request = httpd.wait_log(rf"MT0306: relay request to the track server: GET \S+/{ID1}/wt\?[^\n]*{m}[^\n]*")
    line = request.group(0)
    for header in ("X-WT-IP: 127.0.0.1", "X-WT-UA: TrailTest/1.0", f"Cookie: wteid_{ID1}={EID}"):
        assert f"| {header}" in line, line
    assert "secret-value" not in line, "a cookie that is not Mapp's reached the trace (and the track server?)"
    answer = httpd.wait_log(r"MT0307: relay answer from the track server: HTTP 200 \(\d+ body bytes\)[^\n]*")
    text = answer.group(0)
    assert re.search(r"\| HTTP/1\.[01] 200", text), text
    assert re.search(r"\| Content-Type: image/gif", text, re.I), text
    assert re.search(r"\[mapptrack:trace1\][^\n]*relay\.cpp\(\d+\): (\[client [^]]*\] )?MT0306", httpd.error_log()), httpd.error_log()


def test_debug_alone_does_not_trace_the_relays_headers(httpd, track_server):
    httpd.expect_messages(*DEBUG_IDS)
    httpd.start(RELAY.format(id=ID1, level="debug"))
    m = marker()
    assert relay_hit(httpd, m).status == 200
    assert [req for req in track_server.requests() if m in req.target]
    assert not lines_with(httpd, "MT0306") and not lines_with(httpd, "MT0307"), httpd.error_log()
