"""The real Smart Pixel (npm @webtrekk-smart-pixel/core) in headless Chromium,
sending through the module's relay (variant B, docs/design.md §8) on an HTTPS site.

Each test serves a page that loads the pixel from the site itself, runs
pixel.mjs (playwright-core driving /usr/bin/chromium) on it, and checks both
ends: what the stub track server received through the relay, and what the
browser got back and kept (its cookies)."""

import json
import os
import random
import re
import shutil
import subprocess
import time
import urllib.parse

from support import ID1, ID2

HERE = os.path.dirname(os.path.abspath(__file__))
PIXEL_MJS = os.path.join(HERE, "pixel.mjs")
PAGE_NAME = "pixel-relay-test"

RELAY = """
MappTrackTimeout 1000
MappTrackBatchSize 1
MappTrackRetries 8
<Location /analytics>
    SetHandler mapptrack-proxy
    MappTrackId {ids}
    MappTrackDomain @TRACK@
</Location>
"""


def serve_pixel_page(httpd, pixel_js, init, advanced=None):
    """pixel.html loads /smart-pixel.min.js from the site and tracks one page."""
    shutil.copy(pixel_js, os.path.join(httpd.docroot, "smart-pixel.min.js"))
    os.chmod(os.path.join(httpd.docroot, "smart-pixel.min.js"), 0o644)
    advanced_js = f"wtSmart.advanced.set({json.dumps(advanced)});" if advanced else ""
    httpd.write_doc("pixel.html", f"""<!DOCTYPE html>
<html><head><title>Smart Pixel through the relay</title>
<script src="/smart-pixel.min.js"></script>
<script>
  wtSmart.init.set({json.dumps(init)});
  {advanced_js}
  wtSmart.page.data.set({json.dumps(PAGE_NAME)}, {{}});
  wtSmart.track();
</script></head>
<body><p>pixel page</p></body></html>
""")


def run_browser(httpd, node, expect=1, timeout_ms=20000, locale=None):
    config = {"url": f"{httpd.url}/pixel.html", "relay": "/analytics", "expect": expect,
              "timeoutMs": timeout_ms}
    if locale:
        config["locale"] = locale
    p = subprocess.run([node, PIXEL_MJS, json.dumps(config)], cwd=HERE, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"pixel.mjs failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["errors"] == [], f"browser errors: {out['errors']}\nconsole: {out['console']}"
    assert out["pixelVersion"], f"the Smart Pixel did not load: {out}"
    return out


def stub_cookie(track_server):
    """The track server sets a cookie for its own (foreign) domain; returns its value."""
    value = "49" + "".join(random.choice("0123456789") for _ in range(17))
    track_server.answer_headers([
        ("Set-Cookie", f"wteid_{ID1}={value}; Domain=.webtrekk.net; Path=/; Max-Age=3600"),
    ])
    return value


def page_requests(track_server):
    """Requests the stub received that carry the pixel's page request (p=…,pixel-relay-test,…)."""
    out = []
    for r in track_server.requests():
        params = dict(urllib.parse.parse_qsl(r.query, keep_blank_values=True))
        if params.get("p", "").split(",")[1:2] == [PAGE_NAME]:
            out.append((r, params))
    return out


def browser_cookie(out, name):
    return [c for c in out["cookies"] if c["name"] == name]


def assert_relayed_to_stub(httpd, track_server, out, stub_path):
    relayed = [r for r in out["responses"] if "/analytics" in r["url"]]
    assert relayed, f"the browser sent nothing to the relay: {out['requests']}"
    got = page_requests(track_server)
    assert len(got) == 1, (f"the stub must receive the pixel's page request once, got "
                           f"{track_server.requests()}; browser: {out['requests']}")
    req, params = got[0]
    assert req.method == "GET" and req.path == stub_path, req
    # the real client, as headers and as the hit's own parameters (each exactly once),
    # so that the hit says the same when it is queued and sent later
    assert req.headers.get_all("X-WT-IP") == ["127.0.0.1"], req.headers
    assert req.headers.get_all("X-WT-UA") == [out["userAgent"]], req.headers
    assert "HeadlessChrome" in out["userAgent"] or "Chrome" in out["userAgent"]
    pairs = urllib.parse.parse_qsl(req.query, keep_blank_values=True)
    assert [v for k, v in pairs if k == "X-WT-IP"] == ["127.0.0.1"], pairs
    assert [v for k, v in pairs if k == "X-WT-UA"] == [out["userAgent"]], pairs
    assert [k for k, _ in pairs if k.lower().startswith("x-wt-")] == ["X-WT-UA", "X-WT-IP"], pairs
    # the browser's ever-ID: the pixel's eid parameter is its wtstp_eid cookie
    (eid_cookie,) = browser_cookie(out, "wtstp_eid")
    assert re.fullmatch(r"[0-9]{19}", params.get("eid", "")), params
    assert params["eid"] == eid_cookie["value"], (params, out["cookies"])
    forwarded = req.headers.get("Cookie") or ""
    assert f"wtstp_eid={eid_cookie['value']}" in forwarded, forwarded
    # the browser's parameters arrive as it sent them, in order, the client added
    sent = [urllib.parse.parse_qsl(urllib.parse.urlsplit(r["url"]).query, keep_blank_values=True)
            for r in relayed]
    theirs = [(k, v) for k, v in pairs if not k.startswith("X-WT-")]
    assert theirs in sent, (pairs, sent)
    return req, relayed


def assert_cookie_kept_for_the_site(out, relayed, value):
    resp = relayed[0]
    assert resp["status"] == 200, resp
    assert resp["headers"].get("content-type") == "image/gif", resp
    assert resp["headers"].get("cache-control") == "no-store", resp
    set_cookie = resp["headers"].get("set-cookie", "")
    assert f"wteid_{ID1}={value}" in set_cookie and "webtrekk.net" not in set_cookie, set_cookie
    kept = browser_cookie(out, f"wteid_{ID1}")
    assert [c["value"] for c in kept] == [value], \
        f"the browser did not keep the relayed cookie: {out['cookies']}"
    assert kept[0]["domain"] == "127.0.0.1", kept


def test_pixel_track_domain_through_the_relay(httpd, track_server, browser_tools):
    node, pixel_js = browser_tools
    httpd.use_ssl()
    serve_pixel_page(httpd, pixel_js,
                     {"trackId": ID1, "trackDomain": f"127.0.0.1:{httpd.port}/analytics"})
    value = stub_cookie(track_server)
    httpd.start(RELAY.format(ids=ID1))
    out = run_browser(httpd, node)
    req, relayed = assert_relayed_to_stub(httpd, track_server, out, f"/{ID1}/wt")
    assert urllib.parse.urlsplit(relayed[0]["url"]).path == f"/analytics/{ID1}/wt"
    assert req.headers.get("Accept-Language"), "the browser's Accept-Language is forwarded"
    assert_cookie_kept_for_the_site(out, relayed, value)
    assert any(e.mapptrack == "sent" for e in httpd.access_entries("/analytics/")), \
        httpd.access_log()


def test_pixel_send_via_server(httpd, track_server, browser_tools):
    """sendViaServer: the pixel calls {serverDomain}/{serverPath}?p=… and the relay adds
    the configured track IDs. trackDomain points at a closed port: only the relay works."""
    node, pixel_js = browser_tools
    httpd.use_ssl()
    serve_pixel_page(httpd, pixel_js, {"trackId": ID1, "trackDomain": "127.0.0.1:1/unused"},
                     {"sendViaServer": {"activated": True, "serverDomain": f"127.0.0.1:{httpd.port}",
                                        "serverPath": "analytics"}})
    value = stub_cookie(track_server)
    httpd.start(RELAY.format(ids=f"{ID1},{ID2}"))
    out = run_browser(httpd, node)
    req, relayed = assert_relayed_to_stub(httpd, track_server, out, f"/{ID1},{ID2}/wt")
    url = urllib.parse.urlsplit(relayed[0]["url"])
    assert url.path == "/analytics" and url.query.startswith("p="), relayed[0]["url"]
    assert_cookie_kept_for_the_site(out, relayed, value)
    assert not [r for r in out["requests"] if ":1/" in r["url"]], out["requests"]


def test_pixel_gets_the_gif_while_the_track_server_is_down(httpd, track_server, browser_tools):
    """The pixel's hit survives an outage: GIF now, the hit with the browser's IP and
    user agent added as parameters once the track server is back."""
    httpd.expect_messages("MT0105", "MT0101", "MT0102")  # relay failed; delivery failed, works again
    node, pixel_js = browser_tools
    httpd.use_ssl()
    serve_pixel_page(httpd, pixel_js,
                     {"trackId": ID1, "trackDomain": f"127.0.0.1:{httpd.port}/analytics"})
    httpd.start(RELAY.format(ids=ID1))
    track_server.down()
    out = run_browser(httpd, node)
    relayed = [r for r in out["responses"] if "/analytics" in r["url"]]
    assert relayed and relayed[0]["status"] == 200, out["responses"]
    assert relayed[0]["headers"].get("content-type") == "image/gif"
    assert relayed[0]["headers"].get("content-length") == "43"
    track_server.up()
    deadline = time.time() + 20
    while not page_requests(track_server) and time.time() < deadline:
        time.sleep(0.1)
    got = page_requests(track_server)
    assert len(got) == 1, f"the queued hit did not arrive: {track_server.requests()}"
    req, params = got[0]
    assert req.path == f"/{ID1}/wt"
    assert params.get("X-WT-IP") == "127.0.0.1" and params.get("X-WT-UA") == out["userAgent"], params
    (eid_cookie,) = browser_cookie(out, "wtstp_eid")
    assert params.get("eid") == eid_cookie["value"]


def test_pixel_client_hints_language_and_referrer_reach_the_track_server(httpd, track_server,
                                                                         browser_tools):
    """Chromium's reduced user agent leaves device detection to the client hints it sends
    by default on HTTPS (Sec-CH-UA, -Mobile, -Platform): the relay passes them on as the
    browser sent them, with its Accept-Language and the page as Referer."""
    node, pixel_js = browser_tools
    httpd.use_ssl()
    serve_pixel_page(httpd, pixel_js,
                     {"trackId": ID1, "trackDomain": f"127.0.0.1:{httpd.port}/analytics"})
    httpd.start(RELAY.format(ids=ID1))
    out = run_browser(httpd, node, locale="de-DE")
    req, _ = assert_relayed_to_stub(httpd, track_server, out, f"/{ID1}/wt")
    (sent,) = [r for r in out["requests"] if urllib.parse.urlsplit(r["url"]).path == f"/analytics/{ID1}/wt"]
    browser = sent["headers"]  # lower-case names, as Chromium sent them
    for name in ("Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform"):
        assert browser.get(name.lower()), f"Chromium did not send {name}: {browser}"
        assert req.headers.get_all(name) == [browser[name.lower()]], (name, req.headers, browser)
    assert "Chromium" in req.headers.get("Sec-CH-UA"), req.headers
    hints = sorted(k.lower() for k in req.headers.keys() if k.lower().startswith("sec-ch-ua"))
    assert hints == sorted(k for k in browser if k.startswith("sec-ch-ua")), (hints, browser)
    assert browser.get("accept-language", "").startswith("de-DE"), browser
    assert req.headers.get_all("Accept-Language") == [browser["accept-language"]], req.headers
    assert req.headers.get("Referer") == browser.get("referer") == f"{httpd.url}/pixel.html", \
        (req.headers, browser)
