"""Parse Mapp Intelligence hits as the stub track server receives them (docs/design.md §4).

A `GET {prefix}/{ids}/wt?{query}` carries one hit; a `POST {prefix}/{ids}/batch`
carries one `wt?{query}` line per hit. `assert_well_formed` checks the rules every
hit must obey whatever the visitor sent.
"""

import re
import urllib.parse

# Parameters the module sends itself, in the order docs/design.md §4 fixes.
LEADING = ("p", "X-WT-UA", "X-WT-IP", "X-WT-RQ")
OPTIONAL = ("eid", "ceid", "one", "nc")
# Client hints as the module sends them (X-WT-SEC-CH-UA, X-WT-SEC-CH-UA-MODEL, …).
CLIENT_HINT = re.compile(r"^X-WT-SEC-CH-UA(-[A-Z0-9-]+)?$")
# Names a MappTrackParam may carry (Mapp's custom parameter families).
CUSTOM_NAME = re.compile(r"^(cp|cs|cb|ck|cc|cg|ca|uc|vc|ce)[0-9]{1,4}$")
# One raw query value: unreserved characters, a few sub-delimiters that cannot
# end or add a parameter, or a %XX escape.
_RAW_VALUE = re.compile(r"^(?:[A-Za-z0-9\-._~!$'()*+;:@/?]|%[0-9A-Fa-f]{2})*$")
_RAW_P = re.compile(r"^(?:[A-Za-z0-9\-._~!$'()*+;:@/?,]|%[0-9A-Fa-f]{2})*$")
MAX_LINE = 7168
MAX_TEXT = 255


def decode(raw):
    """Percent-decode one raw value as UTF-8 ('+' stays '+': values are percent-encoded)."""
    return urllib.parse.unquote_to_bytes(raw).decode("utf-8", errors="replace")


class Hit:
    """One hit: `ids`, raw `query`, decoded `params`, `p` fields, and its carrier."""

    def __init__(self, ids, query, request=None, kind="wt"):
        self.ids = ids
        self.query = query
        self.request = request
        self.kind = kind  # "wt" (single GET) or "batch" (a line of a POST)
        self.raw_params = []
        for part in query.split("&") if query else []:
            name, _, value = part.partition("=")
            self.raw_params.append((name, value))
        self.params = [(decode(n), decode(v)) for n, v in self.raw_params]
        raw_p = self.raw("p")
        self.p = [decode(f) for f in raw_p.split(",")] if raw_p is not None else None

    @property
    def method(self):
        return self.request.method if self.request else None

    @property
    def headers(self):
        return self.request.headers if self.request else None

    @property
    def time(self):
        return self.request.time if self.request else None

    @property
    def line(self):
        return "wt?" + self.query

    def names(self):
        return [n for n, _ in self.params]

    def get(self, name, default=None):
        for n, v in self.params:
            if n == name:
                return v
        return default

    def raw(self, name, default=None):
        for n, v in self.raw_params:
            if n == name:
                return v
        return default

    def has(self, name):
        return any(n == name for n, _ in self.params)

    def __eq__(self, other):
        return (isinstance(other, Hit) and (self.ids, self.query, self.request)
                == (other.ids, other.query, other.request))

    def __hash__(self):
        return hash((self.ids, self.query))

    def __repr__(self):
        return f"Hit(ids={self.ids!r}, {self.kind}, {self.line[:300]!r})"


def hits_from_request(req):
    """The hits one recorded request carries ([] if it is not a hit request)."""
    segs = req.path.split("/")
    if len(segs) < 3:
        return []
    ids, last = segs[-2], segs[-1]
    if req.method == "GET" and last == "wt":
        return [Hit(ids, req.query, req, "wt")]
    if req.method == "POST" and last == "batch":
        text = req.body.decode("latin-1")
        out = []
        for line in text.split("\n"):
            line = line.rstrip("\r")
            if not line:
                continue
            if line.startswith("wt?"):
                out.append(Hit(ids, line[3:], req, "batch"))
            elif line.startswith("?"):
                out.append(Hit(ids, line[1:], req, "batch"))
            else:
                out.append(Hit(ids, line, req, "batch"))
        return out
    return []


def assert_well_formed(hit, custom=None):
    """Fail unless `hit` obeys docs/design.md §4 whatever the visitor's input was.

    custom: the MappTrackParam names configured (in order), or None to accept
    any custom-parameter name between the identity flags and `eor`.
    """
    q = hit.query
    for bad in ("#", " ", "\r", "\n", "\x00", "\t"):
        assert bad not in q, f"raw {bad!r} in hit query: {q[:300]!r}"
    assert all(ord(c) < 0x80 for c in q), f"raw non-ASCII byte in hit: {q[:300]!r}"
    assert len(hit.line.encode("latin-1")) < MAX_LINE, f"hit line {len(hit.line)} bytes >= {MAX_LINE}"
    names = [n for n, _ in hit.raw_params]
    assert len(names) == len(set(names)), f"duplicate parameter in {names}"
    for name, value in hit.raw_params:
        pattern = _RAW_P if name == "p" else _RAW_VALUE
        assert pattern.match(value), f"parameter {name} not percent-encoded: {value[:200]!r}"
        try:
            urllib.parse.unquote_to_bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise AssertionError(f"parameter {name} is not UTF-8 after decoding: {value[:200]!r}")
        for c in hit.get(name):
            assert ord(c) >= 0x20, f"control character in {name}: {hit.get(name)!r}"
    # X-WT-UA only when the visitor sent a user agent.
    leading = [n for n in LEADING if n in names[:4]]
    assert tuple(leading) in (LEADING, LEADING[:1] + LEADING[2:]), f"hit must start with {LEADING}, got {names}"
    assert names[: len(leading)] == leading, f"hit must start with {LEADING}, got {names}"
    assert names[-1] == "eor" and hit.get("eor") == "1", f"eor=1 must be last, got {names}"
    middle = names[len(leading):-1]
    opt = [n for n in middle if n in OPTIONAL]
    assert opt == [n for n in OPTIONAL if n in opt], f"eid/ceid/one/nc out of order: {names}"
    assert middle[: len(opt)] == opt, f"identity parameters must precede custom ones: {names}"
    rest = middle[len(opt):]
    # Then what the module takes from the request: la, mc (with mca), client hints.
    own = []
    for n in rest:
        if n in ("la", "mc", "mca") and n not in (custom or ()) or CLIENT_HINT.match(n):
            own.append(n)
        else:
            break
    assert [n for n in own if n in ("la", "mc", "mca")] == [n for n in ("la", "mc", "mca") if n in own], (
        f"la, mc, mca out of order: {names}")
    if "mc" in own:
        assert "mca" in own or "mca" in (custom or ()), f"mc without mca: {names}"
    if "mca" in own:
        assert "mc" in own, f"mca without mc: {names}"
    if "mca" in own:
        assert hit.get("mca") == "c", f"mca={hit.get('mca')!r}"
    if "la" in own:
        assert re.fullmatch(r"[a-z]{2,8}", hit.get("la")), f"la={hit.get('la')!r}"
    hints = [n for n in own if CLIENT_HINT.match(n)]
    assert own[len(own) - len(hints):] == hints, f"client hints must follow la/mc: {names}"
    rest = rest[len(own):]
    if custom is None:
        for n in rest:
            assert CUSTOM_NAME.match(n), f"unknown parameter {n!r} in {names}"
    else:
        assert rest == [n for n in custom if n in rest], f"custom parameters {rest} != configured {list(custom)}"
        for n in rest:
            assert n in custom, f"unknown parameter {n!r} in {names}"
    for flag in ("one", "nc"):
        if flag in names:
            assert hit.get(flag) == "1", f"{flag}={hit.get(flag)!r}"
    assert hit.p is not None and len(hit.p) == 8, f"p must have 8 fields: {hit.raw('p')!r}"
    assert hit.p[2:6] == ["0", "0", "0", "0"], f"p fields 2-5 must be 0: {hit.p}"
    assert re.fullmatch(r"[0-9]{13}", hit.p[6]), f"p timestamp not 13 digits: {hit.p[6]!r}"
    if hit.has("eid"):
        assert re.fullmatch(r"[0-9]{19}", hit.get("eid")), f"eid {hit.get('eid')!r}"
    if hit.has("ceid"):
        assert len(hit.get("ceid")) <= MAX_TEXT, f"ceid longer than {MAX_TEXT} characters"
    # Mapp's limit is per value of a `;` list; the user agent is not cut.
    for name in ("mc",) + tuple(rest):
        if hit.has(name):
            for value in hit.get(name).split(";"):
                assert len(value) <= MAX_TEXT, f"a value of {name} is longer than {MAX_TEXT} characters"
