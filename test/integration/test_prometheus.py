"""A real Prometheus scrapes the mapptrack-status handler, and the example
alerting rules (httpd-conf/prometheus-alerts.yml) are valid and name only what
the module exports.

Needs Debian's `prometheus` package (/usr/bin/prometheus, /usr/bin/promtool);
without it the tests that run them are skipped. Prometheus runs on 127.0.0.1
with its configuration and TSDB in pytest's temporary directory, never in the
repository.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

import pytest
import yaml

import harness
import mapphit
from support import ID1, marker, parse_prometheus, tracking

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
RULES = os.path.join(harness.REPO, "httpd-conf", "prometheus-alerts.yml")
JOB = "mapptrack"
STATUS_PATH = "/mt-status"
STATUS = f"""
<Location {STATUS_PATH}>
    SetHandler mapptrack-status
    MappTrack Off
    Require ip 127.0.0.1
</Location>
"""
# MT0103, as the refused hits of make_traffic make the module log it
REFUSED_LINE = r"\[mapptrack:warn\] .*MT0103: track server .* refused \d+ hit\(s\) with "
DEADLINE = 30.0


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


needs_promtool = pytest.mark.skipif(
    not _executable(PROMTOOL), reason=f"{PROMTOOL} not installed (Debian package prometheus)")
needs_prometheus = pytest.mark.skipif(
    not (_executable(PROMETHEUS) and _executable(PROMTOOL)),
    reason=f"{PROMETHEUS} or {PROMTOOL} not installed (Debian package prometheus)")


# -- the module's side ------------------------------------------------------------

def status_json(httpd):
    r = httpd.get(STATUS_PATH)
    assert r.status == 200, r
    return json.loads(r.body)


def status_text(httpd):
    r = httpd.get(STATUS_PATH + "?format=prometheus")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"), r.headers
    return r.body.decode()


def row(doc, ids=ID1):
    rows = [x for x in doc["rows"] if x["track_ids"] == ids]
    assert len(rows) == 1, doc["rows"]
    return rows[0]


def wait_json(httpd, condition, what, timeout=DEADLINE):
    """Poll the JSON figures until `condition(doc)` holds."""
    deadline = time.time() + timeout
    while True:
        doc = status_json(httpd)
        if condition(doc):
            return doc
        if time.time() > deadline:
            raise AssertionError(f"the module's figures never reached {what}: "
                                 f"{json.dumps(doc, indent=1)}")
        time.sleep(0.1)


def settled(doc):
    r = row(doc)
    return r["queued"] == r["sent"] + sum(r["dropped"].values()) and doc["queue_depth"] == 0


def parse_exposition(text):
    """(types {family: type}, samples [(name, {label: value}, value)])."""
    samples, _, types = parse_prometheus(text)
    return types, samples


def page(httpd, headers=None):
    m = marker()
    assert httpd.get(f"/page.html?m={m}", headers=headers).status == 200
    return m


def make_traffic(httpd, track_server, n_ok, n_optout, n_prefetch, n_refused, on_row=None, between=None):
    """One tracked page (its row appears: then `on_row(vhost)`), the other tracked pages,
    opted-out and prefetched ones (skips), then (after `between(vhost)`) pages whose hits
    the track server refuses with 400 (dropped: rejected). Returns the markers by kind."""
    assert n_ok >= 1
    first = page(httpd)
    track_server.wait_marker(first)
    vhost = row(wait_json(httpd, lambda d: row(d)["sent"] == 1, "1 sent"))["vhost"]
    if on_row is not None:
        on_row(vhost)
    out = {"ok": [first] + [page(httpd) for _ in range(n_ok - 1)],
           "optout": [page(httpd, {"Cookie": "webtrekkOptOut=1"}) for _ in range(n_optout)],
           "prefetch": [page(httpd, {"Sec-Purpose": "prefetch"}) for _ in range(n_prefetch)]}
    for m in out["ok"]:
        track_server.wait_marker(m)
    wait_json(httpd, lambda d: row(d)["sent"] == n_ok and row(d)["pages"] == n_ok + n_optout + n_prefetch,
              f"{n_ok} sent")
    if between is not None:
        between(vhost)
    if n_refused:
        track_server.status(400)
        out["refused"] = [page(httpd) for _ in range(n_refused)]
        for m in out["refused"]:
            track_server.wait_marker(m)
        wait_json(httpd, lambda d: row(d)["dropped"]["rejected"] == n_refused and settled(d),
                  f"{n_refused} rejected")
        httpd.wait_log(REFUSED_LINE)  # the test expects MT0103
        track_server.normal()
    return out


# -- Prometheus -------------------------------------------------------------------

class Prometheus:
    """One prometheus process on 127.0.0.1 with its files under `workdir`."""

    def __init__(self, workdir):
        self.dir = str(workdir)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "prometheus.log")

    def start(self, target_port, metrics_path, rule_files=()):
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": list(rule_files),
            "scrape_configs": [{
                "job_name": JOB,
                "metrics_path": metrics_path,
                "params": {"format": ["prometheus"]},
                "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
            }],
        }
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            yaml.safe_dump(config, f)
        check = subprocess.run([PROMTOOL, "check", "config", self.config], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, f"promtool check config:\n{check.stdout}{check.stderr}"
        for _ in range(3):  # the free port may be taken before prometheus binds it
            self.port = harness.free_port()
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.config}",
                 f"--storage.tsdb.path={os.path.join(self.dir, 'tsdb')}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=info"],
                cwd=self.dir, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
            if self._wait_ready():
                return self
            self.stop()
            if "address already in use" not in self.log():
                break
        pytest.fail(f"prometheus did not become ready:\n{self.log()[-5000:]}")

    def _wait_ready(self, timeout=DEADLINE):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, _ = self._get("/-/ready")
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def _get(self, path):
        # http.client, not urllib: no proxy from the environment for 127.0.0.1
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def api(self, endpoint, **params):
        path = f"/api/v1/{endpoint}"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        status, body = self._get(path)
        doc = json.loads(body)
        assert status == 200 and doc.get("status") == "success", f"GET {path}: {status} {doc}"
        return doc["data"]

    def query(self, promql):
        """The instant vector of `promql` as [({labels}, value)]."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def value(self, promql):
        """The single value of `promql`, or None while it has no result."""
        result = self.query(promql)
        assert len(result) <= 1, f"{promql}: more than one series: {result}"
        return result[0][1] if result else None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.port is not None:
            harness.release_port(self.port)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None


@pytest.fixture
def prometheus(httpd, tmp_path):
    """Depends on httpd, so it stops before apache2 does (no scrape open at its stop)."""
    p = Prometheus(tmp_path)
    try:
        yield p
    finally:
        p.stop()


def wait_target_up(prom, timeout=DEADLINE):
    deadline = time.time() + timeout
    targets = None
    while time.time() < deadline:
        targets = [t for t in prom.api("targets")["activeTargets"] if t["labels"].get("job") == JOB]
        if len(targets) == 1 and targets[0]["health"] == "up":
            return targets[0]
        time.sleep(0.2)
    raise AssertionError(f"the scrape target never became up: {targets}\n{prom.log()[-3000:]}")


def wait_prom(prom, promql, expected, timeout=DEADLINE):
    """Poll until Prometheus's value of `promql` equals `expected`, then assert it."""
    deadline = time.time() + timeout
    while True:
        got = prom.value(promql)
        if got == expected or time.time() > deadline:
            break
        time.sleep(0.2)
    assert got == expected, f"Prometheus has {promql} = {got}, expected {expected}"


def selector(**labels):
    return "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in labels.items()) + "}"


# -- the rules file ------------------------------------------------------------------

def load_rules():
    with open(RULES) as f:
        doc = yaml.safe_load(f)
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert rules, "no rules"
    return doc, rules


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset"}


def expr_metric_names(expr):
    """The mapptrack_* metric names an expression reads."""
    return set(re.findall(r"\bmapptrack_[a-zA-Z0-9_]+\b", expr))


def expr_label_names(expr):
    """Label names an expression groups by, matches on, or selects."""
    names = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        names.update(n.strip() for n in group.split(",") if n.strip())
    for body in re.findall(r"\{([^}]*)\}", expr):
        names.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", body))
    return names - PROMQL_WORDS


def expr_matchers(expr):
    """(label, operator, value) of every label matcher in an expression."""
    out = []
    for body in re.findall(r"\{([^}]*)\}", expr):
        out += re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', body)
    return out


# -- tests -----------------------------------------------------------------------------

@needs_prometheus
def test_prometheus_scrapes_the_figures(httpd, track_server, prometheus):
    """Prometheus scrapes /mt-status?format=prometheus; the values it stores equal what
    the stub track server received and what the test sent; the example rules load and
    evaluate on the real series, and exactly the alerts the traffic calls for go pending."""
    httpd.expect_messages("MT0103", required=True)
    httpd.start(tracking() + STATUS)
    prometheus.start(httpd.port, STATUS_PATH, rule_files=[RULES])
    target = wait_target_up(prometheus)
    assert target["scrapeUrl"] == f"http://127.0.0.1:{httpd.port}{STATUS_PATH}?format=prometheus"
    assert target["lastError"] == ""

    wait_prom(prometheus, f'count(mapptrack_start_time_seconds{selector(job=JOB)})', 1)
    # Prometheus scrapes each stage, so the rules' rate() sees every rise: the row at
    # its first page (drops at 0), the tracked pages, then the refusals.
    def scraped(sent):
        def wait(vhost):
            wait_prom(prometheus, "mapptrack_hits_dropped_total"
                      + selector(job=JOB, vhost=vhost, track_id=ID1, reason="rejected"), 0)
            wait_prom(prometheus, f"mapptrack_hits_sent_total{selector(job=JOB, vhost=vhost, track_id=ID1)}",
                      sent)
        return wait

    traffic = make_traffic(httpd, track_server, n_ok=7, n_optout=2, n_prefetch=3, n_refused=4,
                           on_row=scraped(1), between=scraped(7))
    doc = wait_json(httpd, settled, "settled")
    vhost = row(doc)["vhost"]
    assert vhost.startswith("127.0.0.1"), vhost

    # What the stub received, request by request.
    requests = track_server.requests()
    sent = [h for r in requests if r.outcome == 200 for h in mapphit.hits_from_request(r)]
    refused = [h for r in requests if r.outcome == 400 for h in mapphit.hits_from_request(r)]
    assert len(sent) + len(refused) == sum(len(mapphit.hits_from_request(r)) for r in requests)
    marks = lambda hits: sorted(re.search(r"[?&]m=(m[0-9a-f]{16})", h.get("X-WT-RQ")).group(1)
                                for h in hits)
    assert marks(sent) == sorted(traffic["ok"])
    assert marks(refused) == sorted(traffic["refused"])
    n_pages = sum(len(v) for v in traffic.values())

    site = selector(job=JOB, vhost=vhost, track_id=ID1)
    expected = {
        f"mapptrack_pages_total{site}": n_pages,  # 16
        f"mapptrack_hits_queued_total{site}": len(traffic["ok"]) + len(traffic["refused"]),  # 11
        f"mapptrack_hits_sent_total{site}": len(sent),  # 7
        f"mapptrack_requests_total{site}": len(requests),  # 11, batch size 1
        f"mapptrack_hits_dropped_total{selector(job=JOB, vhost=vhost, track_id=ID1, reason='rejected')}":
            len(refused),  # 4
        f"sum(mapptrack_hits_dropped_total{site})": len(refused),
        f"mapptrack_pages_skipped_total{selector(job=JOB, vhost=vhost, track_id=ID1, reason='optout')}":
            len(traffic["optout"]),  # 2
        f"mapptrack_pages_skipped_total{selector(job=JOB, vhost=vhost, track_id=ID1, reason='prefetch')}":
            len(traffic["prefetch"]),  # 3
        f"mapptrack_hits_retried_total{site}": 0,
        f"mapptrack_delivery_latency_seconds_count{site}": len(sent),
        f"mapptrack_delivery_latency_seconds_bucket{selector(job=JOB, vhost=vhost, track_id=ID1, le='+Inf')}":
            len(sent),
        f"mapptrack_server_queue_depth_hits{selector(job=JOB)}": 0,
        f"mapptrack_server_spool_bytes{selector(job=JOB)}": 0,
    }
    assert len(set(v for v in expected.values() if v)) >= 6, "the figures should tell kinds apart"
    for promql, value in expected.items():
        wait_prom(prometheus, promql, value)
    # Prometheus stores what the endpoint says, row for row.
    samples = [s for s in parse_exposition(status_text(httpd))[1]
               if s[1].get("track_id") == ID1]
    for name, labels, value in samples:
        if name == "mapptrack_last_error_timestamp_seconds":
            continue
        assert prometheus.value(f"{name}{selector(job=JOB, **labels)}") == value, (name, labels)
    last_error = prometheus.value(f"mapptrack_last_error_timestamp_seconds{site}")
    assert last_error is not None and abs(last_error - row(doc)["last_error"]["unix"]) < 1
    assert abs(time.time() - last_error) < 120

    # The rules: every one loaded, evaluated without error; the refusals make exactly
    # "hits dropped (rejected)" and "delivery errors" pending (their `for` keeps them there).
    _, rules = load_rules()
    want = {"MapptrackHitsDropped", "MapptrackDeliveryErrors"}
    deadline = time.time() + DEADLINE
    while True:
        groups = prometheus.api("rules")["groups"]
        loaded = [r for g in groups for r in g["rules"]]
        active = prometheus.api("alerts")["alerts"]
        if ((len(loaded) == len(rules) and all(r["health"] != "unknown" for r in loaded)
             and want <= {a["labels"]["alertname"] for a in active}) or time.time() > deadline):
            break
        time.sleep(0.2)
    assert sorted(r["name"] for r in loaded) == sorted(r["alert"] for r in rules)
    assert [(r["name"], r["health"], r.get("lastError", "")) for r in loaded if r["health"] != "ok"] == []
    exprs = {r["alert"]: r["expr"] for r in rules}
    assert sorted(a["labels"]["alertname"] for a in active) == sorted(want), (
        active, {n: prometheus.query(exprs[n]) for n in want})
    assert all(a["state"] == "pending" for a in active), active
    dropped = [a["labels"] for a in active if a["labels"]["alertname"] == "MapptrackHitsDropped"]
    assert dropped == [{"alertname": "MapptrackHitsDropped", "severity": "critical", "job": JOB,
                        "instance": f"127.0.0.1:{httpd.port}", "vhost": vhost, "track_id": ID1,
                        "reason": "rejected"}]
    assert not re.search(r"level=error", prometheus.log()), prometheus.log()[-5000:]


@needs_promtool
def test_promtool_finds_no_problem_in_the_output(httpd, track_server):
    """`promtool check metrics` lints the endpoint's text (every family with samples,
    the last-error gauge included): exit 0, nothing printed."""
    httpd.expect_messages("MT0103", required=True)
    httpd.start(tracking() + STATUS)
    make_traffic(httpd, track_server, n_ok=3, n_optout=1, n_prefetch=1, n_refused=2)
    text = status_text(httpd)
    types, samples = parse_exposition(text)
    names = {s[0] for s in samples}
    assert "mapptrack_last_error_timestamp_seconds" in names
    assert len(types) >= 17, types
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", ""), text


@needs_promtool
def test_promtool_accepts_the_rules():
    """`promtool check rules` on httpd-conf/prometheus-alerts.yml: exit 0, every rule found."""
    _, rules = load_rules()
    p = subprocess.run([PROMTOOL, "check", "rules", RULES], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"SUCCESS: {len(rules)} rules found" in p.stdout, p.stdout + p.stderr
    assert all("alert" in r and r.get("labels", {}).get("severity") in ("warning", "critical")
               and r.get("annotations", {}).get("summary") for r in rules), rules


def test_rules_name_only_what_the_module_exports(httpd, track_server):
    """Every metric, label and reason value the rules use is in the module's Prometheus
    output, and rate()/increase() read only counters: the rules cannot drift."""
    httpd.expect_messages("MT0103", required=True)
    httpd.start(tracking() + STATUS)
    make_traffic(httpd, track_server, n_ok=1, n_optout=0, n_prefetch=0, n_refused=1)
    types, samples = parse_exposition(status_text(httpd))
    sample_names = {s[0] for s in samples}
    label_values = {}
    for _, labels, _ in samples:
        for k, v in labels.items():
            label_values.setdefault(k, set()).add(v)
    labels_known = set(label_values) | {"job", "instance"}  # added by the scrape

    _, rules = load_rules()
    used, problems = set(), []
    for r in rules:
        expr = r["expr"]
        names = expr_metric_names(expr)
        if not names:
            problems.append(f"{r['alert']}: reads no mapptrack_ metric")
        used |= names
        for n in names - sample_names:
            problems.append(f"{r['alert']}: {n} is not in the module's output")
        for fn, n in re.findall(r"\b(rate|irate|increase)\s*\(\s*(mapptrack_[a-zA-Z0-9_]+)", expr):
            family = re.sub(r"_bucket$", "", n)
            if types.get(family) not in ("counter", "histogram"):
                problems.append(f"{r['alert']}: {fn}() of {n}, a {types.get(family)}")
        for n in expr_label_names(expr) - labels_known - {"__name__"}:
            problems.append(f"{r['alert']}: label {n} is not in the module's output")
        for label, op, value in expr_matchers(expr):
            if label in label_values and op == "=" and value not in label_values[label]:
                problems.append(f"{r['alert']}: {label}={value!r} is never exported")
            if label in label_values and op == "=~":
                for alt in value.split("|"):
                    if alt not in label_values[label]:
                        problems.append(f"{r['alert']}: {label}=~ alternative {alt!r} is never exported")
        templates = " ".join(str(v) for v in r.get("annotations", {}).values())
        for n in set(re.findall(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)", templates)) - labels_known:
            problems.append(f"{r['alert']}: annotation uses label {n}, never exported")
    assert problems == []
    # The rules cover what docs/operations.md says to alert on.
    for n in ("mapptrack_hits_dropped_total", "mapptrack_hits_sent_total", "mapptrack_pages_total",
              "mapptrack_hits_retried_total", "mapptrack_server_spool_bytes",
              "mapptrack_queue_depth_hits", "mapptrack_relay_fallbacks_total",
              "mapptrack_relay_requests_total", "mapptrack_pages_skipped_total",
              "mapptrack_last_error_timestamp_seconds"):
        assert n in used, f"no rule reads {n}"
