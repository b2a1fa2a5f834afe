"""Server-wide figures: mapptrack-status (JSON, Prometheus) and mod_status's section.

The figures are summed over every child in shared memory, so whichever child
answers, they must equal what the track server received and what the pages'
MAPPTRACK outcomes say — also after faults and a graceful restart.
"""

import json
import re
import time

from harness import MODDIR
from support import ID1, ID2, marker, parse_prometheus, settle, tracking

STATUS = """
<Location /mt-status>
    SetHandler mapptrack-status
    MappTrack Off
    Require local
</Location>
"""
MOD_STATUS = f"""
LoadModule status_module {MODDIR}/mod_status.so
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
    Require local
</Location>
"""
# Delivery warnings the faults cause on purpose: failed, refused (4xx), queue full,
# not delivered at the stop, queue full with the spool on.
FAULT_IDS = ("MT0101", "MT0103", "MT0201", "MT0202", "MT0209")


def status_json(httpd):
    r = httpd.get("/mt-status")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("application/json")
    return json.loads(r.body)


def row(doc, ids=ID1):
    rows = [x for x in doc["rows"] if x["track_ids"] == ids]
    assert len(rows) == 1, doc["rows"]
    return rows[0]


def prometheus(httpd):
    r = httpd.get("/mt-status?format=prometheus")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/plain; version=0.0.4")
    return r.body.decode()


def prom_samples(text):
    """{(name, frozenset(labels)): value} and the families with HELP and TYPE."""
    samples, helps, types = parse_prometheus(text)
    return {(name, frozenset(labels.items())): value for name, labels, value in samples}, helps, types


def prom_value(samples, name, **labels):
    want = set(labels.items())
    total = 0.0
    found = False
    for (n, ls), v in samples.items():
        if n == name and want <= set(ls):
            total += v
            found = True
    assert found, f"no sample {name}{labels}"
    return total


def wait_settled(httpd, ids=ID1, timeout=60.0):
    """Until every queued hit is sent or dropped (nothing in memory or the spool)."""
    deadline = time.time() + timeout
    while True:
        doc = status_json(httpd)
        r = row(doc, ids)
        if r["queued"] == r["sent"] + sum(r["dropped"].values()) and doc["queue_depth"] == 0:
            return doc
        if time.time() > deadline:
            raise AssertionError(f"figures never settled: {json.dumps(r, indent=1)}")
        time.sleep(0.2)


def wait_figures(httpd, condition, timeout=20.0):
    """Until the figures meet `condition` (the stub records a hit before the module
    has its answer, so a hit can be received and not yet counted as sent)."""
    deadline = time.time() + timeout
    while True:
        doc = status_json(httpd)
        try:
            if condition(doc):
                return doc
        except AssertionError:
            pass
        if time.time() > deadline:
            raise AssertionError(f"the figures never met the condition: {json.dumps(doc, indent=1)}")
        time.sleep(0.1)


def outcomes(httpd, markers):
    out = {}
    for m in markers:
        entries = httpd.access_entries(m)
        assert len(entries) == 1, (m, entries)
        out.setdefault(entries[0].mapptrack, []).append(m)
    return out


def pages(httpd, n, prefix="/page.html"):
    ms = []
    for _ in range(n):
        m = marker()
        assert httpd.get(f"{prefix}?m={m}").status == 200
        ms.append(m)
    return ms


def test_figures_equal_what_the_track_server_received_after_faults(httpd, track_server):
    httpd.expect_messages(*FAULT_IDS)
    # No spool: a tiny queue then drops what it cannot hold (skipped:queue-full).
    httpd.start(tracking(extra="MappTrackQueueSize 3\nMappTrackSpoolMaxSize 0\nMappTrackTimeout 3000\n"
                         "MappTrackRetries 30\n") + STATUS + MOD_STATUS)
    all_markers = []

    # 1. healthy (each hit delivered before the next page: the queue holds 3)
    ok = []
    for _ in range(8):
        ok += pages(httpd, 1)
        track_server.wait_marker(ok[-1])
    all_markers += ok

    # 2. the track server refuses (4xx): dropped as rejected
    track_server.status(400)
    refused = []
    for _ in range(3):
        refused += pages(httpd, 1)
        track_server.wait_marker(refused[-1])
    all_markers += refused
    doc = wait_settled(httpd)
    track_server.normal()
    assert row(doc)["dropped"]["rejected"] == 3
    assert "400" in (row(doc)["last_error"] or {}).get("message", "")

    # 3. down for a while: hits wait in memory (bounded by the queue) and go out later
    track_server.down()
    during = pages(httpd, 3)
    all_markers += during
    wait_figures(httpd, lambda doc: row(doc)["retried"] > 0)  # their delivery failed
    # 4. a graceful restart in the middle: the figures are kept
    before = row(status_json(httpd))
    httpd.graceful()
    after = row(status_json(httpd))
    assert after["pages"] >= before["pages"] and after["queued"] >= before["queued"]
    track_server.up()

    # 5. queue overflow: a slow track server and a burst
    track_server.delay(1.0)
    burst = pages(httpd, 25)
    all_markers += burst
    track_server.normal()

    doc = wait_settled(httpd)
    r = row(doc)
    out = outcomes(httpd, all_markers)
    got = track_server.hits(lambda h: any(m in (h.get("X-WT-RQ") or "") for m in all_markers))
    accepted = [h for h in got if not any(m in (h.get("X-WT-RQ") or "") for m in refused)]

    assert r["pages"] == len(all_markers)
    assert r["queued"] == len(out.get("queued", []))
    assert r["skipped"]["queue_full"] == len(out.get("skipped:queue-full", [])) > 0
    assert r["sent"] == len(accepted)
    assert r["dropped"]["rejected"] == 3
    assert r["latency"]["count"] == r["sent"]
    assert r["requests"] >= r["sent"]
    assert r["retried"] > 0  # the hits of the outage
    assert r["vhost"].startswith("127.0.0.1")

    # The same figures in Prometheus text
    text = prometheus(httpd)
    samples, helps, types = prom_samples(text)
    families = {n for (n, _) in samples}
    for n in families:
        base = re.sub(r"_(bucket|sum|count)$", "", n) if types.get(n) is None else n
        assert base in helps and base in types, f"{n}: no # HELP/# TYPE"
    for kind in ("pages", "hits_queued", "hits_sent", "hits_retried"):
        assert types[f"mapptrack_{kind}_total"] == "counter"
    assert prom_value(samples, "mapptrack_pages_total", track_id=ID1) == r["pages"]
    assert prom_value(samples, "mapptrack_hits_queued_total", track_id=ID1) == r["queued"]
    assert prom_value(samples, "mapptrack_hits_sent_total", track_id=ID1) == r["sent"]
    assert prom_value(samples, "mapptrack_hits_dropped_total", track_id=ID1, reason="rejected") == 3
    assert prom_value(samples, "mapptrack_pages_skipped_total", track_id=ID1,
                      reason="queue_full") == r["skipped"]["queue_full"]
    assert types["mapptrack_delivery_latency_seconds"] == "histogram"
    assert prom_value(samples, "mapptrack_delivery_latency_seconds_count", track_id=ID1) == r["sent"]
    assert prom_value(samples, "mapptrack_delivery_latency_seconds_bucket", track_id=ID1,
                      le="+Inf") == r["sent"]

    # And on mod_status's page (?auto and HTML)
    auto = httpd.get("/server-status?auto").body.decode()
    assert f"MappTrackSent: {r['sent']}\n" in auto
    assert f"MappTrackPages: {r['pages']}\n" in auto
    page = httpd.get("/server-status").body.decode()
    assert "mod_mapptrack" in page and ID1 in page


def test_figures_are_server_wide_and_per_vhost(httpd, track_server):
    """Many connections reach different children; every answer shows them all."""
    httpd.start(tracking() + STATUS + f"""
<VirtualHost *:@PORT@>
    ServerName other.example
    MappTrack On
    MappTrackId {ID2}
    MappTrackDomain @TRACK@
    MappTrackBatchSize 1
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName 127.0.0.1
</VirtualHost>
""")
    a = pages(httpd, 12)
    b = []
    for _ in range(5):
        m = marker()
        assert httpd.get(f"/page.html?m={m}", host="other.example").status == 200
        b.append(m)
    for m in a + b:
        track_server.wait_marker(m)
    wait_figures(httpd, lambda doc: row(doc, ID1)["sent"] == 12 and row(doc, ID2)["sent"] == 5)
    for _ in range(6):  # fresh connections: any child may answer
        doc = wait_settled(httpd)
        assert row(doc, ID1)["sent"] == 12 and row(doc, ID1)["pages"] == 12
        assert row(doc, ID2)["sent"] == 5 and row(doc, ID2)["pages"] == 5
        assert row(doc, ID2)["vhost"].startswith("other.example")
        assert doc["totals"]["sent"] == 17


def test_not_page_and_skips_counted(httpd, track_server):
    httpd.start(tracking() + STATUS)
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    track_server.wait_marker(m)
    assert httpd.get("/image.png").status in (200, 404)
    assert httpd.get(f"/page.html?m={marker()}", headers={"Cookie": "webtrekkOptOut=1"}).status == 200
    assert httpd.get(f"/page.html?m={marker()}", headers={"Sec-Purpose": "prefetch"}).status == 200
    r = row(wait_figures(httpd, lambda doc: row(doc)["sent"] == 1 and row(doc)["pages"] == 3))
    assert r["skipped"]["optout"] == 1
    assert r["skipped"]["prefetch"] == 1
    assert r["skipped"]["not_page"] >= 1
    assert r["pages"] == 3  # the tracked page, the opted-out one and the prefetch
    assert r["sent"] == 1


def test_status_refuses_other_methods_and_is_not_tracked(httpd, track_server):
    httpd.start(tracking() + STATUS)
    r = httpd.post("/mt-status", b"x")
    assert r.status == 405
    assert "GET" in r.headers.get("allow", "")
    assert httpd.get("/mt-status?format=prometheus").status == 200
    settle()
    assert track_server.hits() == []
    assert httpd.head("/mt-status").status == 200


def test_status_location_can_be_protected(httpd, track_server):
    httpd.start(tracking() + """
<Location /mt-status>
    SetHandler mapptrack-status
    Require ip 192.0.2.1
</Location>
""")
    httpd.expect_messages("AH01630")  # client denied by server configuration
    assert httpd.get("/mt-status").status == 403


def test_relay_requests_and_fallbacks_counted(httpd, track_server):
    httpd.expect_messages("MT0105")
    httpd.start(tracking() + STATUS + """
<Location /wt>
    SetHandler mapptrack-proxy
</Location>
""")
    q = f"p=600,page,0,0,0,0,{int(time.time() * 1000)},0,0,0&eor=1"
    r = httpd.get(f"/wt/{ID1}/wt?{q}")
    assert r.status == 200
    track_server.wait_hits(1)
    track_server.down()
    r = httpd.get(f"/wt/{ID1}/wt?{q}")
    assert r.status == 200 and r.headers.get("content-type") == "image/gif"
    doc = status_json(httpd)
    x = row(doc)
    assert x["relay_requests"] == 2
    assert x["relay_fallbacks"] == 1
    assert x["sent"] >= 1
    assert x["last_error"] and "Couldn't connect" in x["last_error"]["message"]
    track_server.up()
