"""MappTrackCondition is decided by its evaluation after the response
(docs/directives.md): response headers and notes that handlers and
filters set while the body is sent count. The identity filter looks at the
condition when the body starts only to decide the new visitor's cookie (and,
in sync mode, to send the hit, which cannot wait).

The late values are real ones: mod_headers' `Header set` runs as an output
filter after the module's identity filter, so the header it sets exists only
after the body started.
"""

import re

from support import ID1, hits_by_marker, marker, settle, tracking

KNOWN = "wteid_" + ID1 + "=4170000000012345678"

# Pages only, minus those mod_headers marks noindex: true when the body starts
# (the header is not set yet), false after the response.
NOINDEX = r"""
MappTrackCondition "%{CONTENT_TYPE} =~ m#^text/html# && ! %{resp:X-Robots-Tag} =~ /noindex/"
<Location /special>
    Header set X-Robots-Tag noindex
</Location>
"""

# Only what mod_headers marks: false when the body starts, true after it.
MARKED = r"""
MappTrackCondition "%{resp:X-Track} == 'yes'"
<Location /special>
    Header set X-Track yes
</Location>
"""


def outcome(httpd, m):
    (entry,) = httpd.wait_access(m)
    return entry


def test_true_when_the_body_starts_false_after_the_response_sends_no_hit(httpd, track_server):
    httpd.start(tracking() + NOINDEX)
    m_noindex, m_page = marker(), marker()
    r = httpd.get(f"/special/page.html?m={m_noindex}")
    assert r.status == 200 and r.headers.get("x-robots-tag") == "noindex"
    # Decided when the headers left: a new visitor gets the ever-ID cookie
    # (documented), although the hit is not sent.
    assert any(c.startswith(f"wteid_{ID1}=") for c in r.set_cookies), r.set_cookies
    assert httpd.get(f"/page.html?m={m_page}").status == 200
    track_server.wait_marker(m_page)
    settle()
    assert set(hits_by_marker(track_server.hits())) == {m_page}
    assert outcome(httpd, m_noindex).mapptrack == "skipped:not-page"
    assert outcome(httpd, m_page).mapptrack == "queued"


def test_false_when_the_body_starts_true_after_the_response_sends_the_hit(httpd, track_server):
    httpd.start(tracking() + MARKED)
    m_new, m_known, m_plain = marker(), marker(), marker()
    r = httpd.get(f"/special/page.html?m={m_new}")
    assert r.status == 200 and r.headers.get("x-track") == "yes"
    # No cookie could be decided when the headers left: the hit goes without an ever-ID.
    assert not r.set_cookies, r.set_cookies
    assert httpd.get(f"/special/index.html?m={m_known}", headers={"Cookie": KNOWN}).status == 200
    assert httpd.get(f"/page.html?m={m_plain}").status == 200
    track_server.wait_marker(m_new)
    track_server.wait_marker(m_known)
    settle()
    by = hits_by_marker(track_server.hits())
    assert set(by) == {m_new, m_known}
    assert all(len(v) == 1 for v in by.values())
    assert by[m_new][0].get("eid") is None and by[m_new][0].get("one") is None
    assert by[m_known][0].get("eid") == KNOWN.split("=")[1]
    assert outcome(httpd, m_new).mapptrack == "queued"
    assert outcome(httpd, m_known).mapptrack == "queued"
    assert outcome(httpd, m_plain).mapptrack == "skipped:not-page"


def test_sync_mode_sends_when_the_body_starts_so_that_evaluation_decides(httpd, track_server):
    """Documented exception: MappTrackMode sync sends the hit before the headers
    leave; a condition that turns false afterwards cannot call it back."""
    httpd.start(tracking(extra="MappTrackMode sync\n") + NOINDEX)
    m = marker()
    assert httpd.get(f"/special/page.html?m={m}").status == 200
    (hit,) = track_server.wait_marker(m)
    assert outcome(httpd, m).mapptrack == "sent"


def test_a_304_is_judged_with_the_content_type_it_was_sent_with(httpd, track_server):
    """httpd drops a 304's content type before the log phase; a condition on
    CONTENT_TYPE sees it as the response had it, like the built-in rule."""
    httpd.start(tracking() + 'MappTrackCondition "%{CONTENT_TYPE} =~ m#^text/html#"\n')
    m1, m2 = marker(), marker()
    first = httpd.get(f"/page.html?m={m1}")
    assert first.status == 200 and first.headers.get("etag")
    again = httpd.get(f"/page.html?m={m2}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status == 304
    track_server.wait_marker(m1)
    track_server.wait_marker(m2)
    assert outcome(httpd, m2).mapptrack == "queued"


def test_a_condition_failing_at_run_time_logs_one_line_per_process_and_tracks_nothing(
        httpd, track_server):
    """file() on a missing file fails when evaluated. httpd's own 'Evaluation of
    expression … failed' line is not written: MT0020 says it all, at most once a
    minute per process, however many requests fail."""
    httpd.expect_messages("MT0020", required=True)
    httpd.start(tracking() + 'MappTrackCondition "file(\'@ROOT@/missing.txt\') == \'x\'"\n')
    ms = [marker() for _ in range(12)]
    for m in ms:
        assert httpd.get(f"/page.html?m={m}").status == 200
    for m in ms:
        assert outcome(httpd, m).mapptrack == "skipped:not-page"
    httpd.wait_log(r"\[mapptrack:warn\].*MT0020: MappTrackCondition \(.*:\d+\) failed for "
                   r"/page\.html: Cannot open file .*/missing\.txt; not tracked")
    settle()
    assert track_server.hits() == []
    log = httpd.error_log()
    assert "Evaluation of expression" not in log, log
    lines = [line for line in log.splitlines() if "MT0020" in line]
    pids = [re.search(r"\[pid (\d+)", line).group(1) for line in lines]
    assert lines and len(pids) == len(set(pids)), f"more than one MT0020 line per process:\n{log}"
