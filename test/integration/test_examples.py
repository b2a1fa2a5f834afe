"""The shipped configuration files in httpd-conf/ are valid and work as documented."""

import os
import re

import harness
import mapphit
from support import marker, parse_set_cookie, settle

CONF_DIR = os.path.join(harness.REPO, "httpd-conf")
EXAMPLE_ID = "123451234512345"


def read(name):
    with open(os.path.join(CONF_DIR, name)) as f:
        return f.read()


def install(httpd, track_url, uncomment=False):
    """Copy the example files into the server root the way a2enmod/a2ensite would."""
    load = read("mapptrack.load")
    assert "/usr/lib/apache2/modules/mod_mapptrack.so" in load
    load = load.replace("/usr/lib/apache2/modules/mod_mapptrack.so", harness.MODULE)
    conf = read("mapptrack.conf")
    if uncomment:
        conf = re.sub(r"(?m)^(\s*)#(MappTrack\w+ )", r"\1\2", conf)
    vhost = read("example-vhost.conf")
    for old in ("https://yourdomain.webtrekk.net", "*:80", "/var/www/example"):
        assert old in vhost, f"example-vhost.conf no longer contains {old!r}"
    vhost = (vhost.replace("https://yourdomain.webtrekk.net", track_url)
             .replace("*:80", f"*:{httpd.port}").replace("/var/www/example", httpd.docroot))
    d = os.path.join(httpd.root, "conf", "examples")
    os.makedirs(d, exist_ok=True)
    for name, text in (("mapptrack.load", load), ("mapptrack.conf", conf),
                       ("example-vhost.conf", vhost)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    top = f'Define APACHE_LOG_DIR "{httpd.root}/logs"\nDefine APACHE_RUN_DIR "{httpd.root}/run"\n'
    body = "".join(f'Include "{d}/{n}"\n'
                   for n in ("mapptrack.load", "mapptrack.conf", "example-vhost.conf"))
    return top, body


def test_load_and_conf_pass_configtest(httpd, track_server):
    top, body = install(httpd, track_server.url)
    ok, out = httpd.configtest(body, with_module=False, top=top)
    assert ok, out


def test_every_commented_default_is_valid(httpd, track_server):
    top, body = install(httpd, track_server.url, uncomment=True)
    conf = open(os.path.join(httpd.root, "conf", "examples", "mapptrack.conf")).read()
    assert len(re.findall(r"(?m)^\s*MappTrack\w+ ", conf)) >= 8, conf
    ok, out = httpd.configtest(body, with_module=False, top=top)
    assert ok, out


def test_example_vhost_tracks_pages(httpd, track_server):
    top, body = install(httpd, track_server.url)
    httpd.start(body, top=top, with_module=False)
    host = f"www.example.com:{httpd.port}"
    m, m_admin, m_css = marker(), marker(), marker()
    assert httpd.get(f"/page.html?m={m}", host=host).status == 200
    assert httpd.get(f"/admin/page.html?m={m_admin}", host=host).status == 200
    assert httpd.get(f"/style.css?m={m_css}", host=host).status == 200
    (hit,) = track_server.wait_marker(m, timeout=10)
    settle()
    assert len(track_server.hits()) == 1, track_server.hits()
    assert hit.ids == EXAMPLE_ID
    mapphit.assert_well_formed(hit, custom=["cp1"])
    assert hit.p[1] == f"{host}/page.html"
    assert hit.get("cp1") == "http"
    assert hit.get("X-WT-RQ") == f"http://{host}/page.html?m={m}"
    log_path = os.path.join(httpd.root, "logs", "example-access.log")
    settle(0.2)
    log = open(log_path).read()
    assert re.search(rf"GET /page.html\?m={m} .* mapptrack=queued eid=[0-9]{{19}}", log), log
    vhost_errors = open(os.path.join(httpd.root, "logs", "example-error.log")).read()
    assert vhost_errors.strip() == "", vhost_errors


def install_example(httpd, name, track_url, replace):
    """Copies mapptrack.load/.conf and the example `name` into the server root with
    `replace` applied (each old text must still be in the example); returns (top, body)."""
    load = read("mapptrack.load").replace("/usr/lib/apache2/modules/mod_mapptrack.so",
                                          harness.MODULE)
    text = read(name)
    replace = dict(replace, **{"https://yourdomain.webtrekk.net": track_url,
                               "/var/www/example": httpd.docroot})
    for old, new in replace.items():
        assert old in text, f"{name} no longer contains {old!r}"
        text = text.replace(old, new)
    d = os.path.join(httpd.root, "conf", "examples")
    os.makedirs(d, exist_ok=True)
    for n, t in (("mapptrack.load", load), ("mapptrack.conf", read("mapptrack.conf")), (name, text)):
        with open(os.path.join(d, n), "w") as f:
            f.write(t)
    top = f'Define APACHE_LOG_DIR "{httpd.root}/logs"\nDefine APACHE_RUN_DIR "{httpd.root}/run"\n'
    body = "".join(f'Include "{d}/{n}"\n' for n in ("mapptrack.load", "mapptrack.conf", name))
    return top, body


STUB_COOKIE = "wteid_123451234512345=4173283840012345678; Domain=.webtrekk.net; Path=/"


def test_example_sync_sends_before_the_page(httpd, track_server):
    top, body = install_example(httpd, "example-sync.conf", track_server.url,
                                {"*:80": f"*:{httpd.port}"})
    ok, out = httpd.configtest(body, with_module=False, top=top)
    assert ok, out
    httpd.start(body, top=top, with_module=False)
    track_server.answer_headers([("Set-Cookie", STUB_COOKIE)])
    host = f"www.example.com:{httpd.port}"
    m, m_admin = marker(), marker()
    r = httpd.get(f"/page.html?m={m}", host=host,
                  headers={"Cookie": f"wteid_{EXAMPLE_ID}=2170000000000000001"})
    assert r.status == 200
    (hit,) = track_server.hits_for(m)  # there before the page: no waiting
    mapphit.assert_well_formed(hit, custom=[])
    assert hit.ids == EXAMPLE_ID and hit.p[1] == f"{host}/page.html"
    assert [parse_set_cookie(c) for c in r.set_cookies] == [
        ("wteid_123451234512345", "4173283840012345678", {"path": "/", "domain": "example.com"})]
    assert httpd.get(f"/admin/page.html?m={m_admin}", host=host).status == 200
    settle()
    assert track_server.hits_for(m_admin) == [] and len(track_server.hits()) == 1
    log = open(os.path.join(httpd.root, "logs", "example-sync-access.log")).read()
    assert re.search(rf"GET /page.html\?m={m} .* mapptrack=sent eid=2170000000000000001", log), log


def test_example_relay_relays_the_pixel(httpd, track_server):
    httpd.use_ssl()
    httpd.expect_messages("AH01909")  # the snakeoil name is not www.example.com
    top, body = install_example(httpd, "example-relay.conf", track_server.url, {
        "*:443": f"*:{httpd.port}",
        "/etc/ssl/certs/ssl-cert-snakeoil.pem": httpd.cert,
        "/etc/ssl/private/ssl-cert-snakeoil.key": httpd.key,
    })
    ok, out = httpd.configtest(body, with_module=False, top=top)
    assert ok, out
    httpd.start(body, top=top, with_module=False)
    track_server.answer_headers([("Set-Cookie", STUB_COOKIE)])
    host = f"www.example.com:{httpd.port}"
    m = marker()
    q = f"p=600,home,0,0,0,0,1732838400123,0&eid=2170000000000000001&cp9={m}&eor=1"
    r = httpd.get(f"/analytics/{EXAMPLE_ID}/wt?{q}", host=host,
                  headers={"Cookie": "wtstp_eid=2170000000000000001; PHPSESSID=x"})
    assert r.status == 200 and r.headers.get("content-type") == "image/gif", r
    assert r.headers.get("cache-control") == "no-store"
    (req,) = track_server.requests()
    # The module adds the real client to the hit, before eor=1.
    assert req.target == f"/{EXAMPLE_ID}/wt?" + q.replace(
        "&eor=1", "&X-WT-UA=MappTrackTest%2F1.0&X-WT-IP=127.0.0.1&eor=1")
    assert req.headers.get("X-WT-IP") == "127.0.0.1"
    assert req.headers.get("Cookie") == "wtstp_eid=2170000000000000001"
    assert [parse_set_cookie(c) for c in r.set_cookies] == [
        ("wteid_123451234512345", "4173283840012345678", {"path": "/", "domain": "example.com"})]
    # only the configured track ID
    assert httpd.get(f"/analytics/999999999999999/wt?{q}", host=host).status == 404
    # pages of the site are not tracked by this example
    assert httpd.get(f"/page.html?m={marker()}", host=host).status == 200
    settle()
    assert len(track_server.requests()) == 1, track_server.requests()
    log = open(os.path.join(httpd.root, "logs", "example-relay-access.log")).read()
    assert re.search(rf"GET /analytics/{EXAMPLE_ID}/wt\?\S*{m}\S* HTTP/1.1\" 200 43 mapptrack=sent",
                     log), log


def test_example_status_shows_figures_and_inspected_hits(httpd, track_server):
    text = read("example-status.conf")
    assert "Require local" in text
    d = os.path.join(httpd.root, "conf", "examples")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "example-status.conf"), "w") as f:
        f.write(text)
    body = (f'Include "{d}/example-status.conf"\nMappTrack On\nMappTrackId {EXAMPLE_ID}\n'
            f"MappTrackDomain http://127.0.0.1:{httpd.port}/mapptrack-inspect\nMappTrackBatchSize 1\n")
    httpd.start(body)
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    import json
    import time
    deadline = time.time() + 10
    while True:
        hits = json.loads(httpd.get("/mapptrack-inspect/?format=json").body)["hits"]
        if any(m in h["line"] for h in hits):
            break
        assert time.time() < deadline, hits
        time.sleep(0.1)
    assert [h["violations"] for h in hits if m in h["line"]] == [[]]
    doc = json.loads(httpd.get("/mapptrack-status").body)
    assert doc["totals"]["sent"] == 1 and doc["totals"]["pages"] == 1
    assert "mapptrack_hits_sent_total" in httpd.get("/mapptrack-status?format=prometheus").body.decode()
