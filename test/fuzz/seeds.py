#!/usr/bin/env python3
"""Writes the seed corpora test/fuzz/corpus/<target>/ (run from anywhere).

The targets that read their input through FuzzedDataProvider get seeds laid
out the way FuzzedDataProvider reads them (integers and booleans from the end,
strings from the front), so each seed is a realistic request, not noise.
Rerun after changing what a target reads: python3 test/fuzz/seeds.py
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


class Fdp:
    """Builds input for LLVM's FuzzedDataProvider, in the order the target consumes it."""

    def __init__(self):
        self.front = bytearray()
        self.back = []  # bytes consumed from the end, in consumption order

    def integral(self, value, lo, hi):
        rng = hi - lo
        raw = value - lo
        assert 0 <= raw <= rng
        n = 0
        while n < 8 and (rng >> (8 * n)) > 0:
            n += 1
        for i in reversed(range(n)):  # most significant byte first
            self.back.append((raw >> (8 * i)) & 0xFF)
        return self

    def boolean(self, value):
        self.back.append(1 if value else 0)
        return self

    def string(self, s, max_length):
        s = s.encode() if isinstance(s, str) else s
        assert len(s) <= max_length
        self.front += s.replace(b"\\", b"\\\\")
        if len(s) < max_length:
            self.front += b"\\ "  # ends the string
        return self

    def remaining(self, s):
        self.front += s.encode() if isinstance(s, str) else s
        return self

    def data(self, prefix=b""):
        return bytes(prefix) + bytes(self.front) + bytes(reversed(self.back))


U64 = (0, 2**64 - 1)
I64 = (-(2**63), 2**63 - 1)
U32 = (0, 2**32 - 1)
I32 = (-(2**31), 2**31 - 1)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# --- cookies: a raw Cookie header (its first byte also splits a wt3_eid test)
def cookies():
    write("cookies", "mixed", "wteid_111=2170000000000000001; _ga=GA1.2.3; session=abc; wt3_sid=%3B111")
    write("cookies", "optout", "webtrekkOptOut=1; miCookieOptOut=1; PHPSESSID=x")
    write("cookies", "quoted", 'wt_eid="2170000000000000001"; wtstp_eid = 2170000000000000002 ;wt3_eid=%3B111%7C2170000000000000003%23123')
    write("cookies", "joined", "wteid_1=1, wt_rla=111%2C1, other=2")
    # Found by the fuzzer (kept so they stay fixed): NUL in a value, CR in a name,
    # a doubly quoted value that reads back as another value.
    write("cookies", "regress_nul_value", b"wt=a\x00b")
    write("cookies", "regress_cr_name", b"wt\rX=1")
    write("cookies", "regress_double_quotes", b'wt=""x""')
    write("cookies", "malformed", "wt=; =x; wtx; wt a=1;;; wtq=\"\"; wt\x01=2; wtz=a\r\nSet-Cookie: x")


# --- identity: no_id_list, ids, cookie name, header
def identity_seed(ids, cookie_name, header, no_list=False):
    f = Fdp()
    f.integral(0 if no_list else 5, 0, 15)
    f.integral(len(ids), 0, 3)
    for i in ids:
        if isinstance(i, int):
            f.boolean(True).integral(i, 1, 999999999999999)
        else:
            f.boolean(False).string(i, 24)
    if cookie_name is None:
        f.boolean(False)
    else:
        f.boolean(True).string(cookie_name, 20)
    f.remaining(header)
    return f.data()


def identity():
    write("identity", "wteid", identity_seed([111], None, "wteid_111=2170000000000000001; _ga=1"))
    write("identity", "wt3_eid", identity_seed([111, 222], None, "wt3_eid=%3B222%7C2170000000000000002%23171%3B111%7C2170000000000000001%23171"))
    write("identity", "custom_name", identity_seed(["111"], "myeid", "myeid=2170000000000000009; wtstp_eid=bad"))
    write("identity", "optout", identity_seed([111], None, "wteid_111=2170000000000000001; webtrekkOptOut=1"))
    write("identity", "anonymous", identity_seed([111], None, "miCookieOptOut=1; wt_eid=2170000000000000001"))
    write("identity", "wt_eid_list", identity_seed([333], None, "wt_eid=%3B333%7C2170000000000000004", no_list=True))


# --- query_encode: max_chars, max_bytes, prefix, raw
def limit(f, v, small_max):
    if v is None:
        f.integral(0, 0, 3)
    elif v <= 12:
        f.integral(1, 0, 3).integral(v, 0, 12)
    else:
        f.integral(2, 0, 3).integral(v, 0, small_max)


def encode_seed(max_chars, max_bytes, prefix, raw):
    f = Fdp()
    limit(f, max_chars, 300)
    limit(f, max_bytes, 3000)
    if prefix is None:
        f.boolean(False)
    else:
        f.boolean(True).string(prefix, 16)
    f.remaining(raw)
    return f.data()


def query_encode():
    write("query_encode", "ascii", encode_seed(None, None, None, "Startseite & News = 100% +1 #top"))
    write("query_encode", "utf8", encode_seed(255, None, "p=", "Gr\xfc\xdfe aus K\xf6ln \u20ac \U0001F600".encode()))
    write("query_encode", "invalid_utf8", encode_seed(None, 40, None, b"a\xc3\x28b\xe2\x82\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf\xff"))
    write("query_encode", "controls", encode_seed(10, None, None, b"line1\r\nline2\tend\x00\x7f\x1b[0m"))
    write("query_encode", "tight_bytes", encode_seed(None, 7, "x", "\xe9\xe9\xe9abc".encode()))


# --- hit: the fields of a Hit, in the order fuzz_hit.cpp reads them
def text(f, s, max_len):
    if s == "":
        f.integral(0, 0, 7)
    else:
        f.integral(2, 0, 7).string(s, max_len)


def hit_seed(ua, url, referrer="", content_id="", ip="203.0.113.9", ever_id="2170000000000000001",
             params=(), anonymous=False, new_visitor=False, ceid="", language="", media_code="", hints=(),
             hints_raw=False):
    f = Fdp()
    f.boolean(True)  # pixel version 300
    f.boolean(True).integral(1732838400123, 0, 4102444800000)
    f.boolean(new_visitor).boolean(anonymous)
    f.boolean(False)
    text(f, ever_id, 30)
    text(f, ceid, 300)
    if ip.startswith("203.0.113."):
        f.boolean(True).integral(int(ip.rsplit(".", 1)[1]), 0, 255)
    else:
        f.boolean(False)
        text(f, ip, 80)
    f.integral(len(params), 0, 6)
    for name, value in params:
        f.integral(2, 0, 3).string(name, 40)
        text(f, value, 600)
    text(f, content_id, 600)
    text(f, ua, 600)
    text(f, referrer, 9000)
    if language:
        f.integral(2, 0, 3)
        text(f, language, 20)
    else:
        f.integral(0, 0, 3)
    text(f, media_code, 700)
    f.integral(len(hints), 0, 20)
    for name, value in hints:
        f.integral(2, 0, 3).string(name, 40)
        text(f, value, 600)
    f.boolean(not hints_raw)  # True: through client_hint_params, as the glue does
    f.remaining(url)
    return f.data()


def hit():
    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    write("hit", "page", hit_seed(ua, "https://www.example.com/news/article?id=42&utm_source=x",
                                  "https://www.google.com/", "news.article", params=[("cg1", "news"), ("cp2", "de")]))
    write("hit", "anonymous", hit_seed(ua, "https://www.example.com/", anonymous=True, ceid="user@example.com"))
    write("hit", "new_visitor", hit_seed("curl/8.0", "http://[::1]:8080/", ip="2001:db8::1", new_visitor=True,
                                         ever_id="", params=[("X_WT_IP", "1.2.3.4"), ("p", "x"), ("cs1", "a&b")]))
    write("hit", "long_url", hit_seed(ua, "https://www.example.com/search?q=" + "\u00fc" * 1200,
                                      "https://ref.example/?" + "r" * 1000, "\u00e9" * 300))
    hints = [("Sec-CH-UA", '"Chromium";v="124", "Not-A.Brand";v="99"'), ("Sec-CH-UA-Mobile", "?0"),
             ("Sec-CH-UA-Platform", '"Linux"'), ("Sec-CH-UA-Model", '"Pixel 8"')]
    write("hit", "chrome_hints", hit_seed(ua, "https://www.example.com/?wt_mc=news.spring", "1",
                                          "www.example.com/", language="de", media_code="wt_mc%3Dnews.spring",
                                          hints=hints))
    write("hit", "raw_hints", hit_seed("", "https://www.example.com/", language="de-DE",
                                       media_code="a;" + "b" * 300 + ";c",
                                       params=[("cp1", "x" * 300 + ";" + "y" * 10 + ";"), ("la", "en")],
                                       hints=[("X-WT-SEC-CH-UA-MOBILE", "?1"), ("X-WT-IP", "1.2.3.4"),
                                              ("X-WT-SEC-CH-UA-", "x")], hints_raw=True))
    write("hit", "long_ua", hit_seed("Mozilla/5.0 " + "x" * 588, "https://www.example.com/p",
                                     params=[("cp2", ";".join(["v" * 260] * 2))]))


# --- spool: first byte odd = decode these bytes; even = round trip (FDP)
def record(version, endpoint, line, cookies, queued_ms, visitor=0, attempts=0):
    def s(x):
        return struct.pack("<I", len(x)) + x

    if version == 2:
        payload = s(endpoint) + s(line) + s(cookies) + struct.pack("<QQI", queued_ms, visitor, attempts)
    else:  # MTS1: proxy, timeout, batch size, batch delay, queued_ms
        payload = s(endpoint) + s(line) + s(cookies) + s(b"") + struct.pack("<IIIQ", 2000, 50, 200, queued_ms)
    magic = b"MTS2" if version == 2 else b"MTS1"
    return magic + struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def spool_round_trip(records, garbage):
    f = Fdp()
    f.integral(len(records), 1, 5)
    f.boolean(False)  # not torn
    for i, (endpoint, line, cookies) in enumerate(records):
        f.string(garbage[i], 64)
        if endpoint is None:
            f.boolean(True)
        else:
            f.boolean(False).string(endpoint, 64)
        if line is None:
            f.boolean(True)
        else:
            f.boolean(False).string(line, 300)
        if cookies == "":
            f.boolean(True)
        else:
            f.boolean(False).string(cookies, 64)
        f.integral(1732838400123 + i, *I64).integral(0x1234567890ABCDEF, *U64).integral(i, *U32)
        f.integral(2000, *U32).integral(50, *U32).boolean(i % 2 == 1)
    f.string(garbage[len(records)], 64)
    return f.data(b"\x00")


def spool():
    ep, line = b"https://track.example/111,222", b"wt?p=300,page,0,0,0,0,1732838400123,0&eor=1"
    write("spool", "segment_v2", b"\x01" + record(2, ep, line, b"wteid_111=2170000000000000001", 1732838400123, 42, 1)
          + record(2, ep, b"wt?p=300,other,0,0,0,0,1732838400999,0&eor=1", b"", 1732838400999, 7, 0))
    write("spool", "segment_v1", b"\x01" + record(1, ep, line, b"", 1732838400123))
    write("spool", "torn_and_corrupt", b"\x01" + b"junk" + record(2, ep, line, b"", 1)[:-3] + b"MTS2\xff\xff\xff\xff"
          + record(2, ep, line, b"", 2))
    write("spool", "round_trip", spool_round_trip([(None, None, ""), ("https://t.example/1", "wt?p=1&eor=1", "wt_eid=1")],
                                                  ["", "xMT", "tail"]))


# --- relay: first byte 0 route, 1 line, 2 body
def client(f, anonymous=False, ip="192.0.2.7", ua=None):
    f.boolean(anonymous)
    f.integral(0, 0, 3).integral(int(ip.rsplit(".", 1)[1]), 0, 255)
    if ua is None:
        f.boolean(True)
    else:
        f.boolean(False).string(ua, 400)


def relay_route(path, query, anonymous=False):
    f = Fdp()
    client(f, anonymous)
    f.string(path, 200)
    f.remaining(query)
    return f.data(b"\x00")


def relay_line(line, anonymous=False, ua=None):
    f = Fdp()
    client(f, anonymous, ua=ua)
    f.remaining(line)
    return f.data(b"\x01")


def relay_body(body, max_lines=5):
    f = Fdp()
    f.integral(max_lines, 0, 12)
    f.boolean(True)
    f.remaining(body)
    return f.data(b"\x02")


def relay():
    write("relay", "route_pixel", relay_route("/analytics/111,222/wt", "p=600,home,0,0,0,0,1732838400123,0&eor=1"))
    write("relay", "route_server_form", relay_route("/analytics", "p=600,page&X-WT-IP=6.6.6.6&eor=1", anonymous=True))
    write("relay", "route_traversal", relay_route("/analytics/111/../../admin", "cmd=1"))
    write("relay", "route_batch", relay_route("/analytics/222/batch", ""))
    write("relay", "line_claims", relay_line("wt?p=1&X-WT-IP=6.6.6.6&x_wt_ua=evil&X%2DWT%2DIP=1&+X-WT-IP=2&eid=2170000000000000001&eor=1",
                                             anonymous=True, ua="Mozilla/5.0 (Evil)\r\nX: y"))
    write("relay", "line_bare", relay_line("?p=600,a%20b,0,0,0,0,1,0&cg1=x&&eor=1"))
    write("relay", "line_poison", relay_line("wt?p=300,a b&eor=1"))
    write("relay", "body", relay_body("wt?p=1&eor=1\r\n\n../../../private/admin?cmd=1\nwt7xq?p=2&eor=1\n?p=3\n"))
    write("relay", "body_too_many", relay_body("a\n" * 20, max_lines=4))


# --- track_domain: raw text
def track_domain():
    for name, text_ in [
        ("https", "https://yourdomain.webtrekk.net"),
        ("port_path", "http://Track.Example.COM:8080/base/path/"),
        ("ipv6", "https://[2001:DB8::1]:8443"),
        ("ipv4", "http://127.0.0.1:80"),
        ("userinfo", "https://good.example@evil.example/"),
        ("tricky", "https://good.example\\@evil.example:443#x"),
        # Found by the fuzzer: hosts libcurl reads as other IPv4 addresses
        # (127.0.0.1, 0.0.0.121, 51.0.0.1), and IPv6 literals libcurl refuses.
        ("regress_short_ipv4", "http://127.1"),
        ("regress_number_host", "http://121:80"),
        ("regress_octal_ipv4", "http://063.0.0.1"),
        ("regress_bad_ipv6", "https://[2001:db8:::]"),
    ]:
        write("track_domain", name, text_)


if __name__ == "__main__":
    cookies()
    identity()
    query_encode()
    hit()
    spool()
    relay()
    track_domain()
