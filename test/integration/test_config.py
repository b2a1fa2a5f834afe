"""Configuration: directive arguments checked by configtest, .htaccess rules (docs/directives.md)."""

import re

import pytest

from support import ID1, ID4, marker, settle

BAD = [
    ("MappTrackId", "MappTrackId abc"),
    ("MappTrackId", 'MappTrackId ""'),
    ("MappTrackId", "MappTrackId 111,abc"),
    ("MappTrackDomain", "MappTrackDomain ftp://x"),
    ("MappTrackDomain", "MappTrackDomain notaurl"),
    ("MappTrackMode", "MappTrackMode fast"),
    ("MappTrackPixelVersion", "MappTrackPixelVersion x"),
    ("MappTrackTimeout", "MappTrackTimeout -1"),
    ("MappTrackThreads", "MappTrackThreads 0"),
    ("MappTrackQueueSize", "MappTrackQueueSize 0"),
    ("MappTrackBatchSize", "MappTrackBatchSize 0"),
    ("MappTrackCookieMaxAge", "MappTrackCookieMaxAge x"),
    ("MappTrackParam", 'MappTrackParam "bad name" x'),
    ("MappTrackCondition", 'MappTrackCondition "%{"'),
    ("MappTrackContentId", 'MappTrackContentId "%{"'),
    ("MappTrack", "MappTrack maybe"),
    ("MappTrackCookie", "MappTrackCookie maybe"),
]


@pytest.mark.parametrize("name, line", BAD, ids=[b[1] for b in BAD])
def test_bad_argument_fails_configtest(httpd, name, line):
    ok, out = httpd.configtest(line + "\n")
    assert not ok, f"{line!r} passed configtest:\n{out}"
    lines = [x for x in out.splitlines() if name in x and "Syntax error on line" not in x]
    assert lines, f"configtest output does not name {name}:\n{out}"
    reason = re.sub(re.escape(name), "", lines[0])
    assert len(re.findall(r"[A-Za-z]{3,}", reason)) >= 2, f"no reason given: {lines[0]!r}"


GOOD = """
MappTrackAllowDomain *.webtrekk.net 127.0.0.1:*
MappTrackThreads 2
MappTrackQueueSize 10000
MappTrackRetries 5
MappTrackSpoolDir "@ROOT@/run/spool"
MappTrackSpoolMaxSize 256M
MappTrackTimeout 2000
MappTrackBatchSize 50
MappTrackBatchDelay 200
MappTrackOutboundProxy http://127.0.0.1:3128
<VirtualHost *:@PORT@>
    ServerName a.test
    MappTrack On
    MappTrackId 111111111111111,222222222222222
    MappTrackDomain https://yourdomain.webtrekk.net
    MappTrackMode sync
    MappTrackPixelVersion 300
    MappTrackContentId "%{REQUEST_URI}"
    MappTrackParam cp1 "%{HTTP_HOST}"
    MappTrackParam cg1 "shop"
    MappTrackCondition "%{REQUEST_STATUS} == 200"
    MappTrackCustomEverId "%{HTTP:X-User}"
    MappTrackCookie On
    MappTrackCookieName wteid_111111111111111
    MappTrackCookieDomain example.test
    MappTrackCookieMaxAge 15552000
    MappTrackAnonymizeIP On
    MappTrackDoNotTrack Anonymous
    MappTrackConsentCookie consent "^(yes|1)$"
    MappTrackTimeout 500
    MappTrackBatchSize 1
    MappTrackBatchDelay 0
    <Location /analytics>
        SetHandler mapptrack-proxy
    </Location>
    <Location /mapptrack-status>
        SetHandler mapptrack-status
    </Location>
    <Location /mapptrack-inspect>
        SetHandler mapptrack-inspect
    </Location>
    <Location /admin>
        MappTrack Off
        MappTrackMode async
        MappTrackDoNotTrack Skip
    </Location>
</VirtualHost>
"""


def test_every_directive_parses(httpd):
    ok, out = httpd.configtest(GOOD)
    assert ok, out


@pytest.mark.parametrize("line", ["MappTrackMode sync", "MappTrackMode async",
                                  "MappTrackDomain http://127.0.0.1:8080/base",
                                  "MappTrackId 111111111111111", "MappTrackTimeout 1",
                                  "MappTrackDoNotTrack Off", "MappTrackAnonymizeIP Off"])
def test_good_argument_parses(httpd, line):
    ok, out = httpd.configtest(line + "\n")
    assert ok, out


@pytest.mark.parametrize("present, missing", [("MappTrackDomain https://x.webtrekk.net", "MappTrackId"),
                                              (f"MappTrackId {ID1}", "MappTrackDomain")])
def test_tracking_vhost_needs_id_and_domain(httpd, present, missing):
    ok, out = httpd.configtest(f"""
<VirtualHost *:@PORT@>
    ServerName a.test
    MappTrack On
    {present}
</VirtualHost>
""")
    assert not ok, f"MappTrack On without {missing} passed configtest:\n{out}"
    assert missing in out, out


def tenant(httpd, htaccess):
    httpd.write_doc("tenant/.htaccess", htaccess)


HTACCESS_SERVER = """
MappTrackBatchSize 1
MappTrackDomain @TRACK@
<Directory "@DOCROOT@/tenant">
    AllowOverride FileInfo
</Directory>
"""


def test_htaccess_tenant_turns_tracking_on(httpd, track_server):
    tenant(httpd, f'MappTrack On\nMappTrackId {ID4}\nMappTrackParam cp2 "tenant"\n'
           'MappTrackContentId "%{REQUEST_URI}"\n')
    httpd.start(HTACCESS_SERVER)
    m_t, m_css, m_main = marker(), marker(), marker()
    assert httpd.get(f"/tenant/page.html?m={m_t}").status == 200
    assert httpd.get(f"/tenant/style.css?m={m_css}").status == 200
    assert httpd.get(f"/page.html?m={m_main}").status == 200
    (hit,) = track_server.wait_marker(m_t)
    settle()
    assert len(track_server.hits()) == 1
    assert hit.ids == ID4
    assert hit.get("cp2") == "tenant"
    assert hit.p[1] == "/tenant/page.html"


def test_htaccess_domain_refused_without_allow(httpd, track_server, track_server2):
    httpd.expect_log(r"MappTrackDomain", required=True)
    tenant(httpd, f"MappTrack On\nMappTrackId {ID4}\nMappTrackDomain @TRACK2@\n"
           .replace("@TRACK2@", track_server2.url))
    httpd.start(HTACCESS_SERVER)
    m = marker()
    assert httpd.get(f"/tenant/page.html?m={m}").status == 500
    httpd.wait_log(r"MappTrackDomain")
    settle()
    assert track_server.requests() == [] and track_server2.requests() == []


def test_htaccess_domain_allowed_by_pattern(httpd, track_server, track_server2):
    tenant(httpd, f"MappTrack On\nMappTrackId {ID4}\nMappTrackDomain {track_server2.url}\n")
    httpd.start(HTACCESS_SERVER + "MappTrackAllowDomain 127.0.0.1:*\n")
    m = marker()
    assert httpd.get(f"/tenant/page.html?m={m}").status == 200
    (hit,) = track_server2.wait_marker(m)
    assert hit.ids == ID4
    settle()
    assert track_server.requests() == []


def test_htaccess_domain_not_matching_pattern_refused(httpd, track_server, track_server2):
    httpd.expect_log(r"MappTrackDomain", required=True)
    tenant(httpd, f"MappTrack On\nMappTrackId {ID4}\nMappTrackDomain {track_server2.url}\n")
    httpd.start(HTACCESS_SERVER + "MappTrackAllowDomain *.webtrekk.net\n")
    assert httpd.get(f"/tenant/page.html?m={marker()}").status == 500
    httpd.wait_log(r"MappTrackDomain")
    settle()
    assert track_server2.requests() == []


@pytest.mark.parametrize("line, name", [("MappTrackThreads 4", "MappTrackThreads"),
                                        ("MappTrackQueueSize 10", "MappTrackQueueSize"),
                                        ("MappTrackAllowDomain *", "MappTrackAllowDomain")])
def test_htaccess_server_only_directives_refused(httpd, track_server, line, name):
    httpd.expect_log(name, required=True)
    tenant(httpd, f"MappTrack On\nMappTrackId {ID4}\n{line}\n")
    httpd.start(HTACCESS_SERVER)
    assert httpd.get(f"/tenant/page.html?m={marker()}").status == 500
    httpd.wait_log(name)
