"""A spool that trusts nothing (docs/delivery.md, docs/security.md): each test does
what a local attacker with write access near the spool would do, and asserts
the safe outcome.

- The spool directory is a symlink, world-writable, or owned by someone else:
  the start is refused with MT0016 and the reason, and root never chowns
  through the symlink.
- A FIFO and a symlink to /dev/zero are named like a segment: never read, the
  good segment next to them is delivered, MT0208 is logged once a minute at
  most, the children stay small and alive.
- A planted segment names a host the configuration does not use, a proxy, a
  line that walks to another path, or a cookie with an injected header:
  nothing of it reaches anywhere but the configured endpoint, as a hit.
"""

import os
import pwd
import re
import subprocess
import time

import pytest

from harness import APACHE
from support import (ID1, children, delivered, hits_by_marker, marker, rss_kib, settle, tracking,
                     wait_delivered)
from test_delivery import give_to_www_data, hit_line, spool_record, spool_record_v1


def www_data():
    pw = pwd.getpwnam("www-data")
    return pw.pw_uid, pw.pw_gid


def make_spool(httpd, name="spool"):
    """A spool directory as the operator should make it: www-data's, mode 0700."""
    path = os.path.join(httpd.root, name)
    os.makedirs(path)
    os.chmod(path, 0o700)
    give_to_www_data(path)
    return path


def start_fails(httpd, body):
    """Starts apache2 in the foreground the way an operator would; returns (rc, log)."""
    conf = httpd.write_config(body)
    p = subprocess.run([APACHE, "-f", conf, "-DFOREGROUND"], capture_output=True, text=True,
                       env=httpd.env(), timeout=30)
    return p.returncode, httpd.error_log() + p.stdout + p.stderr


def plant_segment(spool, records, name="seg-4000000-1700000000000-1.mts"):
    """A segment of a process long gone, as www-data would have left it."""
    path = os.path.join(spool, name)
    with open(path, "wb") as f:
        f.write(b"".join(records))
    give_to_www_data(path)
    return path


def good_records(httpd, track_server, n):
    endpoint = f"{track_server.url}/{ID1}"
    base = int(time.time() * 1000) - 600_000
    ms = [marker() for _ in range(n)]
    recs = [spool_record(endpoint, hit_line(f"http://127.0.0.1:{httpd.port}/page.html?m={m}", base + i),
                         queued_ms=base + i)
            for i, m in enumerate(ms)]
    return ms, recs


def stat_of(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, st.st_mode


# -- the directory ---------------------------------------------------------------------

@pytest.mark.parametrize("target_owner", ["root", "www-data"])
def test_symlinked_spool_dir_is_refused_and_root_never_chowns_its_target(httpd, target_owner):
    """The attacker (www-data) makes the configured spool path a symlink to a
    directory it wants to own, or to one it owns: the server does not start,
    says why, and the target's owner and mode are what they were."""
    httpd.expect_messages("MT0016", "MT0019")
    target = os.path.join(httpd.root, "target")
    os.makedirs(target)
    os.chmod(target, 0o700)
    if target_owner == "www-data":
        give_to_www_data(target)
    with open(os.path.join(target, "secret"), "w") as f:
        f.write("root's file\n")
    spool = os.path.join(httpd.root, "run", "spool")
    os.symlink(target, spool)
    before = stat_of(target), stat_of(os.path.join(target, "secret"))
    body = tracking() + f'MappTrackSpoolDir "{spool}"\n'
    reason = rf"MT00(?:16|19): MappTrackSpoolDir {re.escape(spool)} cannot be used: it is a symbolic link"

    ok, out = httpd.configtest(body)
    assert not ok and re.search(reason, out), out
    rc, log = start_fails(httpd, body)
    assert rc != 0, log
    assert re.search(reason + r"; point MappTrackSpoolDir at a real directory", log), log
    assert (stat_of(target), stat_of(os.path.join(target, "secret"))) == before, \
        "root followed the symlink and changed the target"
    assert os.path.islink(spool)


def test_symlink_to_a_root_file_as_spool_dir_gives_nothing_away(httpd):
    """The classic: the spool path is a symlink to a file of root's (here one in
    the server root); starting must not hand it to www-data."""
    httpd.expect_messages("MT0016", "MT0019")
    victim = os.path.join(httpd.root, "conf", "victim.conf")
    with open(victim, "w") as f:
        f.write("# root's\n")
    os.chmod(victim, 0o600)
    spool = os.path.join(httpd.root, "run", "spool")
    os.symlink(victim, spool)
    before = stat_of(victim)
    rc, log = start_fails(httpd, tracking() + f'MappTrackSpoolDir "{spool}"\n')
    assert rc != 0, log
    assert f"MT0016: MappTrackSpoolDir {spool} cannot be used: it is a symbolic link" in log, log
    assert stat_of(victim) == before


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o770, 0o702])
def test_group_or_world_writable_spool_dir_is_refused(httpd, mode):
    """Anyone who may write there could plant hits or delete the real ones."""
    httpd.expect_messages("MT0016", "MT0019")
    spool = make_spool(httpd)
    os.chmod(spool, mode)
    body = tracking() + f'MappTrackSpoolDir "{spool}"\n'
    reason = (rf"MT00(?:16|19): MappTrackSpoolDir {re.escape(spool)} cannot be used: it is group- or "
              rf"world-writable.*chmod 0700 {re.escape(spool)}")
    ok, out = httpd.configtest(body)
    assert not ok and re.search(reason, out), out
    rc, log = start_fails(httpd, body)
    assert rc != 0 and re.search(reason, log), log
    assert os.stat(spool).st_mode & 0o7777 == mode, "not silently changed"


def test_spool_dir_owned_by_another_user_is_refused_and_not_chowned(httpd):
    """A directory of `nobody`'s: the server says whose it is and what to do,
    and does not take it over."""
    httpd.expect_messages("MT0016", "MT0019")
    nobody = pwd.getpwnam("nobody")
    spool = os.path.join(httpd.root, "spool")
    os.makedirs(spool)
    os.chmod(spool, 0o700)
    os.chown(spool, nobody.pw_uid, nobody.pw_gid)
    rc, log = start_fails(httpd, tracking() + f'MappTrackSpoolDir "{spool}"\n')
    assert rc != 0, log
    assert re.search(rf"MT00(?:16|19): MappTrackSpoolDir {re.escape(spool)} cannot be used: it is owned by "
                     rf"uid {nobody.pw_uid}, not by User.*chown \S+ {re.escape(spool)}", log), log
    assert os.stat(spool).st_uid == nobody.pw_uid


def test_missing_spool_dir_is_created_for_www_data_mode_0700(httpd, track_server):
    spool = os.path.join(httpd.root, "newspool")
    httpd.start(tracking() + f'MappTrackSpoolDir "{spool}"\n')
    st = os.lstat(spool)
    assert (st.st_uid, st.st_gid) == www_data()
    assert st.st_mode & 0o7777 == 0o700
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    track_server.wait_marker(m)


# -- files named like segments ------------------------------------------------------------

def test_fifo_and_dev_zero_symlink_named_like_segments_are_never_read(httpd, track_server):
    """Before: the FIFO blocked a delivery thread, /dev/zero was read until
    memory ran out, and every attempt was logged. Now both are skipped (MT0208,
    once a minute per process), the good segment next to them is delivered, and
    the server stays healthy and small."""
    httpd.expect_messages("MT0208", required=True)
    spool = make_spool(httpd)
    ms, recs = good_records(httpd, track_server, 6)
    plant_segment(spool, recs, "seg-4000000-1700000000000-2.mts")
    fifo = os.path.join(spool, "seg-4000000-1700000000000-1.mts")
    os.mkfifo(fifo, 0o600)
    zero = os.path.join(spool, "seg-4000001-1700000000000-1.mts")
    os.symlink("/dev/zero", zero)
    uid, gid = www_data()
    os.chown(fifo, uid, gid)  # of the right owner: the type alone is refused
    os.lchown(zero, uid, gid)

    httpd.start(tracking() + f'MappTrackSpoolDir "{spool}"\n')
    got, took = wait_delivered(track_server, ms, timeout=20)
    assert got == {m: 1 for m in ms}, f"good records not delivered: {got}"
    # more than one rescan of the directory (every 5 s)
    time.sleep(7)
    m = marker()
    assert httpd.get(f"/page.html?m={m}").status == 200
    track_server.wait_marker(m, timeout=5)
    log = httpd.error_log()
    lines = [l for l in log.splitlines() if " MT0208: " in l]
    per_pid = {}
    for l in lines:
        pid = re.search(r"\[pid (\d+)", l)
        per_pid[pid.group(1) if pid else "?"] = per_pid.get(pid.group(1) if pid else "?", 0) + 1
    print(f"\n[{httpd.mpm}] good segment delivered in {took:.1f}s; MT0208 lines: {len(lines)} "
          f"({per_pid}); children {children(httpd)} RSS "
          f"{[rss_kib(p) for p in children(httpd)]} KiB")
    assert lines, "the refusal is logged"
    assert all(n <= 1 for n in per_pid.values()), f"MT0208 not rate-limited: {lines}"
    assert any("not a regular file" in l for l in lines) or any("symbolic link" in l for l in lines)
    assert httpd.running
    kids = children(httpd)
    assert kids, "no child alive"
    if os.environ.get("MAPPTRACK_SANITIZE") != "1":
        assert max(rss_kib(p) for p in kids) < 200 * 1024, "a child's memory blew up"
    assert os.path.exists(fifo) and os.path.islink(zero), "left alone, not deleted"
    assert not os.path.exists(os.path.join(spool, "seg-4000000-1700000000000-2.mts"))


def test_oversized_file_named_like_a_segment_is_not_read(httpd, track_server):
    """A (sparse) 64 MiB file: far more than a segment can hold; never read into memory."""
    httpd.expect_messages("MT0208", required=True)
    spool = make_spool(httpd)
    ms, recs = good_records(httpd, track_server, 3)
    big = plant_segment(spool, recs[:1], "seg-4000000-1700000000000-1.mts")
    os.truncate(big, 64 << 20)
    plant_segment(spool, recs, "seg-4000000-1700000000000-2.mts")
    httpd.start(tracking() + f'MappTrackSpoolDir "{spool}"\n')
    got, _ = wait_delivered(track_server, ms, timeout=20)
    assert got == {m: 1 for m in ms}, got
    httpd.wait_log(r"MT0208: \S+seg-4000000-1700000000000-1\.mts is named like a spool file but is "
                   r"not read: it holds 67108864 bytes")
    assert os.path.getsize(big) == 64 << 20


# -- planted records -------------------------------------------------------------------------

def test_planted_records_reach_only_the_configured_endpoint_as_hits(httpd, track_server, track_server2):
    """A segment planted by someone who can write to the spool: records for a
    host and port the configuration does not use (track_server2), an MTS1
    record naming track_server2 as its proxy with a timeout of 0, a line that
    walks to another path, a cookie that injects a header. track_server2 gets
    nothing; the configured track server gets only the good hits, as hits."""
    httpd.expect_messages("MT0109", "MT0117", "MT0207")
    spool = make_spool(httpd)
    ms, good = good_records(httpd, track_server, 4)
    base = int(time.time() * 1000) - 600_000
    stray = [marker() for _ in range(3)]
    foreign = f"{track_server2.url}/{ID1}"
    ours = f"{track_server.url}/{ID1}"
    url = f"http://127.0.0.1:{httpd.port}/page.html?m="
    planted = [
        spool_record(foreign, hit_line(url + stray[0], base), queued_ms=base),
        spool_record(f"http://evil/x/../{ID1}", hit_line(url + stray[1], base), queued_ms=base),
        spool_record(ours, "../../../private/admin?cmd=1", queued_ms=base),
        spool_record(ours, hit_line(url + stray[2], base), queued_ms=base,
                     cookies=f"wteid_{ID1}=4000000000000000001\r\nX-Injected: 1"),
        spool_record_v1(ours, hit_line(url + ms[3], base), proxy=track_server2.url, timeout_ms=0,
                        batch_size=1, queued_ms=base),
    ]
    plant_segment(spool, [good[0], planted[0], good[1], planted[1], planted[2], good[2],
                          planted[3], planted[4]])
    httpd.start(tracking() + f'MappTrackSpoolDir "{spool}"\n')
    got, _ = wait_delivered(track_server, ms, timeout=20)
    settle(2)
    got = delivered(track_server)
    assert got == {m: 1 for m in ms}, f"good hits: {got}"
    assert track_server2.requests() == [], \
        f"a planted record reached a host the configuration does not use: {track_server2.requests()}"
    for r in track_server.requests():
        assert "private" not in r.target and "admin" not in r.target, r
        assert r.headers.get("X-Injected") is None, r
        assert r.path.startswith(f"/{ID1}/"), r
    assert not any(m in got for m in stray)
    assert set(hits_by_marker(track_server.hits())) <= set(ms)
