"""Encoding: no byte of the visitor's input can end or add a parameter (docs/design.md §4)."""

import re

import mapphit
from support import ID1, marker, raw_request, tracking

CONF = tracking() + """
LimitRequestLine 16384
LimitRequestFieldSize 16384
MappTrackContentId "%{HTTP:X-Content}"
MappTrackParam cp1 "%{HTTP:X-Param}"
MappTrackParam cp2 "%{unescape:%{QUERY_STRING}}"
"""
NAMES = ["p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eid", "one", "cp1", "cp2", "eor"]
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

NASTY = "a&b=c,d#e f%20g+h;i|j\u00fc\u20ac\U0001F600<>\"'\\"


def strip_controls(s):
    return CONTROL.sub("", s)


def one_hit(track_server, m, names=NAMES):
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=["cp1", "cp2"])
    if names is not None:
        assert hit.names() == names, hit.names()
    assert len(hit.p) == 8
    return hit


def test_special_characters_in_headers_and_params(httpd, track_server):
    httpd.start(CONF)
    m = marker()
    ua = "Mozilla/5.0 (" + NASTY + "\tTab)"
    ref = "http://ref.example/p a?x=1&y=2,3;z=" + NASTY + "#frag"
    content = "home," + NASTY
    param = "v=" + NASTY
    r = httpd.get(f"/page.html?m={m}", headers={
        "User-Agent": ua.encode("utf-8"), "Referer": ref.encode("utf-8"),
        "X-Content": content.encode("utf-8"), "X-Param": param.encode("utf-8")})
    assert r.status == 200
    hit = one_hit(track_server, m)
    assert hit.get("X-WT-UA") == strip_controls(ua)
    assert hit.p[7] == ref
    assert hit.p[1] == content
    assert hit.get("cp1") == param
    assert hit.get("cp2") == f"m={m}"
    assert hit.p[0] == "300" and hit.p[2:6] == ["0"] * 4


def test_escaped_bytes_in_the_url(httpd, track_server):
    httpd.start(CONF)
    m = marker()
    target = (f"/page.html?m={m}&a=1&b=x%3Dy&c=1,2&d=%23frag&e=%0d%0a&f=%00&g=a%20b"
              "&h=%C3%BC%E2%82%AC&i=%FF%FE&j=%25&k=%2B+")
    assert httpd.get(target, headers={"X-Param": "x"}).status == 200
    # %00 makes ap_expr's unescape() fail, so cp2 may be empty and then left out
    hit = one_hit(track_server, m, names=None)
    assert hit.get("cp1") == "x"
    assert hit.get("X-WT-RQ") == f"http://127.0.0.1:{httpd.port}{target}"


def test_control_characters_are_removed(httpd, track_server):
    httpd.start(CONF)
    m = marker()
    assert httpd.get(f"/page.html?m={m}&v=a%0d%0ab%09c%01d%1fe%C3%BCf",
                     headers={"X-Param": "a\tb"}).status == 200
    hit = one_hit(track_server, m)
    assert hit.get("cp2") == f"m={m}&v=abcde\u00fcf"
    assert hit.get("cp1") == "ab"


def test_raw_utf8_and_invalid_bytes_in_the_request_line(httpd, track_server):
    httpd.start(CONF)
    m = marker()
    target = f"/page.html?m={m}&u=\u00fc\u20ac&x=".encode("utf-8") + b"caf\xe9-\xff-end"
    req = (b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(httpd.port).encode()
           + b"\r\nUser-Agent: raw\r\nX-Param: x\r\nConnection: close\r\n\r\n")
    status, head, _ = raw_request(httpd.port, req)
    assert status == 200, head
    hit = one_hit(track_server, m)
    expected = f"http://127.0.0.1:{httpd.port}" + target.decode("utf-8", errors="replace")
    assert hit.get("X-WT-RQ") == expected


def test_invalid_utf8_user_agent_becomes_replacement_character(httpd, track_server):
    httpd.start(CONF)
    m = marker()
    ua = "Bot caf\xe9 x,y&z"  # latin-1 byte 0xE9 on the wire: not UTF-8
    assert httpd.get(f"/page.html?m={m}", headers={"User-Agent": ua.encode("latin-1"),
                                                           "X-Param": "x"}).status == 200
    hit = one_hit(track_server, m)
    assert hit.get("X-WT-UA") == "Bot caf\ufffd x,y&z"


def test_long_values_are_cut(httpd, track_server):
    httpd.start(CONF)
    m = marker()
    unit = "ab&c=d,e\u00fc\u20ac "
    long = (unit * (10240 // len(unit.encode("utf-8")) + 1))
    ua = "UA " + long
    ref = "http://ref.example/?r=" + long
    content = "c," + long
    param = "p=" + long
    query = f"m={m}&q=" + "x%26" * 2560
    target = f"/page.html?{query}"
    r = httpd.get(target, headers={
        "User-Agent": ua.encode("utf-8"), "Referer": ref.encode("utf-8"),
        "X-Content": content.encode("utf-8"), "X-Param": param.encode("utf-8")})
    assert r.status == 200
    hit = one_hit(track_server, m)
    assert len(hit.line.encode("ascii")) < 7168, len(hit.line)
    # The user agent is cut only for the line limit, not at 255.
    assert ua.startswith(hit.get("X-WT-UA")) and len(hit.get("X-WT-UA")) >= 255, hit.get("X-WT-UA")[:80]
    for name, value, full in [("cp1", hit.get("cp1"), param),
                              ("cp2", hit.get("cp2"), f"m={m}&q=" + "x&" * 2560),
                              ("content id", hit.p[1], content)]:
        assert full.startswith(value), f"{name} is not a prefix of the input: {value[:80]!r}"
        assert 0 < len(value) <= 255, f"{name}: {len(value)} characters"
    rq = hit.get("X-WT-RQ")
    assert f"http://127.0.0.1:{httpd.port}{target}".startswith(rq), rq[:100]
    assert rq.startswith(f"http://127.0.0.1:{httpd.port}/page.html?m={m}"), "X-WT-RQ cut too short"
    assert ref.startswith(hit.p[7]), hit.p[7][:100]
    assert hit.ids == ID1
