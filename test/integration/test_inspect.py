"""The inspector (SetHandler mapptrack-inspect): a local track server that shows what
the module sends, decoded and checked against Mapp's rules, kept in shared memory."""

import json
import time

from support import EID_RE, ID1, marker, raw_request, settle

INSPECT = """
<Location /inspect>
    SetHandler mapptrack-inspect
    Require local
</Location>
"""


def self_tracking(batch=1, extra=""):
    # The module tracks to the inspector of the same server.
    return (f"MappTrack On\nMappTrackId {ID1}\nMappTrackDomain http://127.0.0.1:@PORT@/inspect\n"
            f"MappTrackBatchSize {batch}\n{extra}" + INSPECT)


def inspected(httpd):
    r = httpd.get("/inspect/?format=json")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("application/json")
    return json.loads(r.body)["hits"]


def wait_inspected(httpd, predicate, n=1, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        hits = [h for h in inspected(httpd) if predicate(h)]
        if len(hits) >= n:
            return hits
        if time.time() > deadline:
            raise AssertionError(f"expected {n} inspected hit(s), got {hits}")
        time.sleep(0.1)


def with_marker(m):
    return lambda h: m in h["line"]


def param(hit, key):
    values = [p["value"] for p in hit["params"] if p["key"] == key]
    return values[0] if values else None


def test_module_hits_are_shown_decoded_without_violations(httpd):
    httpd.start(self_tracking())
    m = marker()
    r = httpd.get(f"/page.html?m={m}", headers={"User-Agent": "InspectorTest/1.0",
                                                 "Referer": "https://elsewhere.example/x"})
    assert r.status == 200
    hit = wait_inspected(httpd, with_marker(m))[0]
    assert hit["method"] == "GET"
    assert hit["track_ids"] == ID1
    assert hit["violations"] == [], hit["violations"]
    labels = [f["label"] for f in hit["page"]]
    assert "page name" in labels and "referrer" in labels
    assert EID_RE.fullmatch(hit["identity"]["ever_id"]), hit["identity"]
    assert hit["identity"]["ip"] == "127.0.0.1"
    assert hit["identity"]["user_agent"] == "InspectorTest/1.0"
    assert param(hit, "eor") == "1"
    assert all(p["label"] for p in hit["params"] if p["key"] in ("eid", "X-WT-IP", "X-WT-UA", "pu", "eor"))
    # The HTML page shows the same hit, readable without JavaScript.
    page = httpd.get("/inspect/")
    assert page.status == 200
    assert page.headers.get("content-type", "").startswith("text/html")
    text = page.body.decode()
    assert "<script" not in text.lower()
    assert m in text and "InspectorTest/1.0" in text and "no rule broken" in text.lower()


def test_batches_are_taken_and_answered_like_the_track_server(httpd):
    httpd.start(self_tracking(batch=10, extra="MappTrackBatchDelay 100\n"))
    ms = [marker() for _ in range(4)]
    for m in ms:
        assert httpd.get(f"/page.html?m={m}").status == 200
    for m in ms:
        hit = wait_inspected(httpd, with_marker(m))[0]
        assert hit["method"] == "POST"
        assert hit["violations"] == [], hit
    # Answered as Mapp does: 200 for a batch, the GIF for a GET.
    r = httpd.post(f"/inspect/{ID1}/batch", b"wt?p=600,x,,,,,1,0,,&eor=1\n")
    assert r.status == 200
    r = httpd.get(f"/inspect/{ID1}/wt?p=600,x,,,,,{int(time.time() * 1000)},0,,&eor=1")
    assert r.status == 200 and r.headers.get("content-type") == "image/gif"


def test_violations_are_flagged(httpd):
    httpd.start(INSPECT)
    now = int(time.time() * 1000)
    m = marker()
    bad = [
        (f"/inspect/{ID1}/wt?p=600,{m}a,,,,,{now},0,,&eid=123&eor=1", "ever-ID"),
        (f"/inspect/{ID1}/wt?p=600,{m}b,,,,,{now},0,,&cs1={'x' * 300}&eor=1", "255"),
        (f"/inspect/{ID1}/wt?p=600,{m}c,,,,,{now},0,,&eor=1&la=de", "eor"),
        (f"/inspect/{ID1}/wt?p=600,{m}d,,,,,{now},0,,", "eor"),
        (f"/inspect/{ID1}/wt?p=abc,{m}e&eor=1", "p"),
        (f"/inspect/{ID1}/wt?p=600,{m}f,,,,,1000,0,,&eor=1", "client time"),
        (f"/inspect/{ID1}/wt?p=600,{m}g,,,,,{now},0,,&cs1={'y' * 7300}&eor=1", "7"),
    ]
    for path, _ in bad:
        assert httpd.get(path).status == 200
    hits = inspected(httpd)
    for (path, word), tag in zip(bad, "abcdefg"):
        found = [h for h in hits if f"{m}{tag}" in h["line"]]
        assert len(found) == 1, path
        assert found[0]["violations"], (path, found[0])
        assert any(word.lower() in v.lower() for v in found[0]["violations"]), (word, found[0]["violations"])
    good = f"/inspect/{ID1}/wt?p=600,{m}ok,,,,,{now},0,,&eid=2157022839400562014&eor=1"
    assert httpd.get(good).status == 200
    ok = [h for h in inspected(httpd) if f"{m}ok" in h["line"]]
    assert ok[0]["violations"] == []


def test_hostile_values_are_escaped_and_only_mapp_cookies_kept(httpd):
    httpd.start(INSPECT)
    now = int(time.time() * 1000)
    path = (f"/inspect/{ID1}/wt?p=600,%3Cscript%3Ealert(1)%3C%2Fscript%3E,,,,,{now},0,,"
            "&cs1=%22%3E%3Cimg%20src%3Dx%3E&eor=1")
    r = httpd.get(path, headers={"Cookie": "wteid_111111111111111=2157022839400562014; session=SECRET123"})
    assert r.status == 200
    page = httpd.get("/inspect/").body.decode()
    assert "<script>alert(1)" not in page and "<img src=x>" not in page
    assert "&lt;script&gt;" in page
    assert "SECRET123" not in page
    doc = httpd.get("/inspect/?format=json").body.decode()
    assert "SECRET123" not in doc
    hit = json.loads(doc)["hits"][0]
    assert hit["identity"]["ever_id"] == "2157022839400562014"
    assert param(hit, "cs1") == '"><img src=x>'
    # Garbage in the path or the body costs only itself.
    status, _, _ = raw_request(httpd.port, b"GET /inspect/%00/wt?%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status in (200, 400, 404)
    r = httpd.post(f"/inspect/{ID1}/batch", b"\x00\xff garbage\n\n" + b"&" * 5000)
    assert r.status == 200
    assert httpd.get("/inspect/?format=json").status == 200
    assert httpd.get("/inspect/").status == 200


def test_inspect_size_bounds_what_is_kept_server_wide(httpd):
    httpd.start("MappTrackInspectSize 5\n" + INSPECT)
    now = int(time.time() * 1000)
    m = marker()
    for i in range(8):  # separate connections: several children take them
        assert httpd.get(f"/inspect/{ID1}/wt?p=600,{m}n{i},,,,,{now},0,,&eor=1").status == 200
    for _ in range(4):
        hits = inspected(httpd)
        assert [h["line"].split(",")[1] for h in hits] == [f"{m}n{i}" for i in range(7, 2, -1)]


def test_methods_refused(httpd):
    httpd.start(INSPECT)
    assert httpd.post(f"/inspect/{ID1}/wt?p=1", b"").status == 405
    assert httpd.get(f"/inspect/{ID1}/batch").status == 405
    assert httpd.post("/inspect/", b"").status == 405
    settle(0.2)
