#!/usr/bin/python3
"""Stub track server for scripts/test-package.sh: test/integration/trackstub.py on
a free loopback port. Usage: stub.py DIR. Writes the port to DIR/port, then each
hit as a JSON line to DIR/hits.jsonl. SIGUSR1 stops listening (connections are
refused), SIGUSR2 listens again on the same port. Runs until killed."""

import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import trackstub  # noqa: E402

out = sys.argv[1]
server = trackstub.TrackServer()
# In a thread of its own: the handler may interrupt the main thread holding the stub's lock.
signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=server.down).start())
signal.signal(signal.SIGUSR2, lambda *_: threading.Thread(target=server.up).start())
with open(os.path.join(out, "port.tmp"), "w") as f:
    f.write(f"{server.port}\n")
os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))  # whole or absent

written = 0
while True:
    try:
        hits = server.wait_hits(written + 1, timeout=60)
    except AssertionError:  # none within the timeout: wait again
        continue
    with open(os.path.join(out, "hits.jsonl"), "a") as f:
        for h in hits[written:]:
            f.write(json.dumps({"ids": h.ids, "p": h.p, "params": dict(h.params)}) + "\n")
    written = len(hits)
