"""What a page hit carries for Mapp's reports (docs/design.md §4): the default
page name, own-domain referrers, language, campaigns, client hints, the
per-value limit of custom parameters, the user agent, anonymous cookies, and
no hit for prefetches."""

import re

import pytest

import mapphit
from support import EID_RE, marker, raw_request, settle, tracking

CHROME_HINTS = {
    "Sec-CH-UA": '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
    "Sec-CH-UA-Mobile": "?0",
    "Sec-CH-UA-Platform": '"Linux"',
}

# One server for most tests: sections that each set one of the new directives.
CONF = tracking() + """
LimitRequestFieldSize 16384
MappTrackParam cp1 "%{HTTP:X-Products}"
<Location /a/>
    MappTrackContentIdParams sku b_id
    MappTrackCampaignParams cmp wt_mc
    MappTrackOwnDomain shop.example.com *.example.org
</Location>
<Location /b/>
    MappTrackContentId 0
    MappTrackOwnDomain none
    MappTrackClientHints On
</Location>
<Location /special/>
    MappTrackAnonymousCookie consent_ok optin
</Location>
<Location /admin/>
    MappTrackAnonymousCookie myOptOut
</Location>
"""


def page_hit(httpd, track_server, path, headers=None, host=None, custom=("cp1",)):
    m = marker()
    sep = "&" if "?" in path else "?"
    r = httpd.get(f"{path}{sep}m={m}", headers=headers, host=host)
    assert r.status == 200, r
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=list(custom))
    return hit, r, m


def test_default_page_name_is_host_and_path_lower_cased(httpd, track_server):
    httpd.start(CONF)
    hit, _, _ = page_hit(httpd, track_server, "/page.html?Q=1", host=f"WWW.Example.COM:{httpd.port}")
    assert hit.p[1] == f"www.example.com:{httpd.port}/page.html"
    # the path as the visitor asked, not the file a DirectoryIndex redirect served
    hit, _, _ = page_hit(httpd, track_server, "/dir/?x=1")
    assert hit.p[1] == f"127.0.0.1:{httpd.port}/dir/"


def test_content_id_zero_keeps_the_old_name(httpd, track_server):
    httpd.start(CONF)
    hit, _, _ = page_hit(httpd, track_server, "/b/page.html")
    assert hit.p[1] == "0"


def test_content_id_params_are_added_sorted(httpd, track_server):
    httpd.start(CONF)
    # configured `sku b_id`: added as b_id, sku whatever the order in the URL or the config
    hit, _, _ = page_hit(httpd, track_server, "/a/page.html?sku=AB%2012&other=1&b_id=7")
    assert hit.p[1] == f"127.0.0.1:{httpd.port}/a/page.html?b_id=7&sku=ab 12"
    hit, _, _ = page_hit(httpd, track_server, "/a/page.html?b_id=&zz=1")
    assert hit.p[1] == f"127.0.0.1:{httpd.port}/a/page.html"


def test_referrer_on_the_own_domain_is_sent_as_1(httpd, track_server):
    httpd.start(CONF)
    own = f"http://127.0.0.1:{httpd.port}/index.html?from=1"
    cases = [
        ("/page.html", own, "1"),
        ("/page.html", "https://127.0.0.1/other", "1"),            # any port, any scheme
        ("/page.html", "http://ref.example/from?x=1", "http://ref.example/from?x=1"),
        ("/page.html", "http://127.0.0.1@evil.example/", "http://127.0.0.1@evil.example/"),
        ("/a/page.html", "https://shop.example.com/cart", "1"),     # MappTrackOwnDomain
        ("/a/page.html", "http://www.example.org/", "1"),
        ("/a/page.html", own, "1"),                                 # patterns add to the host
        ("/a/page.html", "http://example.org.evil.example/", "http://example.org.evil.example/"),
        ("/b/page.html", own, own),                                 # MappTrackOwnDomain none
    ]
    for path, referer, want in cases:
        hit, _, _ = page_hit(httpd, track_server, path, headers={"Referer": referer})
        assert hit.p[7] == want, (path, referer, hit.p)
    hit, _, _ = page_hit(httpd, track_server, "/page.html")
    assert hit.p[7] == "0"


def test_language_from_accept_language(httpd, track_server):
    httpd.start(CONF)
    hit, _, _ = page_hit(httpd, track_server, "/page.html",
                         headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"})
    assert hit.get("la") == "de"
    hit, _, _ = page_hit(httpd, track_server, "/page.html")
    assert not hit.has("la")


def test_media_code_from_the_campaign_parameters(httpd, track_server):
    httpd.start(CONF)
    hit, _, _ = page_hit(httpd, track_server, "/page.html?wt_mc=newsletter.spring")
    assert hit.get("mc") == "wt_mc%3Dnewsletter.spring" and hit.get("mca") == "c"
    hit, _, _ = page_hit(httpd, track_server, "/page.html?mc=b&wt_mc=a")
    assert hit.get("mc") == "wt_mc%3Da;mc%3Db"
    hit, _, _ = page_hit(httpd, track_server, "/page.html?x=1")
    assert not hit.has("mc") and not hit.has("mca")
    # MappTrackCampaignParams replaces the default (`mc` is not read in /a/)
    hit, _, _ = page_hit(httpd, track_server, "/a/page.html?mc=x&cmp=summer")
    assert hit.get("mc") == "cmp%3Dsummer"


def test_media_code_is_sent_once_across_an_internal_redirect(httpd, track_server):
    httpd.start(CONF)
    m = marker()
    assert httpd.get(f"/dir/?wt_mc=spring&m={m}").status == 200  # DirectoryIndex: an internal redirect
    (hit,) = track_server.wait_marker(m)
    settle()
    assert len(track_server.hits_for(m)) == 1
    assert hit.get("mc") == "wt_mc%3Dspring"
    assert hit.names().count("mc") == 1


def test_client_hints_are_passed_as_parameters(httpd, track_server):
    httpd.start(CONF)
    headers = dict(CHROME_HINTS)
    headers["Sec-CH-UA-Model"] = '"Pixel 8"'
    headers["Sec-CH-UA-Platform-Version"] = '"14.0.0"'
    hit, _, _ = page_hit(httpd, track_server, "/page.html", headers=headers)
    assert hit.get("X-WT-SEC-CH-UA") == CHROME_HINTS["Sec-CH-UA"]
    assert hit.get("X-WT-SEC-CH-UA-MOBILE") == "?0"
    assert hit.get("X-WT-SEC-CH-UA-PLATFORM") == '"Linux"'
    assert hit.get("X-WT-SEC-CH-UA-MODEL") == '"Pixel 8"'
    assert hit.get("X-WT-SEC-CH-UA-PLATFORM-VERSION") == '"14.0.0"'
    hit, _, _ = page_hit(httpd, track_server, "/page.html")
    assert not [n for n in hit.names() if n.startswith("X-WT-SEC-CH")]


def test_a_hit_over_7_kb_drops_optional_parameters_and_says_so(httpd, track_server):
    """16 client hints of 500 bytes do not fit in Mapp's 7 KB line: the longest optional
    parameters go, the hit still arrives (well formed, under 7 KB), and MT0027 counts it."""
    httpd.expect_messages("MT0027", required=True)
    httpd.start(CONF + "LogLevel mapptrack:info\n")
    headers = {f"Sec-CH-UA-X{i}": "v" * (490 + i) for i in range(16)}
    hit, _, _ = page_hit(httpd, track_server, "/page.html", headers=headers)
    sent = [n for n in hit.names() if n.startswith("X-WT-SEC-CH-UA-X")]
    assert 0 < len(sent) < 16, hit.names()
    assert len(hit.line) < 7000
    assert hit.names()[-1] == "eor"
    httpd.wait_log(r"\[mapptrack:info\].* MT0027: a hit for http://127\.0\.0\.1:\d+ did not fit in 7 KB: "
                   r"\d+ optional parameter\(s\) dropped, longest first; 1 hit\(s\) so in this process")


def test_client_hints_on_asks_for_high_entropy_hints(httpd, track_server):
    httpd.write_doc("b/style.css", "p { }\n")
    httpd.start(CONF)
    _, r, _ = page_hit(httpd, track_server, "/b/page.html")
    tokens = [t.strip() for t in r.headers.get("accept-ch", "").split(",")]
    assert tokens == ["Sec-CH-UA-Full-Version-List", "Sec-CH-UA-Model", "Sec-CH-UA-Platform-Version"], r.headers
    _, r, _ = page_hit(httpd, track_server, "/page.html")
    assert "accept-ch" not in r.headers
    # only tracked pages
    r = httpd.get("/b/style.css")
    assert "accept-ch" not in r.headers


def test_client_hints_cannot_be_set_from_htaccess(httpd, track_server):
    httpd.expect_log(r"MappTrackClientHints not allowed here", required=True)
    httpd.write_doc("tenant/.htaccess", "MappTrackClientHints On\n")
    httpd.start(tracking() + """
<Directory "@DOCROOT@/tenant">
    AllowOverride All
</Directory>
""")
    assert httpd.get(f"/tenant/page.html?m={marker()}").status == 500
    httpd.wait_log(r"MappTrackClientHints not allowed here")


PREFETCHES = [
    {"Sec-Purpose": "prefetch"},
    {"Sec-Purpose": "prefetch;prerender"},
    {"Purpose": "prefetch"},
    {"X-Moz": "prefetch"},
]


@pytest.mark.parametrize("headers", PREFETCHES, ids=lambda h: "-".join(f"{k}:{v}" for k, v in h.items()))
def test_prefetch_is_not_tracked_and_sets_no_cookie(httpd, track_server, headers):
    httpd.start(CONF)
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers=headers)
    assert r.status == 200
    assert r.set_cookies == [], r.set_cookies
    (entry,) = httpd.wait_access(m)
    assert entry.mapptrack == "skipped:prefetch" and entry.eid == "", entry
    settle()
    assert track_server.hits() == []
    # the visitor then opens the page: exactly one hit, and the cookie
    r = httpd.get(f"/page.html?m={m}")
    assert len(r.set_cookies) == 1
    (hit,) = track_server.wait_marker(m)
    settle()
    assert track_server.hits() == [hit]
    assert hit.get("one") == "1"
    assert httpd.wait_access(m, 2)[1].mapptrack == "queued"


def test_hostile_headers_and_campaign_cannot_add_or_end_a_parameter(httpd, track_server):
    httpd.start(CONF)
    evil_ua_ch = '"x";v="1"&eor=1&cp1=evil%26&X-WT-IP=1.2.3.4'
    evil_lang = "de&eor=1&la=xx,en;q=0.5&nc=1"
    m = marker()
    r = httpd.get(f"/page.html?wt_mc=a%26eor%3D1%26cp1%3Dx%23y&m={m}", headers={
        "Sec-CH-UA": evil_ua_ch, "Sec-CH-UA-Platform": '"L"&eor=1', "Accept-Language": evil_lang,
        "User-Agent": "UA&eor=1&X-WT-IP=1.2.3.4"})
    assert r.status == 200
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=["cp1"])
    names = [n for n in hit.names() if n != "la"]
    assert names == ["p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eid", "one", "mc", "mca",
                     "X-WT-SEC-CH-UA", "X-WT-SEC-CH-UA-PLATFORM", "eor"], hit.names()
    assert hit.names().count("la") <= 1 and re.fullmatch(r"([a-z]{2,8})?", hit.get("la", ""))
    assert hit.names().count("eor") == 1 and hit.names()[-1] == "eor" and hit.get("eor") == "1"
    assert hit.get("X-WT-SEC-CH-UA") == evil_ua_ch
    assert hit.get("X-WT-SEC-CH-UA-PLATFORM") == '"L"&eor=1'
    assert hit.get("mc") == "wt_mc%3Da&eor=1&cp1=x#y"
    assert hit.get("X-WT-IP") == "127.0.0.1"
    assert hit.get("X-WT-UA") == "UA&eor=1&X-WT-IP=1.2.3.4"


def test_custom_parameter_list_is_cut_per_value(httpd, track_server):
    httpd.start(CONF)
    products = "a" * 300 + ";" + "b" * 10 + ";" + "c" * 300
    hit, _, _ = page_hit(httpd, track_server, "/page.html", headers={"X-Products": products})
    assert hit.get("cp1") == "a" * 255 + ";" + "b" * 10 + ";" + "c" * 255


def test_user_agent_is_sent_whole_and_not_when_empty(httpd, track_server):
    httpd.start(CONF)
    ua = "Mozilla/5.0 " + "x" * 988
    hit, _, _ = page_hit(httpd, track_server, "/page.html", headers={"User-Agent": ua})
    assert len(ua) == 1000 and hit.get("X-WT-UA") == ua
    hit, _, _ = page_hit(httpd, track_server, "/page.html", headers={"User-Agent": ""})
    assert not hit.has("X-WT-UA"), hit.names()
    assert hit.names()[:3] == ["p", "X-WT-IP", "X-WT-RQ"]
    m = marker()
    status, _, _ = raw_request(httpd.port, f"GET /page.html?m={m} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                           "Connection: close\r\n\r\n".encode())
    assert status == 200
    (hit,) = track_server.wait_marker(m)
    mapphit.assert_well_formed(hit, custom=["cp1"])
    assert not hit.has("X-WT-UA"), hit.names()


def test_anonymous_cookie_optin(httpd, track_server):
    httpd.start(CONF)
    # optin: anonymous unless the cookie is there with a value
    for cookie in (None, "consent_ok=", "miCookieOptOut=1; consent_ok="):
        hit, r, _ = page_hit(httpd, track_server, "/special/page.html",
                             headers={"Cookie": cookie} if cookie else None)
        assert hit.get("nc") == "1" and not hit.has("eid") and not hit.has("one"), (cookie, hit.names())
        assert r.set_cookies == [], r.set_cookies
    hit, r, _ = page_hit(httpd, track_server, "/special/page.html", headers={"Cookie": "consent_ok=yes"})
    assert not hit.has("nc") and EID_RE.fullmatch(hit.get("eid")) and hit.get("one") == "1"
    assert len(r.set_cookies) == 1


def test_anonymous_cookie_optout_with_another_name(httpd, track_server):
    httpd.start(CONF)
    hit, r, _ = page_hit(httpd, track_server, "/admin/page.html", headers={"Cookie": "myOptOut=1"})
    assert hit.get("nc") == "1" and not hit.has("eid") and r.set_cookies == []
    # the default cookie no longer counts where another is configured
    hit, _, _ = page_hit(httpd, track_server, "/admin/page.html", headers={"Cookie": "miCookieOptOut=1"})
    assert not hit.has("nc") and hit.has("eid")
    # and still counts elsewhere
    hit, _, _ = page_hit(httpd, track_server, "/page.html", headers={"Cookie": "miCookieOptOut=1"})
    assert hit.get("nc") == "1" and not hit.has("eid")


BAD_ARGUMENTS = [
    ("MappTrackContentIdParams a&b", "is not a query parameter name"),
    ("MappTrackContentIdParams none sku", "cannot be combined with 'none'"),
    ("MappTrackCampaignParams wt_mc=x", "is not a query parameter name"),
    ("MappTrackOwnDomain http://example.com/", "is not a host pattern"),
    ("MappTrackOwnDomain example.com none", "'none' cannot be combined"),
    ('MappTrackAnonymousCookie "a;b"', "is not a valid cookie name"),
    ("MappTrackAnonymousCookie consent maybe", "is not a mode: use optout or optin"),
    ("MappTrackClientHints sometimes", "MappTrackClientHints"),
]


@pytest.mark.parametrize("line,reason", BAD_ARGUMENTS, ids=[b[0] for b in BAD_ARGUMENTS])
def test_bad_arguments_are_refused_with_the_reason(httpd, line, reason):
    ok, out = httpd.configtest(tracking() + line + "\n")
    assert not ok, out
    assert line.split()[0] in out and reason in out, out
