"""Visitor identity: ever-ID cookies read and set, opt-outs, custom ever-ID (docs/design.md §5)."""

import time
import urllib.parse

import pytest

import mapphit
from support import EID_RE, ID1, ID2, page, parse_set_cookie, settle, tracking

EID_A = "2170000000000000001"
EID_B = "2170000000000000002"
EID_C = "2170000000000000003"
EID_D = "2170000000000000004"
EID_X = "2170000000000000009"


def test_new_visitor_gets_one_cookie_and_one_flag(httpd, track_server):
    httpd.start(tracking(ids=f"{ID1},{ID2}"))
    t0 = int(time.time())
    m, r = page(httpd)
    t1 = int(time.time())
    assert len(r.set_cookies) == 1, r.set_cookies
    name, value, attrs = parse_set_cookie(r.set_cookies[0])
    assert name == f"wteid_{ID1}"
    assert EID_RE.fullmatch(value), value
    assert value[0] == "4" and t0 - 2 <= int(value[1:11]) <= t1 + 2, \
        f"ever-ID {value} must be 4 + Unix seconds + 8 random digits"
    assert attrs.get("path") == "/"
    assert attrs.get("max-age") == "15552000"
    assert attrs.get("httponly") is True
    assert str(attrs.get("samesite")).lower() == "lax"
    assert "domain" not in attrs and "secure" not in attrs, attrs
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.get("eid") == value
    assert hit.get("one") == "1"
    # a second visitor gets a different ID
    m2, r2 = page(httpd)
    assert parse_set_cookie(r2.set_cookies[0])[1] != value


# wt3_eid travels URL-encoded: a raw ';' would end the cookie (RFC 6265), so a
# browser can never send the decoded form ";<id>|<eid>#<ts>" in a Cookie header.
RETURNING = [
    ("wtstp_eid", f"wtstp_eid={EID_A}", EID_A),
    ("wteid", f"wteid_{ID1}={EID_B}", EID_B),
    ("wt3_eid_encoded",
     "wt3_eid=" + urllib.parse.quote(f";{ID2}|{EID_X}#{EID_X};{ID1}|{EID_C}#{EID_X}", safe=""),
     EID_C),
    ("wt_eid", f"wt_eid={EID_D}", EID_D),
]


@pytest.mark.parametrize("cookie, eid", [r[1:] for r in RETURNING], ids=[r[0] for r in RETURNING])
def test_returning_visitor_keeps_the_id(httpd, track_server, cookie, eid):
    httpd.start(tracking())
    m, r = page(httpd, cookie=f"PHPSESSID=abc; {cookie}; other=1")
    assert r.set_cookies == []
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.get("eid") == eid
    assert not hit.has("one")
    (entry,) = httpd.wait_access(m)
    assert entry.eid == eid


ORDER = [
    ("wtstp_eid_first", [f"wt_eid={EID_D}", f"wt3_eid=%3B{ID1}%7C{EID_C}%23{EID_X}",
                         f"wteid_{ID1}={EID_B}", f"wtstp_eid={EID_A}"], EID_A),
    ("wteid_second", [f"wt_eid={EID_D}", f"wt3_eid=%3B{ID1}%7C{EID_C}%23{EID_X}",
                      f"wteid_{ID1}={EID_B}"], EID_B),
    ("wt3_eid_third", [f"wt_eid={EID_D}", f"wt3_eid=%3B{ID1}%7C{EID_C}%23{EID_X}"], EID_C),
    ("wt3_eid_other_id_only", [f"wt_eid={EID_D}", f"wt3_eid=%3B{ID2}%7C{EID_C}%23{EID_X}"], EID_D),
    ("invalid_wtstp_skipped", ["wtstp_eid=123", f"wteid_{ID1}={EID_B}"], EID_B),
]


@pytest.mark.parametrize("cookies, eid", [o[1:] for o in ORDER], ids=[o[0] for o in ORDER])
def test_read_order(httpd, track_server, cookies, eid):
    httpd.start(tracking())
    m, r = page(httpd, cookie="; ".join(cookies))
    (hit,) = track_server.wait_marker(m)
    assert hit.get("eid") == eid
    assert r.set_cookies == [] and not hit.has("one")


@pytest.mark.parametrize("bad", ["abc", "123", "21700000000000000011", "217000000000000000a"])
def test_invalid_id_is_replaced(httpd, track_server, bad):
    httpd.start(tracking())
    m, r = page(httpd, cookie=f"wteid_{ID1}={bad}")
    assert len(r.set_cookies) == 1
    name, value, _ = parse_set_cookie(r.set_cookies[0])
    assert name == f"wteid_{ID1}" and EID_RE.fullmatch(value)
    (hit,) = track_server.wait_marker(m)
    assert hit.get("eid") == value and hit.get("one") == "1"
    assert bad not in [v for _, v in hit.params]


def test_tracking_opt_out_sends_nothing(httpd, track_server):
    httpd.start(tracking())
    m, r = page(httpd, cookie="webtrekkOptOut=1")
    assert r.set_cookies == []
    m2, _ = page(httpd)
    track_server.wait_marker(m2)
    settle()
    assert track_server.hits_for(m) == []
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "skipped:optout"


def test_identification_opt_out_sends_anonymous_hit(httpd, track_server):
    httpd.start(tracking() + 'MappTrackCustomEverId "%{HTTP:X-User}"\n')
    m, r = page(httpd, cookie=f"miCookieOptOut=1; wteid_{ID1}={EID_B}",
                headers={"X-User": "user-42"})
    assert r.set_cookies == []
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.get("nc") == "1"
    for name in ("eid", "ceid", "one"):
        assert not hit.has(name), f"{name} sent despite miCookieOptOut: {hit}"
    assert EID_B not in hit.query and "user-42" not in hit.query
    m2, r2 = page(httpd, cookie="miCookieOptOut=1")
    assert r2.set_cookies == []
    (hit2,) = track_server.wait_marker(m2)
    assert hit2.get("nc") == "1" and not hit2.has("eid") and not hit2.has("one")


def test_cookie_off_sets_no_cookie(httpd, track_server):
    httpd.start(tracking() + "MappTrackCookie Off\n")
    m, r = page(httpd)
    assert r.set_cookies == []
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=[])


def test_cookie_name_domain_max_age(httpd, track_server):
    httpd.start(tracking() + "MappTrackCookieName mycookie\nMappTrackCookieDomain example.test\n"
                "MappTrackCookieMaxAge 60\n")
    m, r = page(httpd)
    assert len(r.set_cookies) == 1, r.set_cookies
    name, value, attrs = parse_set_cookie(r.set_cookies[0])
    assert name == "mycookie" and EID_RE.fullmatch(value)
    assert attrs.get("domain") == "example.test"
    assert attrs.get("max-age") == "60"
    assert attrs.get("path") == "/" and attrs.get("httponly") is True
    (hit,) = track_server.wait_marker(m)
    assert hit.get("eid") == value


def test_configured_cookie_name_is_read_back(httpd, track_server):
    """A visitor returning with the cookie the module set keeps the ID (beyond §6's list)."""
    httpd.start(tracking() + "MappTrackCookieName mycookie\n")
    m, r = page(httpd, cookie=f"mycookie={EID_A}")
    (hit,) = track_server.wait_marker(m)
    assert hit.get("eid") == EID_A and not hit.has("one")
    assert r.set_cookies == []


def test_custom_ever_id(httpd, track_server):
    httpd.start(tracking() + 'MappTrackCustomEverId "%{HTTP:X-User}"\n')
    m, _ = page(httpd, headers={"X-User": "user-42&x=1"})
    m2, _ = page(httpd)
    (hit,) = track_server.wait_marker(m)
    (hit2,) = track_server.wait_marker(m2)
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.get("ceid") == "user-42&x=1"
    assert hit.names()[4:7] == ["eid", "ceid", "one"]
    assert not hit2.has("ceid"), "an empty custom ever-ID must not be sent"


def test_only_mapp_cookies_are_forwarded(httpd, track_server):
    httpd.start(tracking())
    cookie = (f"PHPSESSID=secret; wteid_{ID1}={EID_B}; wtstp_sid=s123; session_token=topsecret; "
              "wt_rla=1")
    m, _ = page(httpd, cookie=cookie)
    (hit,) = track_server.wait_marker(m)
    assert hit.method == "GET"
    forwarded = "; ".join(hit.headers.get_all("Cookie") or [])
    names = {c.split("=", 1)[0].strip() for c in forwarded.split(";") if c.strip()}
    assert f"wteid_{ID1}" in names and "wtstp_sid" in names and "wt_rla" in names, forwarded
    assert names <= {f"wteid_{ID1}", "wtstp_sid", "wt_rla"}, forwarded
    blob = track_server.received_bytes()
    assert b"PHPSESSID" not in blob and b"secret" not in blob and b"session_token" not in blob
