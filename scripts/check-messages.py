#!/usr/bin/python3
"""Every log message has one ID, used at one call site, and one row in the table.

Run by `make check` (TESTS in Makefile.am). Reads mod_mapptrack/ and
docs/operations.md's "## Log messages" table; fails when:
- a log call's message does not start with an ID `MTnnnn: `;
- an ID is used at more than one call site;
- an ID the code logs has no row in the table, or a row names an ID no code logs;
- the table lists an ID twice.
"""

import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = os.path.join(REPO, "mod_mapptrack")
TABLE = os.path.join(REPO, "docs", "operations.md")

# A log call: httpd's ap_log_*error or the core's Logger (log_ / log / logger),
# recognised by its level argument.
CALL = re.compile(r"\b(ap_log_[rc]?error|log_|log|logger)\s*\((?=[^;]*?(APLOG_|LogLevel::))")
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def rel(path):
    return os.path.relpath(path, REPO)


def call_sites():
    """[(id or None, file:line)] for every log call in the code."""
    sites = []
    for root, _, names in os.walk(CODE):
        for name in sorted(names):
            if not name.endswith((".cpp", ".h")):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in CALL.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                lit = LITERAL.search(text, m.end())
                mid = re.match(r"(MT[0-9]{4}): ", lit.group(1)) if lit else None
                sites.append((mid.group(1) if mid else None, f"{rel(path)}:{line}"))
    return sites


def table_ids():
    """{id: line} of the table's rows, and the problems found reading it."""
    rows, problems, inside = {}, [], False
    with open(TABLE, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#"):
                inside = line.strip() == "## Log messages"
                continue
            m = re.match(r"\|\s*`(MT[0-9]{4})`\s*\|", line) if inside else None
            if not m:
                continue
            if m.group(1) in rows:
                problems.append(f"{rel(TABLE)}:{n}: {m.group(1)} is listed twice (also line {rows[m.group(1)]})")
            rows.setdefault(m.group(1), n)
    return rows, problems


def main():
    sites = call_sites()
    rows, problems = table_ids()
    if len(sites) < 40 or not rows:
        problems.append(f"found only {len(sites)} log calls and {len(rows)} table rows: "
                        "has the way messages are logged changed? Update scripts/check-messages.py")
    seen = {}
    for mid, where in sites:
        if mid is None:
            problems.append(f"{where}: a log message without an ID (it must start with \"MTnnnn: \")")
            continue
        if mid in seen:
            problems.append(f"{where}: {mid} is already used at {seen[mid]}; give this message its own ID")
        seen.setdefault(mid, where)
        if mid not in rows:
            problems.append(f"{where}: {mid} has no row in {rel(TABLE)}'s \"## Log messages\" table")
    for mid, n in sorted(rows.items()):
        if mid not in seen:
            problems.append(f"{rel(TABLE)}:{n}: {mid} is listed, but no code logs it")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"check-messages: {len(seen)} IDs at {len(sites)} call sites, {len(rows)} rows: "
          f"{'FAIL' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
