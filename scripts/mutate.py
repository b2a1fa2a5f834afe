#!/usr/bin/python3
"""Mutation check: are the tests able to catch real bugs?

Applies each one-line mutation of test/mutations/mutations.txt to the source
tree, one at a time; rebuilds build/mutate; runs the unit tests and then the
integration tests of the mutation's area (event MPM only); puts the file back.
A mutation the tests do not notice "survived": the target is none. Run through
scripts/mutate.sh (it builds first). Not part of .ci/run: it takes a while.

  scripts/mutate.sh [-k WORD] [--list]
    -k WORD   only the mutations whose area or file contains WORD
    --list    show the mutations and the suites each would run
"""

import os
import re
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build", "mutate")
MUTATIONS = os.path.join(TOP, "test", "mutations", "mutations.txt")

# The integration tests that speak for each area (the unit tests always run).
SUITES = {
    "encoding": ["test_encoding.py", "test_relay_hostile.py"],
    "page": ["test_capture.py", "test_condition.py", "test_hit_content.py"],
    "identity": ["test_identity.py", "test_privacy.py"],
    "privacy": ["test_privacy.py", "test_identity.py"],
    "delivery": ["test_delivery_bounds.py", "test_relay.py", "test_sync.py"],
    "spool": ["test_spool_hostile.py"],
    "relay": ["test_relay.py", "test_relay_content.py", "test_relay_hostile.py"],
}


def read_mutations():
    text = "\n".join(line for line in open(MUTATIONS, encoding="utf-8").read().splitlines()
                     if not line.startswith("#"))
    out = []
    for record in re.split(r"\n\s*\n", text):
        if not record.strip():
            continue
        fields = dict(re.findall(r"^(area|file|old|new): (.*)$", record, re.M))
        missing = {"area", "file", "old", "new"} - set(fields)
        if missing:
            sys.exit(f"mutate: a record lacks {sorted(missing)}:\n{record}")
        fields["new"] = fields["new"].replace("<NL>", "\n")
        fields["kind"] = fields["area"].split(":")[0].split()[0]
        if fields["kind"] not in SUITES:
            sys.exit(f"mutate: unknown area '{fields['kind']}' (one of {', '.join(SUITES)})")
        out.append(fields)
    return out


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", **kw)


def check(m):
    """(killed?, by what) for one mutation applied to the tree; killed is None
    when the mutated tree does not compile (a mistake in the list, not a kill)."""
    built = run(["make", "-C", BUILD, "-j2", "all", "test/unit/unit_tests"])
    if built.returncode != 0:
        return None, "it does not compile: fix the record"
    unit = run([os.path.join(BUILD, "test", "unit", "unit_tests")])
    if unit.returncode != 0:
        failed = re.findall(r"Failure in TEST\((\w+), (\w+)\)", unit.stdout)
        return True, "unit tests" + (f" ({failed[0][0]}.{failed[0][1]}…)" if failed else "")
    env = dict(os.environ, MAPPTRACK_MODULE=os.path.join(BUILD, "mod_mapptrack", ".libs", "mod_mapptrack.so"),
               MAPPTRACK_PATHS=os.path.join(BUILD, "test", "integration", "paths.ini"), MAPPTRACK_MPMS="event")
    tests = [os.path.join(TOP, "test", "integration", t) for t in SUITES[m["kind"]]]
    it = run(["/usr/bin/python3", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], env=env, cwd=TOP)
    if it.returncode != 0:
        failed = re.findall(r"^FAILED (\S+)", it.stdout, re.M)
        return True, "integration" + (f" ({failed[0].split('/')[-1]})" if failed else "")
    return False, ""


def main():
    args = sys.argv[1:]
    known = {"--list", "-k"}
    if "-h" in args or "--help" in args or any(
        a.startswith("-") and a not in known for a in args
    ) or (args and args[-1] == "-k"):
        print(__doc__.strip() if __doc__ else "usage: scripts/mutate.sh [-k WORD] [--list]")
        return 0 if ("-h" in args or "--help" in args) else 2
    word = args[args.index("-k") + 1] if "-k" in args else None
    mutations = [m for m in read_mutations() if not word or word in m["area"] or word in m["file"]]
    if "--list" in args:
        for i, m in enumerate(mutations, 1):
            print(f"{i:2}. {m['area']}\n    {m['file']}; unit + {', '.join(SUITES[m['kind']])}")
        return 0
    survived, started = [], time.time()
    for i, m in enumerate(mutations, 1):
        path = os.path.join(TOP, m["file"])
        original = open(path, encoding="utf-8").read()
        if original.count(m["old"]) != 1:
            print(f"{i:2}/{len(mutations)} STALE    {m['area']}: the old text is not in {m['file']} exactly once")
            survived.append(m)
            continue
        # Put the file back whatever happens (Ctrl-C included).
        restore = lambda *_: open(path, "w", encoding="utf-8").write(original)
        previous = signal.signal(signal.SIGINT, lambda *_: (restore(), sys.exit(130)))
        try:
            open(path, "w", encoding="utf-8").write(original.replace(m["old"], m["new"], 1))
            t0 = time.time()
            killed, by = check(m)
        finally:
            restore()
            signal.signal(signal.SIGINT, previous)
        label = "ok      " if killed else "BROKEN  " if killed is None else "SURVIVED"
        detail = f"killed by {by}" if killed else by if killed is None else ""
        print(f"{i:2}/{len(mutations)} {label} {m['area']} ({time.time() - t0:.0f} s{', ' + detail if detail else ''})",
              flush=True)
        if not killed:
            survived.append(m)
    run(["make", "-C", BUILD, "-j2", "all", "test/unit/unit_tests"])  # the build as the tree is
    print(f"\n{len(mutations) - len(survived)} killed, {len(survived)} survived, in {time.time() - started:.0f} s")
    for m in survived:
        print(f"  survived (or broken): {m['area']} ({m['file']})")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
