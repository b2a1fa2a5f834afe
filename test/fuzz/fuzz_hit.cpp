// The page hit's request line (hit.h): from any Hit, `wt?p=…&…&eor=1` with
// only the expected parameters, each once (the admin's as configured), one
// `eor=1` and last, `p` with exactly 8 fields, every value cleanly encoded
// and a prefix of what the visitor sent, under kMaxLineBytes, and a line that
// parse_hit_line (hit_line.h) accepts as it is.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.h"
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
    hit.url = in.ConsumeRemainingBytesAsString();

    const std::string line = encode_hit_line(hit);
    check(line.size() < kMaxLineBytes, "the line is not under kMaxLineBytes", line.substr(0, 200));
    check(fuzz::starts_with(line, "wt?"), "the line does not start with wt?", line);
    const std::string_view query = std::string_view(line).substr(3);

    std::set<std::string> admin;
    for (const auto& [name, value] : hit.params) {
        check(is_valid_param_name(name) == own_valid_param_name(name), "is_valid_param_name is wrong", name);
        if (is_valid_param_name(name)) admin.insert(name);
    }
    static const std::set<std::string> module = {"p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eid", "ceid", "one", "nc", "eor"};

    const std::vector<fuzz::Param> params = fuzz::split_query(query);
    std::map<std::string, int> count;
    std::map<std::string, std::string_view> value_of;
    for (const fuzz::Param& p : params) {
        const std::string name(p.name);
        check(p.has_eq, "a parameter without '='", name);
        check(module.count(name) || admin.count(name), "an unexpected parameter name", name);
        ++count[name];
        value_of.emplace(name, p.value);
        if (name != "p") check(fuzz::is_encoded_value(p.value), "a value not cleanly encoded", name + "=" + std::string(p.value));
    }
    for (const char* once : {"p", "X-WT-UA", "X-WT-IP", "X-WT-RQ", "eor"}) {
        check(count[once] == 1, "a parameter the module sets is not there exactly once", once);
    }
    for (const char* at_most_once : {"eid", "ceid", "one", "nc"}) {
        check(count[at_most_once] <= 1, "a parameter the module sets is there twice", at_most_once);
    }
    check(params.front().name == "p", "p is not the first parameter");
    check(params.back().name == "eor" && params.back().value == "1", "eor=1 is not last", line.substr(line.size() > 40 ? line.size() - 40 : 0));

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

    check_prefix_of(value_of["X-WT-UA"], hit.user_agent, "X-WT-UA is not a prefix of the visitor's user agent");
    check(utf8_chars(percent_decode(value_of["X-WT-UA"])) <= kMaxTextChars, "X-WT-UA is longer than 255 characters");
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
    for (const auto& [name, value] : hit.params) {
        if (count[name] && admin.count(name)) {
            // The first value for that name is a prefix of one of the admin's values for it.
            bool ok = false;
            for (const auto& [n2, v2] : hit.params) {
                if (n2 != name) continue;
                const std::string full = percent_decode(encode_query_value(v2));
                const std::string got = percent_decode(value_of[name]);
                ok = ok || full.compare(0, got.size(), got) == 0;
            }
            check(ok, "a custom parameter's value is not a prefix of its value", name);
        }
    }

    // Nothing is cut when everything fits easily.
    std::size_t naive = 200 + encode_query_value(hit.url).size() + encode_query_value(hit.referrer).size() +
                        encode_query_value(hit.content_id).size() + encode_query_value(hit.user_agent).size() +
                        encode_query_value(hit.custom_ever_id).size() + encode_query_value(hit.ip).size() +
                        encode_query_value(hit.ever_id).size();
    for (const auto& [name, value] : hit.params) naive += name.size() + 2 + encode_query_value(value).size();
    if (naive + 1024 < kMaxLineBytes) {
        check(percent_decode(value_of["X-WT-RQ"]) == percent_decode(encode_query_value(hit.url)), "a short URL was cut");
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
