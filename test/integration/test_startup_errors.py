"""Start-up errors stop the start visibly: a spool directory
the module refuses (MT0016) is found while the configuration is checked, so
`apachectl configtest` fails with the reason, and so does `apache2 -k start`,
which used to exit 0 because the refusal came in post_config's second pass,
after httpd had detached. The check changes nothing on disk.
"""

import os
import pwd
import re
import socket

import pytest

from support import tracking


def www_data():
    pw = pwd.getpwnam("www-data")
    return pw.pw_uid, pw.pw_gid


def state(path):
    """What configtest must not change: the path's type, owner and mode (or absence)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_uid, st.st_gid, st.st_mode


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def owned_by_nobody(root):
    path = os.path.join(root, "spool")
    os.mkdir(path, 0o700)
    nobody = pwd.getpwnam("nobody")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return path, (rf"it is owned by uid {nobody.pw_uid}, not by User \(uid {www_data()[0]}\): "
                  rf"chown {www_data()[0]} {re.escape(path)}")


def world_writable(root):
    path = os.path.join(root, "spool")
    os.mkdir(path)
    os.chown(path, *www_data())
    os.chmod(path, 0o777)
    return path, rf"it is group- or world-writable \(mode 0777\).*chmod 0700 {re.escape(path)}"


def symlink(root):
    target = os.path.join(root, "elsewhere")
    os.mkdir(target, 0o700)
    os.chown(target, *www_data())
    path = os.path.join(root, "spool")
    os.symlink(target, path)
    return path, r"it is a symbolic link; point MappTrackSpoolDir at a real directory"


def regular_file(root):
    path = os.path.join(root, "spool")
    with open(path, "w") as f:
        f.write("not a directory\n")
    return path, r"it is not a directory"


def parent_missing(root):
    path = os.path.join(root, "no", "such", "spool")
    return path, (rf"its parent is not an existing directory \({re.escape(os.path.dirname(path))}: "
                  r"No such file or directory\); create it \(mode 0700, owned by User\)")


CASES = {"owned-by-nobody": owned_by_nobody, "world-writable": world_writable,
         "symlink": symlink, "regular-file": regular_file, "parent-missing": parent_missing}


@pytest.mark.parametrize("case", CASES)
def test_unusable_spool_dir_fails_configtest_and_k_start_with_the_reason(httpd, case):
    path, why = CASES[case](httpd.root)
    body = tracking() + f'MappTrackSpoolDir "{path}"\n'
    reason = rf"MT00(?:16|19): MappTrackSpoolDir {re.escape(path)} cannot be used: {why}"
    before = state(path)

    ok, out = httpd.configtest(body)
    assert not ok, out
    assert re.search(reason, out), out
    assert state(path) == before, "configtest changed the spool path"

    rc, out = httpd.start_exit_code(body)
    assert rc != 0, f"apache2 -k start exited 0 although the module refused to run:\n{out}"
    assert re.search(reason, out), out
    assert state(path) == before, "a refused start changed the spool path"
    assert not listening(httpd.port), "apache2 is serving although it refused to start"


def test_a_missing_spool_dir_is_only_checked_by_configtest_and_made_by_k_start(httpd):
    """The good case, for contrast: configtest passes without creating anything;
    `-k start` exits 0 and the server makes the directory for User, mode 0700."""
    path = os.path.join(httpd.root, "newspool")
    body = tracking() + f'MappTrackSpoolDir "{path}"\n'
    ok, out = httpd.configtest(body)
    assert ok, out
    assert not os.path.exists(path), "configtest created the spool directory"

    rc, out = httpd.start_exit_code(body)
    assert rc == 0, out
    st = os.lstat(path)
    assert (st.st_uid, st.st_gid) == www_data() and st.st_mode & 0o7777 == 0o700


def test_a_spool_dir_only_making_it_can_refuse_still_fails_k_start(httpd):
    """/proc accepts no new directory, although root may write there as far as
    permissions go: configtest cannot tell, creating it can. The server makes
    the directory in the first pass, before it detaches, so `-k start` fails."""
    path = "/proc/mapptrack-spool"
    body = tracking() + f'MappTrackSpoolDir "{path}"\n'
    ok, out = httpd.configtest(body)
    print(f"\nconfigtest: {out.strip()}")  # passes where permissions are all it can see
    rc, out = httpd.start_exit_code(body)
    log = httpd.error_log()
    assert rc != 0, f"apache2 -k start exited 0 although the module refused to run:\n{out}{log}"
    # By then httpd has opened its logs (stderr goes there too): the reason is in ErrorLog.
    assert re.search(rf"MT00(?:16|19): MappTrackSpoolDir {re.escape(path)} cannot be used: cannot create it", log), out + log
    assert not listening(httpd.port)
