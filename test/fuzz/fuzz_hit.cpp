// The page hit's request line (hit.h): from any Hit, `wt?p=…&…&eor=1` with
// only the expected parameters, each once (the admin's as configured), one
// `eor=1` and last, `p` with exactly 8 fields, every value cleanly encoded
// and a prefix of what the visitor sent (custom values and the media code:
// each `;`-separated value a prefix of the corresponding input value, at
// most 255 characters), X-WT-UA only for a user agent and not cut while the
// line fits, `la`/`mc`/client hints exactly as given or dropped whole and
// counted, under kMaxLineBytes, and a line that parse_hit_line (hit_line.h)
// accepts as it is.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "mapptrack/client_hints.h"
#include "mapptrack/encode.h"
#include "mapptrack/ever_id.h"
#include "mapptrack/hit.h"
#include "mapptrack/hit_line.h"

using namespace mapptrack;
using fuzz::check;

namespace {

std::string text(FuzzedDataProvider& in, std::size_t max) {
    switch (in.ConsumeIntegralInRange<int>(0, 7)) {
        case 0: return {};
        case 1: {  // one character many times (reaches the length limits with short inputs)
            const std::size_t count = in.ConsumeIntegralInRange<std::size_t>(0, max);
            return std::string(count, "a\xC3\xA9%&= \x01"[in.ConsumeIntegralInRange<int>(0, 7)]);
        }
        default: return in.ConsumeRandomLengthString(max);
    }
}

bool own_valid_param_name(std::string_view n) {
    if (n.empty() || n.size() > 32) return false;
    const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(n[0])) return false;
    for (char c : n) {
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
    }
    static const std::set<std::string_view> reserved = {"p", "eid", "ceid", "one", "nc", "eor", "fns", "mts"};
    return reserved.count(n) == 0;
}

// `value`, decoded, is a prefix of the cleaned `raw` (as encode_query_value cleans it).
void check_prefix_of(std::string_view value, std::string_view raw, const char* what) {
    check(fuzz::is_encoded_value(value), what, value);
    const std::string full = percent_decode(encode_query_value(raw));
    const std::string got = percent_decode(value);
    check(fuzz::is_valid_utf8(got) && !fuzz::has_c0_or_del(got), what, value);
    check(full.compare(0, got.size(), got) == 0 && got.size() <= full.size(), what, fuzz::show(got, full));
}

std::vector<std::string_view> split_semicolons(std::string_view s) {
    std::vector<std::string_view> out;
    for (;;) {
        const std::size_t semi = s.find(';');
        out.push_back(s.substr(0, semi));
        if (semi == std::string_view::npos) return out;
        s.remove_prefix(semi + 1);
    }
}

// A `;` list value as sent (custom parameters, mc): `%3B` between the values,
// each value a clean prefix of the input's value at that place, 255 characters
// at most; exactly as many values as the input has.
bool is_list_prefix_of(std::string_view value, std::string_view raw) {
    if (!fuzz::is_encoded_value(value)) return false;
    const std::vector<std::string_view> in = split_semicolons(raw);
    std::vector<std::string> out;
    for (std::string_view rest = value;;) {
        const std::size_t sep = rest.find("%3B");
        out.emplace_back(percent_decode(rest.substr(0, sep)));
        if (sep == std::string_view::npos) break;
        rest.remove_prefix(sep + 3);
    }
    if (out.size() != in.size()) return false;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::string full = percent_decode(encode_query_value(in[i]));
        const std::string& got = out[i];
        if (got.find(';') != std::string::npos || !fuzz::is_valid_utf8(got) || fuzz::has_c0_or_del(got)) return false;
        if (got.size() > full.size() || full.compare(0, got.size(), got) != 0) return false;
    }
    return true;
}

// The length of a `;` list as encode_hit_line sends it before any cut.
std::string list_encoding(std::string_view raw) {
    std::string out;
    bool first = true;
    for (std::string_view v : split_semicolons(raw)) {
        if (!first) out += "%3B";
        first = false;
        out += encode_query_value(v, kMaxTextChars);
    }
    return out;
}

// Independent of is_client_hint_param_name: X-WT-SEC-CH-UA[-A-Z0-9…].
bool own_hint_name(std::string_view n) {
    if (!fuzz::starts_with(n, "X-WT-SEC-CH-UA")) return false;
    const std::string_view rest = n.substr(14);
    if (rest.empty()) return true;
    if (rest.size() < 2 || rest.front() != '-' || rest.back() == '-' || n.size() - 5 > 64) return false;
    for (char c : rest) {
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

bool is_language(std::string_view s) {
    if (s.size() < 2 || s.size() > 8) return false;
    for (char c : s) {
        if (c < 'a' || c > 'z') return false;
    }
    return true;
}

std::size_t utf8_chars(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Hit hit;
    hit.pixel_version = in.ConsumeBool() ? 300 : in.ConsumeIntegral<int>();
    hit.time_ms = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int64_t>(0, 4102444800000) : in.ConsumeIntegral<std::int64_t>();
    hit.new_visitor = in.ConsumeBool();
    hit.anonymous = in.ConsumeBool();
    if (in.ConsumeBool()) {
        hit.ever_id = std::to_string(in.ConsumeIntegralInRange<std::uint64_t>(1000000000000000000ull, 9999999999999999999ull));
    } else {
        hit.ever_id = text(in, 30);
    }
    hit.custom_ever_id = text(in, 300);
    hit.ip = in.ConsumeBool() ? "203.0.113." + std::to_string(in.ConsumeIntegral<std::uint8_t>()) : text(in, 80);
    const int n_params = in.ConsumeIntegralInRange<int>(0, 6);
    for (int i = 0; i < n_params; ++i) {
        std::string name;
        switch (in.ConsumeIntegralInRange<int>(0, 3)) {
            case 0: name = "cg" + std::to_string(in.ConsumeIntegralInRange<int>(1, 20)); break;
            case 1: name = std::vector<std::string>{"p", "eid", "eor", "nc", "X-WT-IP", "X_WT_IP", "cs1"}[in.ConsumeIntegralInRange<int>(0, 6)]; break;
            default: name = in.ConsumeRandomLengthString(40);
        }
        hit.params.emplace_back(name, text(in, 600));
    }
    hit.content_id = text(in, 600);
    hit.user_agent = text(in, 600);
    hit.referrer = text(in, 9000);
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 0: break;
        case 1: hit.language = std::vector<std::string>{"de", "en", "fil", "abcdefgh", "abcdefghi", "D", "de-DE"}[in.ConsumeIntegralInRange<int>(0, 6)]; break;
        default: hit.language = text(in, 20);
    }
    hit.media_code = text(in, 700);
    {
        HeaderPairs headers;
        const int n_hints = in.ConsumeIntegralInRange<int>(0, 20);
        for (int i = 0; i < n_hints; ++i) {
            std::string name;
            switch (in.ConsumeIntegralInRange<int>(0, 3)) {
                case 0: name = std::vector<std::string>{"Sec-CH-UA", "sec-ch-ua-model", "Sec-CH-UA-Full-Version-List", "Sec-CH-UA-Platform", "Sec-CH-UA-", "Sec-CH-UAX", "X-WT-SEC-CH-UA-MOBILE", "X-WT-SEC-CH-UA-", "X-WT-IP"}[in.ConsumeIntegralInRange<int>(0, 8)]; break;
                case 1: name = "Sec-CH-UA-" + in.ConsumeRandomLengthString(70); break;
                default: name = in.ConsumeRandomLengthString(40);
            }
            headers.emplace_back(name, text(in, 600));
        }
        // The glue's path (client_hint_params), or raw pairs: encode_hit_line
        // must itself refuse a name or value client_hint_params would not give.
        hit.client_hints = in.ConsumeBool() ? client_hint_params(headers) : headers;
    }
    hit.url = in.ConsumeRemainingBytesAsString();

    HitLineStats stats;
    stats.dropped_params = 12345;  // encode_hit_line resets it
    stats.cut = true;
    const std::string line = encode_hit_line(hit, &stats);
    check(line == encode_hit_line(hit), "encode_hit_line with and without stats differ");
    check(line.size() < kMaxLineBytes, "the line is not under kMaxLineBytes", line.substr(0, 200));
    check(fuzz::starts_with(line, "wt?"), "the line does not start with wt?", line);
    const std::string_view query = std::string_view(line).substr(3);

    std::set<std::string> admin;
    for (const auto& [name, value] : hit.params) {
        check(is_valid_param_name(name) == own_valid_param_name(name), "is_valid_param_name is wrong", name);
        if (is_valid_param_name(name)) admin.insert(name);
    }
    static const std::set<std::string> module = {"p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eid", "ceid", "one", "nc",
                                                 "la", "mc", "mca", "eor"};
    // Hint names the hit may carry: valid ones it was given.
    std::set<std::string> hint_names;
    for (const auto& [name, value] : hit.client_hints) {
        check(is_client_hint_param_name(name) == own_hint_name(name), "is_client_hint_param_name is wrong", name);
        if (own_hint_name(name)) hint_names.insert(name);
    }

    const std::vector<fuzz::Param> params = fuzz::split_query(query);
    std::map<std::string, int> count;
    std::map<std::string, std::string_view> value_of;
    for (const fuzz::Param& p : params) {
        const std::string name(p.name);
        check(p.has_eq, "a parameter without '='", name);
        check(module.count(name) || admin.count(name) || hint_names.count(name), "an unexpected parameter name", name);
        ++count[name];
        value_of.emplace(name, p.value);
        if (name != "p") check(fuzz::is_encoded_value(p.value), "a value not cleanly encoded", name + "=" + std::string(p.value));
    }
    for (const char* once : {"p", "X-WT-IP", "X-WT-RQ", "eor"}) {
        check(count[once] == 1, "a parameter the module sets is not there exactly once", once);
    }
    for (const char* at_most_once : {"X-WT-UA", "eid", "ceid", "one", "nc"}) {
        check(count[at_most_once] <= 1, "a parameter the module sets is there twice", at_most_once);
    }
    check(params.front().name == "p", "p is not the first parameter");
    check(params.back().name == "eor" && params.back().value == "1", "eor=1 is not last", line.substr(line.size() > 40 ? line.size() - 40 : 0));
    // p, [X-WT-UA], X-WT-IP, X-WT-RQ in this order at the start.
    {
        std::size_t i = 1;
        if (count["X-WT-UA"]) check(params[i++].name == "X-WT-UA", "X-WT-UA is not right after p");
        check(params.size() > i + 1 && params[i].name == "X-WT-IP" && params[i + 1].name == "X-WT-RQ",
              "X-WT-IP, X-WT-RQ are not next", line.substr(0, 300));
    }

    // p: version, content ID, 0, 0, 0, 0, time, referrer.
    std::vector<std::string_view> fields;
    for (std::string_view p = value_of["p"];;) {
        const std::size_t comma = p.find(',');
        fields.push_back(p.substr(0, comma));
        if (comma == std::string_view::npos) break;
        p.remove_prefix(comma + 1);
    }
    check(fields.size() == 8, "p does not have exactly 8 fields", value_of["p"].substr(0, 300));
    check(fields[0] == std::to_string(hit.pixel_version), "p's first field is not the pixel version", fields[0]);
    for (int i = 2; i <= 5; ++i) check(fields[i] == "0", "p's fields 3 to 6 are not 0", fields[i]);
    check(fields[6] == std::to_string(hit.time_ms), "p's 7th field is not the time", fields[6]);
    check(!fields[1].empty() && !fields[7].empty(), "an empty content ID or referrer (must be 0)");
    // "0": no content ID, or none left after cleaning or cutting.
    if (fields[1] != "0") check_prefix_of(fields[1], hit.content_id, "the content ID is not a prefix of the page's");
    check(utf8_chars(percent_decode(fields[1])) <= kMaxTextChars, "the content ID is longer than 255 characters", fields[1]);
    if (fields[7] != "0") check_prefix_of(fields[7], hit.referrer, "the referrer is not a prefix of the visitor's");

    // X-WT-UA: only for a user agent (none when it cleans to nothing), a prefix of it.
    if (encode_query_value(hit.user_agent).empty()) check(!count["X-WT-UA"], "X-WT-UA without a user agent", line.substr(0, 300));
    if (count["X-WT-UA"]) {
        check(!value_of["X-WT-UA"].empty(), "an empty X-WT-UA");
        check_prefix_of(value_of["X-WT-UA"], hit.user_agent, "X-WT-UA is not a prefix of the visitor's user agent");
    }
    check_prefix_of(value_of["X-WT-IP"], hit.ip, "X-WT-IP is not a prefix of the visitor's IP");
    check_prefix_of(value_of["X-WT-RQ"], hit.url, "X-WT-RQ is not a prefix of the requested URL");

    if (hit.anonymous) {
        check(!count["eid"] && !count["ceid"] && !count["one"], "an anonymous hit carries eid, ceid or one", line);
        check(count["nc"] == 1 && value_of["nc"] == "1", "an anonymous hit without nc=1");
    } else {
        check(!count["nc"], "nc on a hit that is not anonymous");
        check(count["one"] == (hit.new_visitor ? 1 : 0), "one=1 must be there exactly for a new visitor");
        if (count["one"]) check(value_of["one"] == "1", "one is not 1");
        if (is_valid_ever_id(hit.ever_id)) check(value_of["eid"] == hit.ever_id, "eid is not the visitor's ever-ID");
        if (hit.ever_id.empty()) check(!count["eid"], "eid without an ever-ID");
        if (count["ceid"]) check_prefix_of(value_of["ceid"], hit.custom_ever_id, "ceid is not a prefix of the custom ID");
    }
    // Each value sent under an admin's name: per `;` value a prefix of one of
    // the admin's values for it (255 characters each). `la`, `mc`, `mca` are
    // the admin's when configured, else the module's.
    const auto admin_has = [&](const char* n) { return admin.count(n) > 0; };
    std::size_t candidates = 0;  // optional fragments encode_hit_line could send
    std::size_t optional_sent = 0;
    for (const fuzz::Param& p : params) {
        const std::string name(p.name);
        if (!admin.count(name)) continue;
        ++optional_sent;
        bool ok = false;
        for (const auto& [n2, v2] : hit.params) ok = ok || (n2 == name && is_list_prefix_of(p.value, v2));
        check(ok, "a custom parameter's value is not a per-value prefix of its value", name + "=" + std::string(p.value));
        const std::string decoded = percent_decode(p.value);
        for (std::string_view v : split_semicolons(decoded)) {
            check(utf8_chars(v) <= kMaxTextChars, "a custom parameter's value is longer than 255 characters", name);
        }
    }
    for (const auto& [name, value] : hit.params) candidates += is_valid_param_name(name);

    if (!admin_has("la")) {
        const bool may = is_language(hit.language);
        candidates += may;
        check(count["la"] <= (may ? 1 : 0), "la without a valid language, or twice", hit.language);
        if (count["la"]) {
            check(value_of["la"] == hit.language, "la is not the language given", value_of["la"]);
            ++optional_sent;
        }
    }
    if (!admin_has("mc")) {
        const bool may = !list_encoding(hit.media_code).empty();
        candidates += may;
        check(count["mc"] <= (may ? 1 : 0), "mc without a media code, or twice");
        if (count["mc"]) {
            ++optional_sent;
            check(is_list_prefix_of(value_of["mc"], hit.media_code), "mc is not a per-value prefix of the media code",
                  value_of["mc"]);
            const std::string decoded = percent_decode(value_of["mc"]);
            for (std::string_view v : split_semicolons(decoded)) {
                check(utf8_chars(v) <= kMaxTextChars, "a value of mc is longer than 255 characters");
            }
        }
        if (!admin_has("mca")) {
            check(count["mca"] == count["mc"], "mca is not sent exactly with mc");
            if (count["mca"]) check(value_of["mca"] == "c", "mca is not c");
            // mca travels right after its mc.
            for (std::size_t i = 0; i < params.size(); ++i) {
                if (params[i].name == "mc") check(i + 1 < params.size() && params[i + 1].name == "mca", "mca does not follow mc");
            }
        }
    } else if (!admin_has("mca")) {
        check(!count["mca"], "mca without the module's mc");
    }
    // Client hints: sent whole (exactly as encoded) or not at all.
    for (const auto& [name, value] : hit.client_hints) {
        if (!own_hint_name(name) || value.size() > kMaxClientHintBytes || encode_query_value(value).empty()) continue;
        ++candidates;
    }
    for (const fuzz::Param& p : params) {
        if (!hint_names.count(std::string(p.name)) || admin.count(std::string(p.name))) continue;
        ++optional_sent;
        bool ok = false;
        for (const auto& [n2, v2] : hit.client_hints) {
            ok = ok || (n2 == p.name && v2.size() <= kMaxClientHintBytes && encode_query_value(v2) == p.value);
        }
        check(ok, "a client hint is not one given, whole", std::string(p.name) + "=" + std::string(p.value));
    }
    check(optional_sent + stats.dropped_params == candidates, "optional parameters sent + dropped != given",
          std::to_string(optional_sent) + " + " + std::to_string(stats.dropped_params) + " != " +
              std::to_string(candidates));

    // Nothing is cut when everything fits easily.
    std::size_t naive = 200 + encode_query_value(hit.url).size() + encode_query_value(hit.referrer).size() +
                        encode_query_value(hit.content_id).size() + encode_query_value(hit.user_agent).size() +
                        encode_query_value(hit.custom_ever_id).size() + encode_query_value(hit.ip).size() +
                        encode_query_value(hit.ever_id).size();
    for (const auto& [name, value] : hit.params) naive += name.size() + 2 + list_encoding(value).size();
    naive += 4 + hit.language.size() + 10 + list_encoding(hit.media_code).size();
    for (const auto& [name, value] : hit.client_hints) naive += name.size() + 2 + encode_query_value(value).size();
    if (naive + 1024 < kMaxLineBytes) {
        check(!stats.cut && stats.dropped_params == 0, "a short line was cut or lost parameters");
        check(percent_decode(value_of["X-WT-RQ"]) == percent_decode(encode_query_value(hit.url)), "a short URL was cut");
        if (!encode_query_value(hit.user_agent).empty()) {
            check(value_of["X-WT-UA"] == encode_query_value(hit.user_agent), "a user agent was cut on a short line");
        }
        for (const auto& [name, value] : hit.params) {
            if (admin.count(name)) check(count[name] >= 1, "a custom parameter was dropped from a short line", name);
        }
    }

    // The module's own line passes the check for lines from outside.
    const auto parsed = parse_hit_line(line);
    check(parsed.has_value(), "parse_hit_line refuses encode_hit_line's output", line.substr(0, 400));
    check(parsed->rest == "wt" && parsed->query == query, "parse_hit_line splits the line wrongly", parsed->rest);
    check(is_clean_query(query), "is_clean_query refuses encode_hit_line's query");
    return 0;
}
