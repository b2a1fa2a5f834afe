"""Fixtures for the browser tests: the integration suite's `httpd` and
`track_server` fixtures (test/integration/conftest.py, on the harness of
test/integration/harness.py), run under the event MPM only, and `browser_tools`,
which makes sure Chromium, node and the npm packages are there
(test/browser/setup.sh)."""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

BROWSER_DIR = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(BROWSER_DIR), "integration")
sys.path.insert(0, INTEGRATION)  # trackstub, mapphit, support

_spec = importlib.util.spec_from_file_location("mapptrack_integration_conftest",
                                               os.path.join(INTEGRATION, "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _integration
_spec.loader.exec_module(_integration)

# Its fixtures, hooks and marker, under this conftest's name too.
from mapptrack_integration_conftest import *  # noqa: E402,F401,F403

PIXEL_JS = os.path.join(BROWSER_DIR, "node_modules", "@webtrekk-smart-pixel", "core", "dist",
                        "smart-pixel.min.js")
PLAYWRIGHT = os.path.join(BROWSER_DIR, "node_modules", "playwright-core", "package.json")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def mpm():
    """One MPM is enough for the browser: the relay is tested under all three in
    test/integration/test_relay.py."""
    return "event"


@pytest.fixture(scope="session")
def browser_tools():
    """(node, smart-pixel.min.js); runs setup.sh first when something is missing."""
    def ready():
        return (os.access(CHROMIUM, os.X_OK) and shutil.which("node")
                and os.path.isfile(PIXEL_JS) and os.path.isfile(PLAYWRIGHT))
    if not ready():
        p = subprocess.run(["bash", os.path.join(BROWSER_DIR, "setup.sh")], capture_output=True,
                           text=True, timeout=900)
        if p.returncode != 0 or not ready():
            pytest.fail(f"browser test setup failed (test/browser/setup.sh, rc={p.returncode}):\n"
                        f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}", pytrace=False)
    return shutil.which("node"), PIXEL_JS
