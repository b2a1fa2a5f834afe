// The pixel relay (relay.h, hit_line.h): for any request path and query, a
// relayed request's URL, built as the glue builds it and parsed by libcurl,
// stays on the configured host under /base/{configured IDs}/; any hit line
// parse_hit_line accepts matches the documented grammar exactly, and after
// rewrite_hit_line carries exactly one X-WT-IP and one X-WT-UA, the client's;
// split_relay_body never keeps more than max_lines lines; add_ever_id adds one
// eid=<19 digits> exactly when the line has none of its own and the visitor is
// not anonymous, and nothing for a value that is not an ever-ID.
#include <curl/curl.h>
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "fuzz_curl.h"
#include "mapptrack/encode.h"
#include "mapptrack/hit_line.h"
#include "mapptrack/relay.h"

using namespace mapptrack;
using fuzz::check;

namespace {

const std::vector<std::string> kIds = {"111", "222"};
constexpr char kBase[] = "https://track.example/base";

// --- reference grammar of hit_line.h -----------------------------------------
bool is_query_char(unsigned char c) {
    return fuzz::is_unreserved(c) || std::string_view("!$&'()*+,;=:@/?").find(static_cast<char>(c)) != std::string_view::npos;
}
bool own_clean_query(std::string_view q) {
    if (q.empty()) return false;
    for (std::size_t i = 0; i < q.size(); ++i) {
        const auto c = static_cast<unsigned char>(q[i]);
        if (c == '%') {
            if (i + 2 >= q.size() || !fuzz::is_hex(q[i + 1]) || !fuzz::is_hex(q[i + 2])) return false;
            i += 2;
        } else if (!is_query_char(c)) {
            return false;
        }
    }
    return true;
}
bool own_accepts_line(std::string_view line) {
    if (line.size() > kMaxForeignLineBytes) return false;
    const std::size_t q = line.find('?');
    if (q == std::string_view::npos) return false;
    const std::string_view rest = line.substr(0, q);
    if (!rest.empty()) {
        if (!fuzz::starts_with(rest, "wt") || rest.size() > 40) return false;
        for (unsigned char c : rest) {
            if (!(std::isalnum(c) && c < 0x80) && c != '.' && c != '_' && c != '-') return false;
        }
        if (rest.find("..") != std::string_view::npos) return false;
    }
    return own_clean_query(line.substr(q + 1));
}

// --- libcurl's view ---------------------------------------------------------
using fuzz::CurlView;
using fuzz::curl_parse;

// `/base/{ids}/{rest}`: the IDs all configured, rest one plain segment.
void check_on_track_host(const std::string& url, std::string_view ids, std::string_view rest) {
    const CurlView v = curl_parse(url);
    check(v.ok, "libcurl cannot parse the relayed URL", url);
    check(v.host == "track.example", "the relayed URL leaves the track host", fuzz::show(v.host, url));
    check(fuzz::starts_with(v.path, "/base/"), "the relayed URL's path is not under /base/", fuzz::show(v.path, url));
    const std::string_view after = std::string_view(v.path).substr(6);
    const std::size_t slash = after.find('/');
    check(slash != std::string_view::npos, "no IDs segment in the relayed path", v.path);
    for (std::string_view list = after.substr(0, slash);;) {
        const std::size_t comma = list.find(',');
        const std::string_view id = list.substr(0, comma);
        check(std::find(kIds.begin(), kIds.end(), id) != kIds.end(), "the relayed path names an ID not configured", v.path);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    check(after.substr(0, slash) == ids, "libcurl sees other IDs than the route", v.path);
    check(after.substr(slash + 1) == rest, "libcurl sees another endpoint than the route", fuzz::show(v.path, rest));
}

// The sender's pieces that survive (hit_line.h): not empty, no spelling of
// X-WT-IP/X-WT-UA, and for an anonymous visitor no eid, ceid, one or nc.
std::vector<std::string_view> kept_pieces(std::string_view query, bool anonymous) {
    std::vector<std::string_view> out;
    for (const fuzz::Param& p : fuzz::split_query(query)) {
        const std::string_view piece = query.substr(p.name.data() - query.data(),
                                                    p.name.size() + (p.has_eq ? 1 + p.value.size() : 0));
        if (piece.empty()) continue;
        const std::string key = fuzz::name_key(p.name);
        if (key == "xwtip" || key == "xwtua") continue;
        if (anonymous && (key == "eid" || key == "ceid" || key == "one" || key == "nc")) continue;
        out.push_back(piece);
    }
    return out;
}

// What rewrite_hit_query must give for `query` (hit_line.h), as pieces.
void check_rewritten(std::string_view in_query, const std::string& out, const ClientFacts& client) {
    check(own_clean_query(out), "the rewritten query is not clean", out);
    check(is_clean_query(out), "is_clean_query refuses the rewritten query", out);
    const std::vector<fuzz::Param> got = fuzz::split_query(out);
    int ip = 0, ua = 0, nc = 0;
    std::vector<std::string_view> others;
    for (const fuzz::Param& p : got) {
        check(!p.name.empty() || p.has_eq, "an empty piece in the rewritten query", out);
        const std::string key = fuzz::name_key(p.name);
        if (key == "xwtip") {
            ++ip;
            check(p.name == "X-WT-IP", "a spelling of X-WT-IP survives", out);
            const std::string full = percent_decode(encode_query_value(client.ip));
            const std::string v = percent_decode(p.value);
            check(fuzz::is_encoded_value(p.value) && full.compare(0, v.size(), v) == 0 && v.size() <= full.size(),
                  "X-WT-IP is not the client's", fuzz::show(p.value, client.ip));
            if (full.size() <= 40) check(v == full, "X-WT-IP is not the client's", fuzz::show(p.value, client.ip));
        } else if (key == "xwtua") {
            ++ua;
            check(p.name == "X-WT-UA", "a spelling of X-WT-UA survives", out);
            const std::string full = percent_decode(encode_query_value(client.user_agent));
            const std::string v = percent_decode(p.value);
            check(fuzz::is_encoded_value(p.value) && full.compare(0, v.size(), v) == 0 && v.size() <= full.size(),
                  "X-WT-UA is not the client's", fuzz::show(p.value, client.user_agent));
            if (full.size() <= 512) check(v == full, "X-WT-UA is not the client's", fuzz::show(p.value, client.user_agent));
        } else if (client.anonymous && (key == "eid" || key == "ceid" || key == "one")) {
            fuzz::fail("an anonymous visitor's hit keeps an ID parameter", out);
        } else if (client.anonymous && key == "nc") {
            ++nc;
            check(p.name == "nc" && p.value == "1" && p.has_eq, "an anonymous hit's nc is not nc=1", out);
        } else {
            others.push_back(std::string_view(out).substr(p.name.data() - out.data(), p.name.size() + (p.has_eq ? 1 + p.value.size() : 0)));
        }
    }
    check(ip == 1, "not exactly one X-WT-IP", out);
    check(ua == (client.user_agent.empty() ? 0 : 1), "not exactly one X-WT-UA (none for an empty user agent)", out);
    check(nc == (client.anonymous ? 1 : 0), "nc=1 must be there exactly for an anonymous visitor", out);

    // Everything else of the sender's query is kept, in order.
    const std::vector<std::string_view> expected = kept_pieces(in_query, client.anonymous);
    check(others == expected, "the rewrite changed the sender's other parameters", fuzz::show(in_query, out));
    if (!expected.empty() && expected.back() == "eor=1") {
        check(got.back().name == "eor" && got.back().value == "1", "a final eor=1 is no longer last", out);
    }
}

// add_ever_id on a rewritten query (hit_line.h). Fixed ever-IDs: the input
// layout of the target stays as seeds.py writes it.
void check_ever_id_added(const std::string& query, bool anonymous) {
    constexpr std::string_view kEid = "2170000000000000001";
    for (std::string_view bad : {std::string_view("1&X-WT-IP=6.6.6.6"), std::string_view("217000000000000000"),
                                 std::string_view("21700000000000000%31"), std::string_view()}) {
        check(add_ever_id(query, bad, anonymous) == query, "add_ever_id takes a value that is not an ever-ID",
              std::string(bad));
    }
    const std::string with = add_ever_id(query, kEid, anonymous);
    if (anonymous) {
        check(with == query, "add_ever_id gives an anonymous visitor an eid", with);
        return;
    }
    check(is_clean_query(with), "add_ever_id makes the query unclean", with);
    bool own = false;
    std::vector<std::string_view> before;
    for (const fuzz::Param& p : fuzz::split_query(query)) {
        const bool eid = fuzz::name_key(p.name) == "eid";
        if (eid && p.has_eq && !p.value.empty()) own = true;
        if (!eid) before.push_back(std::string_view(query).substr(p.name.data() - query.data(),
                                                                  p.name.size() + (p.has_eq ? 1 + p.value.size() : 0)));
    }
    if (own) {
        check(with == query, "add_ever_id replaces the line's own eid", fuzz::show(query, with));
        return;
    }
    int added = 0;
    std::vector<std::string_view> after;
    for (const fuzz::Param& p : fuzz::split_query(with)) {
        if (fuzz::name_key(p.name) == "eid") {
            ++added;
            check(p.name == "eid" && p.value == kEid, "the added eid is not the visitor's", with);
        } else {
            after.push_back(std::string_view(with).substr(p.name.data() - with.data(),
                                                          p.name.size() + (p.has_eq ? 1 + p.value.size() : 0)));
        }
    }
    check(added == 1, "add_ever_id does not add exactly one eid", with);
    check(after == before, "add_ever_id changes the other parameters", fuzz::show(query, with));
    if (!before.empty() && before.back() == "eor=1") {
        check(with.size() >= 6 && with.compare(with.size() - 6, 6, "&eor=1") == 0,
              "a final eor=1 is no longer last after add_ever_id", with);
    }
}

ClientFacts make_client(FuzzedDataProvider& in, std::string& ua, std::string& ip) {
    ClientFacts client;
    client.anonymous = in.ConsumeBool();
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 0: ip = "192.0.2." + std::to_string(in.ConsumeIntegral<std::uint8_t>()); break;
        case 1: ip = "2001:db8::" + std::to_string(in.ConsumeIntegral<std::uint16_t>()); break;
        default: ip = in.ConsumeRandomLengthString(80);
    }
    ua = in.ConsumeBool() ? std::string("Mozilla/5.0 (X11; Linux x86_64)") : in.ConsumeRandomLengthString(400);
    client.user_agent = ua;
    client.ip = ip;
    return client;
}

void fuzz_route(FuzzedDataProvider& in) {
    std::string ua, ip;
    const ClientFacts client = make_client(in, ua, ip);
    const std::string path = in.ConsumeRandomLengthString(200);
    const std::string query = in.ConsumeRemainingBytesAsString();
    const RelayRoute route = route_relay_request(path, query, kIds, "/analytics");
    if (route.status != 0) {
        check(route.status == 400 || route.status == 404 || route.status == 414, "a refusal with an odd status");
        check(!route.reason.empty(), "a refusal without a reason");
        return;
    }
    check(!route.ids.empty() && !route.rest.empty(), "a relayed route without IDs or endpoint", path);
    if (route.server_form) {
        check(path == "/analytics" || path == "/analytics/", "the server form from another path", path);
        check(route.ids == "111,222" && route.rest == "wt", "the server form with other IDs or endpoint");
    } else {
        check(path == "/analytics/" + route.ids + "/" + route.rest, "the route is not the path's IDs and endpoint",
              fuzz::show(path, route.ids + "/" + route.rest));
    }
    // The relay URL as the glue builds it: a hit endpoint (`wt…`) takes only a
    // clean query, rewritten; the others (cc, optout…, hm, batch) their query
    // with the claims about the visitor removed.
    std::string url = std::string(kBase) + "/" + route.ids + "/" + route.rest;
    if (fuzz::starts_with(route.rest, "wt")) {
        if (query.empty()) {
            check_on_track_host(url, route.ids, route.rest);
            return;
        }
        if (!is_clean_query(query)) return;  // 400
        const std::string rewritten = rewrite_hit_query(query, client);
        check_rewritten(query, rewritten, client);
        url += "?" + rewritten;
        check_on_track_host(url, route.ids, route.rest);
        const CurlView v = curl_parse(url);
        check(v.query == rewritten, "libcurl sees another query", fuzz::show(v.query, rewritten));
    } else {
        const std::string removed = remove_client_claims(query, client.anonymous);
        if (!removed.empty()) url += "?" + removed;
        // Not made clean: libcurl may refuse it, but never reads another host or path in it.
        if (curl_parse(url).ok || is_clean_query(removed)) check_on_track_host(url, route.ids, route.rest);
    }
}

void fuzz_line(FuzzedDataProvider& in) {
    std::string ua, ip;
    const ClientFacts client = make_client(in, ua, ip);
    const std::string line = in.ConsumeRemainingBytesAsString();
    const auto parsed = parse_hit_line(line);
    check(parsed.has_value() == own_accepts_line(line), parsed ? "parse_hit_line accepts a line outside the grammar"
                                                               : "parse_hit_line refuses a line of the grammar",
          line);
    const std::size_t q = line.find('?');
    if (q != std::string::npos) {
        check(is_clean_query(std::string_view(line).substr(q + 1)) == own_clean_query(std::string_view(line).substr(q + 1)),
              "is_clean_query disagrees with the grammar", line.substr(q + 1));
    }
    // remove_client_claims: the first half of the rewrite, on any query.
    {
        const std::string_view raw_query = q == std::string::npos ? std::string_view(line) : std::string_view(line).substr(q + 1);
        const std::string removed = remove_client_claims(raw_query, client.anonymous);
        std::vector<std::string_view> pieces;
        if (!removed.empty()) {
            for (const fuzz::Param& p : fuzz::split_query(removed)) {
                pieces.push_back(std::string_view(removed).substr(p.name.data() - removed.data(),
                                                                  p.name.size() + (p.has_eq ? 1 + p.value.size() : 0)));
            }
        }
        check(pieces == kept_pieces(raw_query, client.anonymous),
              "remove_client_claims does not keep exactly the other pieces, in order", fuzz::show(raw_query, removed));
    }
    if (!parsed) return;
    check(parsed->rest == (q == 0 ? std::string("wt") : line.substr(0, q)), "parse_hit_line's rest is wrong", parsed->rest);
    check(parsed->query == line.substr(q + 1), "parse_hit_line's query is wrong", parsed->query);

    const std::string rewritten = rewrite_hit_line(*parsed, client);
    check(fuzz::starts_with(rewritten, parsed->rest + "?"), "rewrite_hit_line changes the endpoint", rewritten);
    const std::string query = rewritten.substr(parsed->rest.size() + 1);
    check(query == rewrite_hit_query(parsed->query, client), "rewrite_hit_line is not rest?rewrite_hit_query", rewritten);
    check_rewritten(parsed->query, query, client);
    check_ever_id_added(query, client.anonymous);
    // What was rewritten passes again, and as a relayed URL stays on the track host.
    if (rewritten.size() <= kMaxForeignLineBytes) {
        check(parse_hit_line(rewritten).has_value(), "parse_hit_line refuses a rewritten line", rewritten);
    }
    check_on_track_host(std::string(kBase) + "/111/" + rewritten, "111", parsed->rest);
}

void fuzz_body(FuzzedDataProvider& in) {
    RelayLimits limits;
    limits.max_lines = in.ConsumeIntegralInRange<std::size_t>(0, 12);
    limits.max_body = in.ConsumeBool() ? RelayLimits{}.max_body : in.ConsumeIntegralInRange<std::size_t>(0, 4096);
    const std::string body = in.ConsumeRemainingBytesAsString();
    const RelayBody b = split_relay_body(body, limits);
    check(b.lines.size() <= limits.max_lines, "split_relay_body keeps more than max_lines lines");

    std::vector<std::string_view> non_empty;
    for (std::string_view rest = body;;) {
        const std::size_t nl = rest.find('\n');
        std::string_view l = rest.substr(0, nl);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);  // "\r\n" (or a last line's "\r")
        if (!l.empty()) non_empty.push_back(l);
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
    if (body.size() > limits.max_body || non_empty.size() > limits.max_lines) {
        check(b.status == 413, "a body over the limits is not 413", body.substr(0, 200));
    }
    if (b.status == 413) {
        check(b.lines.empty(), "a 413 body keeps lines");
        return;
    }
    check(b.status == 0 || b.status == 400, "split_relay_body with an odd status");
    check(b.lines.size() + b.refused == non_empty.size(), "kept + refused is not the number of non-empty lines",
          body.substr(0, 200));
    std::size_t k = 0;
    for (std::string_view l : non_empty) {
        const auto parsed = parse_hit_line(l);
        if (!parsed) continue;
        check(k < b.lines.size() && b.lines[k].rest == parsed->rest && b.lines[k].query == parsed->query,
              "split_relay_body lost, reordered or changed a good line", l);
        ++k;
    }
    check(k == b.lines.size(), "split_relay_body kept a line that does not parse");
    check((b.status == 400) == b.lines.empty(), "400 must be exactly: no good line");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    FuzzedDataProvider in(data + 1, size - 1);
    switch (data[0] % 3) {
        case 0: fuzz_route(in); break;
        case 1: fuzz_line(in); break;
        default: fuzz_body(in); break;
    }
    return 0;
}
