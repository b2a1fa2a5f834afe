"""The inspector's HTML page (SetHandler mapptrack-inspect) as a browser renders it.

The module tracks its pages to the inspector of the same server (MappTrackDomain
http://127.0.0.1:PORT/inspect, as in test/integration/test_inspect.py); more hits
are sent to the inspector directly. inspector.mjs opens the page in headless
Chromium and prints what was rendered (read from the DOM, not the HTML source):
the good hit decoded with names and no rule broken, the malformed hit with its
rules flagged, hostile text as text with no script run, and all of it without
JavaScript."""

import datetime
import json
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest

from support import EID_RE, ID1, marker

HERE = os.path.dirname(os.path.abspath(__file__))
INSPECTOR_MJS = os.path.join(HERE, "inspector.mjs")
PLAYWRIGHT = os.path.join(HERE, "node_modules", "playwright-core", "package.json")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
USER_AGENT = "InspectorBrowserTest/1.0 (rendered)"
GOOD_EID = "2157022839400562014"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'

SELF_TRACKING = f"""
MappTrack On
MappTrackId {ID1}
MappTrackDomain http://127.0.0.1:@PORT@/inspect
MappTrackBatchSize 1
<Location /inspect>
    SetHandler mapptrack-inspect
    Require local
</Location>
"""


@pytest.fixture(scope="session")
def inspector_tools():
    """node; runs setup.sh when something is missing, skips when that does not help.
    (Only Chromium, node and playwright-core: this page needs no Smart Pixel.)"""
    def missing():
        out = []
        if not os.access(CHROMIUM, os.X_OK):
            out.append(f"chromium ({CHROMIUM})")
        if not shutil.which("node"):
            out.append("node")
        if not os.path.isfile(PLAYWRIGHT):
            out.append("npm playwright-core (test/browser/node_modules)")
        return out
    if missing():
        subprocess.run(["bash", os.path.join(HERE, "setup.sh")], capture_output=True, text=True,
                       timeout=900)
    if missing():
        pytest.skip("inspector browser test needs " + ", ".join(missing())
                    + " (test/browser/setup.sh could not install them)")
    return shutil.which("node")


def inspected(httpd):
    r = httpd.get("/inspect/?format=json")
    assert r.status == 200, r
    return json.loads(r.body)["hits"]


def wait_inspected(httpd, needle, timeout=10.0):
    """The stored hit whose line contains needle (waits for the module's delivery)."""
    deadline = time.time() + timeout
    while True:
        found = [h for h in inspected(httpd) if needle in h["line"]]
        if found:
            return found[0]
        if time.time() > deadline:
            raise AssertionError(f"no inspected hit with {needle}: {inspected(httpd)}")
        time.sleep(0.05)


def populate(httpd):
    """Starts apache2 and makes three hits: the module's own for a page request, a
    malformed one and one carrying hostile text, both sent to the inspector directly."""
    httpd.start(SELF_TRACKING)
    good, bad, hostile = marker(), marker(), marker()
    before = datetime.datetime.now(datetime.timezone.utc)
    r = httpd.get(f"/page.html?m={good}", headers={"User-Agent": USER_AGENT})
    assert r.status == 200, r
    wait_inspected(httpd, good)
    now = int(time.time() * 1000)
    # ever-ID of 3 digits, a value of 300 characters, eor not last
    r = httpd.get(f"/inspect/{ID1}/wt?p=600,{bad},,,,,{now},0,,&eid=123&cs1={'x' * 300}"
                  "&eor=1&la=de")
    assert r.status == 200 and r.headers.get("content-type") == "image/gif", r
    q = urllib.parse.quote
    r = httpd.get(f"/inspect/{ID1}/wt?p=600,{q(SCRIPT, safe='')},,,,,{now},0,,&eid={GOOD_EID}"
                  f"&cp1={q(SCRIPT, safe='')}&cs2={q(IMG, safe='')}&cp2={hostile}&eor=1")
    assert r.status == 200, r
    wait_inspected(httpd, hostile)
    after = datetime.datetime.now(datetime.timezone.utc)
    return {"good": good, "bad": bad, "hostile": hostile, "before": before, "after": after,
            "port": httpd.port}


def render(httpd, node, javascript=True, expect_hits=3, canary=False):
    config = {"url": f"{httpd.url}/inspect/", "javaScript": javascript, "expectHits": expect_hits,
              "timeoutMs": 20000, "canary": canary}
    p = subprocess.run([node, INSPECTOR_MJS, json.dumps(config)], cwd=HERE, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"inspector.mjs failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["errors"] == [], f"browser errors: {out['errors']}\nconsole: {out['console']}"
    assert out["status"] == 200 and out["contentType"].startswith("text/html"), out
    assert out["title"] == "mod_mapptrack inspector", out["title"]
    return out


def section(out, needle):
    found = [s for s in out["sections"] if needle in (s["line"] or "")]
    assert len(found) == 1, (needle, [s["line"] for s in out["sections"]])
    return found[0]


def params(sec):
    """parameter -> (meaning, value), from the rendered rows of the parameter table."""
    assert sec["paramHeader"] == ["parameter", "meaning", "value"], sec["paramHeader"]
    assert all(len(row) == 3 for row in sec["params"]), sec["params"]
    return {key: (meaning, value) for key, meaning, value in sec["params"]}


def page_fields(sec):
    assert sec["pageHeader"] == ["p"], sec["pageHeader"]
    assert all(len(row) == 2 for row in sec["pageFields"]), sec["pageFields"]
    return dict((label, value) for label, value in sec["pageFields"])


def assert_good_hit(sec, hits, before, after):
    """The module's hit for /page.html?m=…, as rendered: decoded, named, no rule broken."""
    assert sec["visible"], sec
    assert sec["heading"].endswith(f"GET for track IDs {ID1}"), sec["heading"]
    assert sec["violations"] == [] and sec["rules"] == [], sec["violations"]
    assert sec["ok"] == "No rule broken.", sec
    fields = page_fields(sec)
    assert fields["version"].isdigit(), fields
    assert fields["page name"] == f"127.0.0.1:{hits['port']}/page.html", fields
    assert fields["page name"] == hits["page_name"], (fields, hits["page_name"])  # = its JSON
    client_ms = int(fields["client time (ms)"])
    assert before.timestamp() - 1 <= client_ms / 1000 <= after.timestamp() + 1, (fields, before)
    ps = params(sec)
    eid_meaning, eid = ps["eid"]
    assert eid_meaning == "ever-ID" and EID_RE.fullmatch(eid), ps
    assert sec["everId"] == eid, (sec["everId"], eid)
    assert ps["X-WT-IP"] == ("visitor IP", "127.0.0.1"), ps
    assert ps["X-WT-UA"] == ("visitor user agent", USER_AGENT), ps
    assert ps["eor"] == ("end of request", "1"), ps
    assert list(ps)[-1] == "eor", list(ps)
    assert ps["X-WT-RQ"] == ("page URL (as requested)",
                             f"http://127.0.0.1:{hits['port']}/page.html?m={hits['good']}"), ps
    assert sec["visitor"] == f"Visitor: ever-ID {eid}, IP 127.0.0.1, user agent {USER_AGENT}", sec
    # arrival time: "received 2024-05-01T12:00:00.123Z (0 s ago)", between the request and
    # the moment the inspector had it
    received, ago = sec["received"].removeprefix("received ").split(" (", 1)
    assert sec["received"].startswith("received ") and ago.endswith(" s ago)"), sec["received"]
    at = datetime.datetime.strptime(received, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    slack = datetime.timedelta(seconds=1)
    assert before - slack <= at <= after + slack, (at, before, after)


def good_page_name(httpd, m):
    """What the inspector decoded as the page name (its JSON), for the rendered one to match."""
    (hit,) = [h for h in inspected(httpd) if m in h["line"]]
    return [f["value"] for f in hit["page"] if f["label"] == "page name"][0]


def test_good_page_hit_is_rendered_decoded_without_violations(httpd, inspector_tools):
    hits = populate(httpd)
    hits["page_name"] = good_page_name(httpd, hits["good"])
    out = render(httpd, inspector_tools)
    assert "3 hit(s)." in out["bodyText"], out["bodyText"][:500]
    assert_good_hit(section(out, hits["good"]), hits, hits["before"], hits["after"])


def test_malformed_hit_shows_the_broken_rules(httpd, inspector_tools):
    hits = populate(httpd)
    out = render(httpd, inspector_tools)
    sec = section(out, hits["bad"])
    assert sec["ok"] is None, sec
    assert sorted(sec["rules"]) == ["cs1", "eid", "eor"], sec["violations"]
    assert "eid: the ever-ID \"123\" is not 19 digits" in sec["violations"], sec["violations"]
    assert "cs1: the value is 300 characters, over 255" in sec["violations"], sec["violations"]
    assert "eor: not the last parameter (what follows it may be ignored)" in sec["violations"], \
        sec["violations"]
    assert sec["everId"] == "123", sec
    ps = params(sec)
    assert ps["cs1"] == ("session parameter 1", "x" * 300), ps["cs1"]
    assert list(ps) == ["p", "eid", "cs1", "eor", "la"], list(ps)
    assert page_fields(sec)["page name"] == hits["bad"], sec["pageFields"]


def test_hostile_text_is_rendered_as_text_and_no_script_runs(httpd, inspector_tools):
    hits = populate(httpd)
    out = render(httpd, inspector_tools, canary=True)
    sec = section(out, hits["hostile"])
    ps = params(sec)
    assert ps["cp1"] == ("page parameter 1", SCRIPT), ps
    assert ps["cs2"] == ("session parameter 2", IMG), ps
    assert page_fields(sec)["page name"] == SCRIPT, sec["pageFields"]
    assert sec["violations"] == [] and sec["ok"] == "No rule broken.", sec
    assert f"&cp1={urllib.parse.quote(SCRIPT, safe='')}&" in sec["line"], sec["line"]  # as sent
    # nothing of it became markup, nothing ran, nothing was fetched
    assert out["scripts"] == 0, out["scripts"]
    assert out["images"] == 0, out["images"]
    assert out["elementsWithHandlers"] == [], out["elementsWithHandlers"]
    assert out["dialogs"] == [], out["dialogs"]
    assert [(r["type"], urllib.parse.urlsplit(r["url"]).path) for r in out["requests"]] == \
        [("document", "/inspect/")], out["requests"]
    # and neither the context nor the listener was deaf: a page's script runs there, an
    # alert raised in the page is seen
    assert out["contextRunsScripts"] is True, out
    assert out["canaryDialog"] == {"type": "alert", "message": "canary"}, out["canaryDialog"]


def test_page_works_without_javascript(httpd, inspector_tools):
    hits = populate(httpd)
    hits["page_name"] = good_page_name(httpd, hits["good"])
    out = render(httpd, inspector_tools, javascript=False)
    assert out["javaScript"] is False
    assert out["contextRunsScripts"] is False, "the context still runs a page's scripts"
    assert [s["visible"] for s in out["sections"]] == [True, True, True], out["sections"]
    assert_good_hit(section(out, hits["good"]), hits, hits["before"], hits["after"])
    assert sorted(section(out, hits["bad"])["rules"]) == ["cs1", "eid", "eor"]
    assert params(section(out, hits["hostile"]))["cp1"][1] == SCRIPT
    assert out["dialogs"] == [] and out["scripts"] == 0, out
