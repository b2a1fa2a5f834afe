// Visitor identity (identity.h, cookies.h): from any Cookie header and any
// configured track IDs, a Known visitor's ever-ID is 19 digits and comes from
// one of the cookies read, OptedOut exactly when webtrekkOptOut is there,
// Anonymous exactly when miCookieOptOut is there (and not webtrekkOptOut),
// and nothing throws.
#include <fuzzer/FuzzedDataProvider.h>

#include <exception>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "mapptrack/cookies.h"
#include "mapptrack/encode.h"
#include "mapptrack/ever_id.h"
#include "mapptrack/identity.h"

using namespace mapptrack;
using fuzz::check;

namespace {

bool nineteen_digits(std::string_view s) {
    if (s.size() != 19) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

bool has_cookie(const CookieList& cookies, std::string_view name) {
    for (const auto& [n, v] : cookies) {
        if (n == name) return true;
    }
    return false;
}

void run(FuzzedDataProvider& in) {
    const bool no_id_list = in.ConsumeIntegralInRange<int>(0, 15) == 0;  // rules.track_ids == nullptr
    std::vector<std::string> ids;
    const int n_ids = in.ConsumeIntegralInRange<int>(0, 3);
    for (int i = 0; i < n_ids; ++i) {
        // Mostly realistic IDs, sometimes anything.
        if (in.ConsumeBool()) ids.push_back(std::to_string(in.ConsumeIntegralInRange<std::uint64_t>(1, 999999999999999ull)));
        else ids.push_back(in.ConsumeRandomLengthString(24));
    }
    const std::string cookie_name = in.ConsumeBool() ? in.ConsumeRandomLengthString(20) : std::string();
    const std::string header = in.ConsumeRemainingBytesAsString();

    const CookieList cookies = parse_cookie_header(header);
    IdentityRules rules;
    rules.track_ids = no_id_list ? nullptr : &ids;
    rules.cookie_name = cookie_name;
    const Identity id = resolve_identity(cookies, rules);

    const bool opted_out = has_cookie(cookies, "webtrekkOptOut");
    const bool anonymous = has_cookie(cookies, "miCookieOptOut");
    check((id.kind == Identity::Kind::OptedOut) == opted_out, "OptedOut must be exactly: webtrekkOptOut is set", header);
    check((id.kind == Identity::Kind::Anonymous) == (anonymous && !opted_out),
          "Anonymous must be exactly: miCookieOptOut is set (and not webtrekkOptOut)", header);

    if (id.kind != Identity::Kind::Known) {
        check(id.ever_id.empty(), "an ever-ID for a visitor who is not Known", id.ever_id);
    } else {
        check(is_valid_ever_id(id.ever_id), "a Known visitor's ever-ID fails is_valid_ever_id", id.ever_id);
        check(nineteen_digits(id.ever_id), "a Known visitor's ever-ID is not 19 digits", id.ever_id);
        // It comes from one of the cookies read (docs/design.md §5, the read order).
        std::vector<std::string> direct = {"wtstp_eid", "wt_eid"};
        if (!cookie_name.empty()) direct.push_back(cookie_name);
        if (rules.track_ids) {
            for (const std::string& t : ids) direct.push_back("wteid_" + t);
        }
        bool explained = false;
        for (const auto& [n, v] : cookies) {
            for (const std::string& d : direct) {
                if (n == d && v == id.ever_id) explained = true;
            }
            if (rules.track_ids && (n == "wt3_eid" || n == "wt_eid")) {
                const std::string list = percent_decode(v);
                for (const std::string& t : ids) {
                    const auto e = parse_wt3_eid(list, t);
                    if (e && *e == id.ever_id) explained = true;
                }
            }
        }
        check(explained, "a Known ever-ID that none of the cookies read holds", fuzz::show(id.ever_id, header));
    }

    // The first cookie read wins: a valid wtstp_eid is the ever-ID.
    if (!opted_out && !anonymous) {
        if (const auto stp = find_cookie(cookies, "wtstp_eid"); stp && nineteen_digits(*stp)) {
            check(id.kind == Identity::Kind::Known && id.ever_id == *stp, "a valid wtstp_eid is not used", header);
        }
        bool any_source = has_cookie(cookies, "wtstp_eid") || has_cookie(cookies, "wt_eid") ||
                          (!cookie_name.empty() && has_cookie(cookies, cookie_name));
        if (rules.track_ids) {
            any_source = any_source || has_cookie(cookies, "wt3_eid");
            for (const std::string& t : ids) any_source = any_source || has_cookie(cookies, "wteid_" + t);
        }
        if (!any_source) check(id.kind == Identity::Kind::Unknown, "Known without any ever-ID cookie", header);
    }

    // The cookie the module sets has a name.
    const std::string set_name = ever_id_cookie_name(rules);
    check(!set_name.empty(), "ever_id_cookie_name is empty");
    if (cookie_name.empty() && rules.track_ids && !ids.empty()) {
        check(set_name == "wteid_" + ids.front(), "ever_id_cookie_name is not wteid_<first ID>", set_name);
    }

    // wt3_eid entries for each ID, from the decoded value.
    if (const auto wt3 = find_cookie(cookies, "wt3_eid")) {
        const std::string list = percent_decode(*wt3);
        for (const std::string& t : ids) {
            const auto e = parse_wt3_eid(list, t);
            if (t.empty()) check(!e, "parse_wt3_eid found an entry for an empty track ID");
            if (e) {
                check(e->find_first_of(";#") == std::string_view::npos, "a wt3_eid entry holds ';' or '#'", *e);
                check(list.find(t + "|" + std::string(*e)) != std::string::npos,
                      "a wt3_eid entry that is not under its track ID", list);
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    try {
        run(in);
    } catch (const std::exception& e) {
        fuzz::fail("an exception from the identity code", e.what());
    } catch (...) {
        fuzz::fail("an exception from the identity code");
    }
    return 0;
}
