"""What each privacy directive does to a page's hit, end to end (not only how it
is parsed): MappTrackAnonymizeIP, MappTrackConsentCookie (present, absent, not
matching its regex), MappTrackDoNotTrack (DNT and Sec-GPC, Anonymous and Skip);
an anonymous hit carries no identity in its line nor in its cookies; a spoofed
X-Forwarded-For never becomes the visitor's IP; a new visitor's cookie is Secure
over HTTPS. See docs/design.md §5 and docs/directives.md.
"""

import pytest

import mapphit
from support import EID_RE, ID1, page, parse_set_cookie, settle, tracking

EID = "2170000000000000001"


def forwarded_cookies(hit):
    return "; ".join(hit.headers.get_all("Cookie") or [])


def assert_anonymous(track_server, hit, r):
    """nc=1, no eid/ceid/one, no Mapp identity cookie forwarded, none set."""
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.get("nc") == "1", hit
    for name in ("eid", "ceid", "one"):
        assert not hit.has(name), f"{name} in an anonymous hit: {hit}"
    assert "wteid_" not in forwarded_cookies(hit), forwarded_cookies(hit)
    req = hit.request
    carried = req.target + str(req.headers) + req.body.decode("latin-1")
    assert EID not in carried, f"the ever-ID left the server in an anonymous hit: {carried}"
    assert r.set_cookies == [], r.set_cookies


def assert_identified(hit, eid=EID):
    assert hit.get("eid") == eid and not hit.has("nc"), hit


# -- MappTrackAnonymizeIP -----------------------------------------------------------------

@pytest.mark.parametrize("setting, ip", [("On", "127.0.0.0"), ("Off", "127.0.0.1")])
def test_anonymize_ip_applies_to_the_hit(httpd, track_server, setting, ip):
    httpd.start(tracking(extra=f"MappTrackAnonymizeIP {setting}\n"))
    m, _ = page(httpd)
    (hit,) = track_server.wait_marker(m)
    assert hit.get("X-WT-IP") == ip, hit
    if setting == "On":
        assert b"X-WT-IP=127.0.0.1" not in track_server.received_bytes()


# -- MappTrackConsentCookie ----------------------------------------------------------------

CONSENT = 'MappTrackConsentCookie site_consent "^(yes|1)$"\n'


@pytest.mark.parametrize("consent, anonymous", [
    ("site_consent=yes", False),
    ("site_consent=1", False),
    ("site_consent=no", True),       # present, but not matching the regex
    ("site_consent=yesplease", True),
    (None, True),                    # absent
])
def test_consent_cookie_decides_between_identified_and_anonymous(httpd, track_server, consent, anonymous):
    httpd.start(tracking(extra=CONSENT))
    cookie = f"wteid_{ID1}={EID}" + (f"; {consent}" if consent else "")
    m, r = page(httpd, cookie=cookie)
    (hit,) = track_server.wait_marker(m)
    if anonymous:
        assert_anonymous(track_server, hit, r)
    else:
        assert_identified(hit)
        assert "site_consent" not in forwarded_cookies(hit), "the site's consent cookie is not Mapp's"


def test_consent_without_regex_needs_only_the_cookie(httpd, track_server):
    httpd.start(tracking(extra="MappTrackConsentCookie site_consent\n"))
    m, _ = page(httpd, cookie=f"wteid_{ID1}={EID}; site_consent=anything")
    (hit,) = track_server.wait_marker(m)
    assert_identified(hit)
    m2, r2 = page(httpd, cookie=f"wteid_{ID1}={EID}")
    (hit2,) = track_server.wait_marker(m2)
    assert_anonymous(track_server, hit2, r2)


# -- MappTrackDoNotTrack --------------------------------------------------------------------

@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}], ids=["DNT", "Sec-GPC"])
def test_do_not_track_anonymous_sends_an_anonymous_hit(httpd, track_server, header):
    httpd.start(tracking(extra="MappTrackDoNotTrack Anonymous\n"))
    m, r = page(httpd, cookie=f"wteid_{ID1}={EID}", headers=header)
    (hit,) = track_server.wait_marker(m)
    assert_anonymous(track_server, hit, r)


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}], ids=["DNT", "Sec-GPC"])
def test_do_not_track_skip_sends_nothing(httpd, track_server, header):
    httpd.start(tracking(extra="MappTrackDoNotTrack Skip\n"))
    m, r = page(httpd, cookie=f"wteid_{ID1}={EID}", headers=header)
    m2, _ = page(httpd, cookie=f"wteid_{ID1}={EID}")  # the same visitor without the signal
    (hit2,) = track_server.wait_marker(m2)
    assert_identified(hit2)
    settle()
    assert track_server.hits_for(m) == [], "a hit was sent despite the do-not-track signal"
    assert r.set_cookies == []
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack.startswith("skipped:"), entry.mapptrack


@pytest.mark.parametrize("header", [{"DNT": "0"}, {"Sec-GPC": "0"}, {}], ids=["DNT0", "GPC0", "none"])
def test_no_do_not_track_signal_keeps_the_identity(httpd, track_server, header):
    httpd.start(tracking(extra="MappTrackDoNotTrack Anonymous\n"))
    m, _ = page(httpd, cookie=f"wteid_{ID1}={EID}", headers=header)
    (hit,) = track_server.wait_marker(m)
    assert_identified(hit)


def test_do_not_track_off_ignores_the_signals(httpd, track_server):
    httpd.start(tracking())
    m, _ = page(httpd, cookie=f"wteid_{ID1}={EID}", headers={"DNT": "1", "Sec-GPC": "1"})
    (hit,) = track_server.wait_marker(m)
    assert_identified(hit)


# -- the anonymous cookie ---------------------------------------------------------------------

def test_an_anonymous_hit_forwards_no_identity_cookie(httpd, track_server):
    httpd.start(tracking())
    m, r = page(httpd, cookie=f"miCookieOptOut=1; wteid_{ID1}={EID}; wtstp_eid={EID}; wt3_eid=;{ID1}|{EID}")
    (hit,) = track_server.wait_marker(m)
    assert_anonymous(track_server, hit, r)
    assert "eid" not in forwarded_cookies(hit), forwarded_cookies(hit)


# -- the visitor's IP -------------------------------------------------------------------------

def test_a_spoofed_forwarded_for_is_not_the_visitors_ip(httpd, track_server):
    """Without mod_remoteip trusting a proxy, X-Forwarded-For (and X-Real-IP,
    X-WT-IP) are the visitor's claims: the hit carries the connection's address."""
    httpd.start(tracking())
    m, _ = page(httpd, headers={"X-Forwarded-For": "6.6.6.6, 7.7.7.7", "X-Real-IP": "8.8.8.8",
                                "X-WT-IP": "9.9.9.9", "Client-IP": "5.5.5.5"})
    (hit,) = track_server.wait_marker(m)
    assert hit.get("X-WT-IP") == "127.0.0.1", hit
    assert [v for n, v in hit.params if n == "X-WT-IP"] == ["127.0.0.1"], hit
    blob = track_server.received_bytes()
    for claim in (b"6.6.6.6", b"7.7.7.7", b"8.8.8.8", b"9.9.9.9", b"5.5.5.5"):
        assert claim not in blob, f"{claim!r} reached the track server"


# -- HTTPS ----------------------------------------------------------------------------------

def test_a_new_visitors_cookie_is_secure_over_https(httpd, track_server):
    httpd.use_ssl()
    httpd.start(tracking())
    m, r = page(httpd)
    assert len(r.set_cookies) == 1, r.set_cookies
    name, value, attrs = parse_set_cookie(r.set_cookies[0])
    assert name == f"wteid_{ID1}" and EID_RE.fullmatch(value)
    assert attrs.get("secure") is True, r.set_cookies
    assert attrs.get("httponly") is True and attrs.get("samesite", "").lower() == "lax", r.set_cookies
    (hit,) = track_server.wait_marker(m)
    assert hit.get("eid") == value
    assert hit.get("X-WT-RQ", "").startswith("https://"), hit


def test_a_new_visitors_cookie_is_not_secure_over_http(httpd, track_server):
    httpd.start(tracking())
    _, r = page(httpd)
    (_, _, attrs) = parse_set_cookie(r.set_cookies[0])
    assert "secure" not in attrs, r.set_cookies
