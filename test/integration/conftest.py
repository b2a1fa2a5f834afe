"""Fixtures and hooks for the mod_mapptrack integration tests. The harness
itself (apache2 under a temporary ServerRoot, the stub track servers, the
error-log rules, ports) is harness.py; its docstring lists the environment.

Markers (scripts/test.sh runs `-n N --dist loadgroup -m "not serial"`, then
`-m serial`):
  serial       the test asserts on timing with a margin that a busy machine could
               eat: it runs in the second pass, alone.
  heavy(name)  the test loads the machine (thousands of requests, big spools):
               under pytest-xdist the heavy tests of one name (default "load")
               run one after the other on one worker (an xdist_group), and are
               scheduled first; beside them the light tests run in parallel.
"""

import os

import pytest

from harness import MODULE, MPMS, NO_MODULE, Httpd, TrackServers


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: asserts on timing; run alone, after the parallel pass")
    config.addinivalue_line(
        "markers", "heavy(name='load'): loads the machine; under xdist one at a time per name")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Heavy tests first, each name in its own xdist group (loadgroup scheduling)."""
    heavy = []
    for item in items:
        mark = item.get_closest_marker("heavy")
        if mark is not None:
            name = mark.args[0] if mark.args else mark.kwargs.get("name", "load")
            item.add_marker(pytest.mark.xdist_group(f"heavy-{name}"))
            heavy.append(item)
    if heavy:
        ids = {id(item) for item in heavy}
        items[:] = heavy + [item for item in items if id(item) not in ids]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def module_path():
    if NO_MODULE:
        return None
    if not os.path.isfile(MODULE):
        pytest.fail(f"mod_mapptrack not found at {MODULE}: build it first "
                    f"(or set MAPPTRACK_MODULE to the built .so)", pytrace=False)
    return MODULE


@pytest.fixture(params=MPMS)
def mpm(request):
    return request.param


@pytest.fixture
def track_servers():
    ts = TrackServers()
    yield ts
    ts.close()


@pytest.fixture
def track_server(track_servers):
    """The stub Mapp track server (@TRACK@ in a config body)."""
    return track_servers.servers[0] if track_servers.servers else track_servers.new()


@pytest.fixture
def track_server2(track_servers, track_server):
    """A second stub track server (@TRACK2@)."""
    return track_servers.new()


@pytest.fixture
def httpd(request, mpm, module_path, track_servers, track_server):
    h = Httpd(mpm, track_servers, request)
    yield h
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    problems = h.cleanup(failed)
    if problems:
        pytest.fail("unexpected error-log lines (server root kept at "
                    f"{h.root}):\n" + "\n".join(problems[:50]), pytrace=False)
