"""The shipped configuration files in httpd-conf/ are valid and work as documented."""

import os
import re

import conftest
import mapphit
from support import marker, settle

CONF_DIR = os.path.join(conftest.REPO, "httpd-conf")
EXAMPLE_ID = "123451234512345"


def read(name):
    with open(os.path.join(CONF_DIR, name)) as f:
        return f.read()


def install(httpd, track_url, uncomment=False):
    """Copy the example files into the server root the way a2enmod/a2ensite would."""
    load = read("mapptrack.load")
    assert "/usr/lib/apache2/modules/mod_mapptrack.so" in load
    load = load.replace("/usr/lib/apache2/modules/mod_mapptrack.so", conftest.MODULE)
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
