"""The relay wherever it is configured: its base path comes from
the `<Location>`/`<LocationMatch>` that set `SetHandler mapptrack-proxy`, whatever other
`<Location>`, `<Directory>`, `<If>`, `Alias` or `.htaccess` sections also apply; HEAD gets
the GIF's headers and sends nothing; a 405 lists exactly the methods accepted.

Each case checks what the browser got and what the stub track server received.
"""

import base64
import hashlib
import os

import pytest

from harness import MODDIR
from support import ID1, ID2, marker, settle
from test_relay import (PIXEL_QUERY, assert_gif, header_values, query, raw, received,
                        with_client)

ID9 = "999999999999999"
CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
USER, PASSWORD = "pixel", "s3cret"

SERVER = f"""
MappTrackId {ID1},{ID2}
MappTrackDomain @TRACK@
MappTrackBatchSize 1
MappTrackTimeout 2000
"""
RELAY = """
<Location /analytics>
    SetHandler mapptrack-proxy
</Location>
"""
AUTH_MODULES = "".join(f"LoadModule {m}_module {MODDIR}/mod_{m}.so\n"
                       for m in ("auth_basic", "authn_core", "authn_file", "authz_user"))


def auth_lines(root):
    return (f'AuthType Basic\nAuthName "site"\nAuthBasicProvider file\n'
            f'AuthUserFile "{root}/conf/htpasswd"\n')


def write_htpasswd(httpd):
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
    path = os.path.join(httpd.root, "conf", "htpasswd")
    with open(path, "w") as f:
        f.write(f"{USER}:{{SHA}}{digest}\n")
    os.chmod(path, 0o644)


def basic_auth():
    return {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


def write_outside_docroot(httpd, rel, content):
    path = os.path.join(httpd.root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.chmod(os.path.dirname(path), 0o755)
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, 0o644)
    return path


def assert_relays(httpd, track_server, base="/analytics", headers=None):
    """Both pixel forms under `base` reach the stub exactly once, as the pixel sent them."""
    track_server.clear()
    forms = [(f"{base}/{ID1}/wt", f"/{ID1}/wt"),
             (f"{base}/{ID1},{ID2}/wt7xq2", f"/{ID1},{ID2}/wt7xq2"),
             (base + "/", f"/{ID1},{ID2}/wt")]                  # sendViaServer
    if base:
        forms.append((base, f"/{ID1},{ID2}/wt"))
    for path, upstream in forms:
        m = marker()
        q = query(m)
        r = httpd.get(f"{path}?{q}", headers=headers)
        assert_gif(r)
        got = received(track_server, m)
        assert len(got) == 1, (path, got)
        assert got[0].method == "GET" and got[0].path == upstream, (path, got[0])
        assert got[0].query == with_client(q), (path, got[0].query)
        assert got[0].headers.get("Authorization") is None, "credentials must not leave the site"
        (entry,) = httpd.wait_access(m)
        assert entry.mapptrack == "sent", entry
    m = marker()
    r = httpd.post(f"{base}/{ID1}/batch", body=f"wt?{query(m)}\n".encode(),
                   headers=dict(headers or {}, **{"Content-Type": "text/plain"}))
    assert r.status == 200, r
    (got,) = received(track_server, m)
    assert got.method == "POST" and got.path == f"/{ID1}/batch", got
    # sendViaServer by POST (a beacon): not redirected to `{base}/` on the way
    m = marker()
    r = httpd.post(f"{base or '/'}?{query(m)}", body=b"", headers=headers)
    assert_gif(r)
    (got,) = received(track_server, m)
    assert got.method == "POST" and got.path == f"/{ID1},{ID2}/wt", got


def assert_refused_quietly(httpd, track_server, targets, allowed=(400, 404)):
    """Raw requests that must not be relayed: an allowed status (None: any) and nothing at
    the stub."""
    track_server.clear()
    wrong = []
    for target in targets:
        status, head, _ = raw(httpd, target)
        reached = [r.target for r in track_server.requests()]
        track_server.clear()
        if (allowed is not None and status not in allowed) or reached:
            wrong.append(f"{target[:90]!r} answered {status}"
                         + (f" and reached the track server as {reached}" if reached else ""))
    assert not wrong, "relayed or wrongly answered:\n" + "\n".join(wrong)


# -- the relay behind other sections ---------------------------------------------------

def test_behind_a_trailing_location_root_with_require(httpd, track_server):
    httpd.start(SERVER + RELAY + """
<Location />
    Require all granted
    Header always set X-Site "1"
</Location>
""")
    assert_relays(httpd, track_server)


def test_behind_a_trailing_location_root_with_basic_auth(httpd, track_server):
    """The whole site needs a login, the relay too: the browser sends the site's
    credentials with the pixel request; they are checked and never forwarded."""
    write_htpasswd(httpd)
    httpd.start(AUTH_MODULES + SERVER + RELAY + f"""
<Location />
{auth_lines(httpd.root)}    Require valid-user
</Location>
""")
    assert_relays(httpd, track_server, headers=basic_auth())
    track_server.clear()
    r = httpd.get(f"/analytics/{ID1}/wt?{query(marker())}")
    assert r.status == 401, r
    settle(0.3)
    assert track_server.requests() == []


def test_relay_open_inside_a_site_behind_basic_auth(httpd, track_server):
    """Site-wide auth on `/`, the relay's <Location> after it opens it to every visitor."""
    write_htpasswd(httpd)
    httpd.start(AUTH_MODULES + SERVER + f"""
<Location />
{auth_lines(httpd.root)}    Require valid-user
</Location>
<Location /analytics>
    SetHandler mapptrack-proxy
    Require all granted
</Location>
<Location /private>
    Header always set X-Private "1"
</Location>
""")
    assert_relays(httpd, track_server)
    assert httpd.get("/index.html").status == 401


def test_behind_a_matching_if_at_server_level(httpd, track_server):
    httpd.start(SERVER + RELAY + """
<If "%{REQUEST_URI} =~ m#^/# && -n %{HTTP_HOST}">
    Header always set X-If "1"
</If>
""")
    assert_relays(httpd, track_server)
    assert httpd.get(f"/analytics/{ID1}/wt?{query(marker())}").headers.get("x-if") == "1"


def test_if_nested_in_the_relay_location(httpd, track_server):
    httpd.start(SERVER + """
<Location /analytics>
    SetHandler mapptrack-proxy
    <If "-n %{HTTP_HOST}">
        Header always set X-Nested "1"
    </If>
    <Else>
        Header always set X-Nested "0"
    </Else>
</Location>
<Location />
    Require all granted
</Location>
""")
    assert_relays(httpd, track_server)
    assert httpd.get(f"/analytics/{ID1}/wt?{query(marker())}").headers.get("x-nested") == "1"


def test_sethandler_inside_an_if_in_the_location(httpd, track_server):
    httpd.start(SERVER + """
<Location /analytics>
    <If "-n %{HTTP_HOST}">
        SetHandler mapptrack-proxy
    </If>
</Location>
""")
    assert_relays(httpd, track_server)


def test_alias_maps_the_relay_path_and_an_htaccess_applies(httpd, track_server):
    """Alias to a directory with AllowOverride All and a .htaccess holding <If>, Require
    and Header lines: the directory sections merge after the relay's <Location> is found."""
    relay_dir = os.path.dirname(write_outside_docroot(httpd, "relaydir/.htaccess", """
Require all granted
Header always set X-Htaccess "1"
<If "-n %{HTTP_HOST}">
    Header always set X-Htaccess-If "1"
</If>
"""))
    httpd.start(SERVER + f"""
Alias /analytics "{relay_dir}"
<Directory "{relay_dir}">
    AllowOverride All
    Require all denied
</Directory>
""" + RELAY + """
<Location />
    Header always set X-Site "1"
</Location>
""")
    assert_relays(httpd, track_server)
    r = httpd.get(f"/analytics/{ID1}/wt?{query(marker())}")
    assert r.headers.get("x-htaccess") == "1" and r.headers.get("x-htaccess-if") == "1", r.headers


def test_htaccess_in_the_docroot_applies(httpd, track_server):
    httpd.write_doc(".htaccess", '<If "-n %{HTTP_HOST}">\n    Header always set X-Ht "1"\n</If>\n')
    httpd.write_doc("analytics/.htaccess", 'Header always set X-Ht-Sub "1"\n')
    httpd.start(SERVER + """
<Directory "@DOCROOT@">
    AllowOverride All
</Directory>
""" + RELAY)
    assert_relays(httpd, track_server)
    r = httpd.get(f"/analytics/{ID1}/wt?{query(marker())}")
    assert r.headers.get("x-ht") == "1" and r.headers.get("x-ht-sub") == "1", r.headers


def test_in_a_virtual_host_behind_the_main_servers_location_root(httpd, track_server):
    httpd.start(SERVER + """
<Location />
    Require all granted
</Location>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName 127.0.0.1
    <Location /analytics>
        SetHandler mapptrack-proxy
    </Location>
    <If "-n %{HTTP_HOST}">
        Header always set X-Vhost-If "1"
    </If>
</VirtualHost>
""")
    assert_relays(httpd, track_server)


def test_two_relay_locations_route_to_the_innermost(httpd, track_server):
    httpd.start(SERVER + """
<Location /analytics/v2>
    SetHandler mapptrack-proxy
</Location>
<Location /analytics>
    SetHandler mapptrack-proxy
</Location>
""")
    assert_relays(httpd, track_server, "/analytics")
    assert_relays(httpd, track_server, "/analytics/v2")
    assert_refused_quietly(httpd, track_server, [f"/analytics/v3/{ID1}/wt?{PIXEL_QUERY}"], (404,))


# -- LocationMatch -----------------------------------------------------------------------

def test_location_match_base_is_what_the_regex_matched(httpd, track_server):
    httpd.start(SERVER + """
<LocationMatch "^/(analytics|stats)(/|$)">
    SetHandler mapptrack-proxy
</LocationMatch>
<Location />
    Require all granted
</Location>
<If "-n %{HTTP_HOST}">
    Header always set X-If "1"
</If>
""")
    assert_relays(httpd, track_server, "/analytics")
    assert_relays(httpd, track_server, "/stats")
    assert_refused_quietly(httpd, track_server, [
        f"/stats/x/{ID1}/wt?{PIXEL_QUERY}",
        f"/stats/{ID1}/wt/x?{PIXEL_QUERY}",
        f"/stats/{ID1}?{PIXEL_QUERY}",
        f"/stats/{ID9}/wt?{PIXEL_QUERY}",
        f"/stats/../analytics/{ID1}/wt?{PIXEL_QUERY}",
        f"/statsX/{ID1}/wt?{PIXEL_QUERY}",
    ])


def test_location_match_that_does_not_match_from_the_start_is_no_relay_base(httpd, track_server):
    """`<LocationMatch "/wt$">` marks no base: 404 and MT0304 (documented)."""
    httpd.expect_messages("MT0304", required=True)
    httpd.start(SERVER + """
<LocationMatch "/wt$">
    SetHandler mapptrack-proxy
</LocationMatch>
""")
    assert_refused_quietly(httpd, track_server, [f"/analytics/{ID1}/wt?{PIXEL_QUERY}"], (404,))
    httpd.wait_log(r"MT0304: SetHandler mapptrack-proxy for /analytics/\d+/wt is not set in a "
                   r"<Location> or <LocationMatch>")


def test_handler_set_in_a_directory_is_refused_with_mt0304(httpd, track_server):
    httpd.expect_messages("MT0304", required=True)
    httpd.write_doc("analytics/index.html", "x")
    httpd.start(SERVER + """
<Directory "@DOCROOT@/analytics">
    SetHandler mapptrack-proxy
</Directory>
""")
    assert_refused_quietly(httpd, track_server, [f"/analytics/{ID1}/wt?{PIXEL_QUERY}",
                                                 f"/analytics?{PIXEL_QUERY}"], (404,))
    httpd.wait_log(r"MT0304: SetHandler mapptrack-proxy for /analytics")


# -- never an open relay -----------------------------------------------------------------

def test_hostile_targets_behind_other_sections_reach_nobody(httpd, track_server):
    httpd.start(SERVER + RELAY + """
<Location />
    Require all granted
</Location>
<If "-n %{HTTP_HOST}">
    Header always set X-If "1"
</If>
""")
    assert_refused_quietly(httpd, track_server, [
        f"/analytics/x/../{ID1}/wt?{PIXEL_QUERY}",
        f"/analytics/x/{ID1}/wt?{PIXEL_QUERY}",
        f"/analytics/{ID1}/wt/x?{PIXEL_QUERY}",
        f"/analytics/static/x.js?{PIXEL_QUERY}",
        f"/analytics/{ID1}/admin?{PIXEL_QUERY}",
        f"/analytics/{ID9}/wt?{PIXEL_QUERY}",
        f"/analytics;x=1/{ID1}/wt?{PIXEL_QUERY}",
        f"/analytics/{ID1};x=1/wt?{PIXEL_QUERY}",
        f"/analytics/{ID1}/wt;x=1?{PIXEL_QUERY}",
        f"/analytics//{ID1}/wt?{PIXEL_QUERY}",
        f"//analytics/{ID1}/wt?{PIXEL_QUERY}",
        f"/analytics/{ID1}//wt?{PIXEL_QUERY}",
        f"/analytics%2F{ID1}/wt?{PIXEL_QUERY}",
        f"/analytics/{ID1}%2Fwt?{PIXEL_QUERY}",
        f"/analytics/{ID1}%2fwt?{PIXEL_QUERY}",
        f"/analytics/%2e%2e/{ID1}/wt?{PIXEL_QUERY}",
        f"/analytics/%2E/{ID1}/wt?{PIXEL_QUERY}",
        f"/Analytics/{ID1}/wt?{PIXEL_QUERY}",
        f"/analyticsX/{ID1}/wt?{PIXEL_QUERY}",
        f"http://evil.example/analytics/{ID1}/wt?{PIXEL_QUERY}",
    ])
    # not the relay: whatever the site answers there (its index page), nothing is relayed
    assert_refused_quietly(httpd, track_server, [
        f"/analytics/../{ID1}/wt?{PIXEL_QUERY}",
        f"/other/{ID1}/wt?{PIXEL_QUERY}",
        f"/{ID1}/wt?{PIXEL_QUERY}",
        f"/?{PIXEL_QUERY}",
        f"/index.html?{PIXEL_QUERY}",
    ], None)
    # the same server relays a real pixel request
    assert_relays(httpd, track_server)


def test_a_location_root_relay_still_only_relays_pixel_paths(httpd, track_server):
    httpd.start(SERVER + """
<Location />
    SetHandler mapptrack-proxy
</Location>
""")
    assert_relays(httpd, track_server, "")
    assert_refused_quietly(httpd, track_server, [
        f"/index.html?{PIXEL_QUERY}", f"/x/{ID1}/wt?{PIXEL_QUERY}", f"/{ID9}/wt?{PIXEL_QUERY}",
        f"/x/../{ID1}/wt?{PIXEL_QUERY}", f"//{ID1}/wt?{PIXEL_QUERY}"], (400, 404))


# -- HEAD and 405 -------------------------------------------------------------------------

def assert_gif_headers(r):
    assert r.status == 200, r
    assert r.body == b""
    assert r.headers.get("content-type") == "image/gif", r.headers
    assert r.headers.get("content-length") == "43", r.headers
    assert r.headers.get("cache-control") == "no-store", r.headers
    assert r.headers.get("x-content-type-options") == "nosniff", r.headers
    assert r.headers.get("content-security-policy") == CSP, r.headers


@pytest.mark.parametrize("setting", ["plain", "behind_location_root_and_if"])
def test_head_gets_the_gifs_headers_and_sends_nothing(httpd, track_server, setting):
    extra = "" if setting == "plain" else """
<Location />
    Require all granted
</Location>
<If "-n %{HTTP_HOST}">
    Header always set X-If "1"
</If>
"""
    httpd.start(SERVER + RELAY + extra)
    marks = []
    for path in (f"/analytics/{ID1}/wt", f"/analytics/{ID1},{ID2}/wt7xq2", "/analytics",
                 f"/analytics/{ID1}/batch", f"/analytics/{ID1}/cc"):
        m = marker()
        marks.append(m)
        assert_gif_headers(httpd.head(f"{path}?{query(m)}"))
    settle()
    assert track_server.requests() == [], track_server.requests()
    for m in marks:
        (entry,) = httpd.wait_access(m)
        assert entry.method == "HEAD" and entry.status == "200" and entry.mapptrack in ("", "-"), entry
    # refusals stay refusals for HEAD
    assert httpd.head(f"/analytics/{ID9}/wt?{PIXEL_QUERY}").status == 404
    assert httpd.head(f"/analytics/x/{ID1}/wt?{PIXEL_QUERY}").status == 404
    settle(0.3)
    assert track_server.requests() == []


def test_head_while_the_track_server_is_down_queues_nothing(httpd, track_server):
    httpd.start(SERVER + RELAY)
    m = marker()
    track_server.down()
    assert_gif_headers(httpd.head(f"/analytics/{ID1}/wt?{query(m)}"))
    settle(0.3)
    track_server.up()
    # a GET after it: the first hit the stub sees is that GET's, nothing of the HEAD
    m2 = marker()
    assert_gif(httpd.get(f"/analytics/{ID1}/wt?{query(m2)}"))
    settle()
    assert received(track_server, m) == []
    assert len(received(track_server, m2)) == 1


def allow_of(head):
    return sorted(v.strip() for v in ",".join(header_values(head, "Allow")).split(",") if v.strip())


@pytest.mark.parametrize("trace", ["default", "off"])
def test_405_allow_lists_exactly_what_is_accepted(httpd, track_server, trace):
    top = "TraceEnable off\n" if trace == "off" else ""
    httpd.start(SERVER + RELAY + "<Location />\n    Require all granted\n</Location>\n", top=top)
    want = ["GET", "HEAD", "POST"] + (["TRACE"] if trace == "default" else [])
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "FOO"):
        status, head, body = raw(httpd, f"/analytics/{ID1}/wt?{PIXEL_QUERY}", method=method,
                                 body=b"x" if method in ("PUT", "PATCH") else b"")
        assert status == 405, (method, head)
        assert allow_of(head) == want, (method, head)
        assert header_values(head, "Cache-Control") == ["no-store"], head
    # every method listed is answered at the relay, none is relayed but GET/POST
    for method in want:
        status, head, _ = raw(httpd, f"/analytics/{ID1}/wt?{query(marker())}", method=method,
                              body=f"wt?{query(marker())}".encode() if method == "POST" else b"")
        assert status == 200, (method, head)
    status, _, _ = raw(httpd, f"/analytics/{ID1}/wt?{PIXEL_QUERY}", method="TRACE")
    assert status == (200 if trace == "default" else 405)
    settle(0.5)
    assert sorted(r.method for r in track_server.requests()) == ["GET", "POST"], \
        track_server.requests()
