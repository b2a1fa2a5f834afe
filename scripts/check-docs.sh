#!/bin/sh
# The docs keep up with the code: test/integration/test_docs.py (directives:
# entries, syntax, defaults, contexts; message IDs; MAPPTRACK outcomes). Pure
# Python, no httpd started. Run by `make check` (TESTS in Makefile.am).
here=$(cd "$(dirname "$0")/.." && pwd)
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider --noconftest "$here/test/integration/test_docs.py"
