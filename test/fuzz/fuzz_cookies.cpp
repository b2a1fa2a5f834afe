// Cookie header parsing (cookies.h): whatever the visitor sends, only Mapp
// cookies are passed on, the header passed on cannot be split or truncated
// (no CR, LF, NUL), and reading it again gives exactly the pairs passed on.
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "mapptrack/cookies.h"

using namespace mapptrack;
using fuzz::check;

namespace {

// RFC 6265 token characters (a cookie name) and cookie-octets (a value).
bool is_token_char(unsigned char c) {
    return c > 0x20 && c < 0x7F && std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) == std::string_view::npos;
}
bool is_cookie_octet(unsigned char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) || (c >= 0x3C && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7E);
}
// A pair nothing is wrong with: it must be passed on unchanged.
bool is_clean_pair(std::string_view name, std::string_view value) {
    if (name.empty()) return false;
    for (unsigned char c : name) {
        if (!is_token_char(c)) return false;
    }
    for (unsigned char c : value) {
        if (!is_cookie_octet(c)) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string header(reinterpret_cast<const char*>(data), size);
    const CookieList cookies = parse_cookie_header(header);

    for (const auto& [name, value] : cookies) {
        check(!name.empty(), "parse_cookie_header returned an empty name");
        // Views into the header.
        check(name.data() >= header.data() && name.data() + name.size() <= header.data() + header.size(),
              "a cookie name does not point into the header");
        check(value.data() >= header.data() && value.data() + value.size() <= header.data() + header.size(),
              "a cookie value does not point into the header");
        check(name.find(';') == std::string_view::npos, "a cookie name holds ';'", name);
        check(name.find('=') == std::string_view::npos, "a cookie name holds '='", name);
        check(value.find(';') == std::string_view::npos, "a cookie value holds ';'", value);
        // find_cookie gives the first of that name.
        const auto found = find_cookie(cookies, name);
        check(found.has_value(), "find_cookie misses a parsed cookie", name);
    }
    for (const auto& [name, value] : cookies) {
        const auto found = find_cookie(cookies, name);
        for (const auto& [n2, v2] : cookies) {
            if (n2 == name) {
                check(found->data() == v2.data() && found->size() == v2.size(),
                      "find_cookie does not return the first cookie of that name", name);
                break;
            }
        }
    }

    const std::string out = mapp_cookie_header(cookies);
    check(out.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
          "the Mapp cookie header holds CR, LF or NUL", out);

    const CookieList again = parse_cookie_header(out);
    for (const auto& [name, value] : again) {
        check(is_mapp_cookie_name(name), "a non-Mapp cookie is passed on", fuzz::show(name, out));
        check(fuzz::starts_with(name, "wt") || name == "webtrekkOptOut" || name == "miCookieOptOut",
              "is_mapp_cookie_name accepts a name that is not Mapp's", name);
    }
    // Reading the header passed on gives the Mapp pairs of the input, in order,
    // leaving out only pairs that are not clean, and every clean pair is kept.
    std::size_t j = 0;
    for (const auto& [name, value] : cookies) {
        if (!is_mapp_cookie_name(name)) continue;
        if (j < again.size() && again[j].first == name && again[j].second == value) {
            ++j;
            continue;
        }
        check(!is_clean_pair(name, value), "a clean Mapp cookie is lost or changed on the way",
              fuzz::show(std::string(name) + "=" + std::string(value), out));
    }
    check(j == again.size(), "re-parsing the Mapp cookie header gives pairs that were not in the input",
          fuzz::show(header, out));
    // Passing on what was passed on changes nothing.
    check(mapp_cookie_header(again) == out, "mapp_cookie_header is not idempotent", out);

    // wt3_eid entries: a view into the value, found only under its track ID.
    if (size > 0) {
        const std::size_t split = data[0] % (size + 1);
        const std::string_view id = std::string_view(header).substr(0, split);
        const std::string_view value = std::string_view(header).substr(split);
        const auto eid = parse_wt3_eid(value, id);
        if (id.empty()) check(!eid, "parse_wt3_eid found an entry for an empty track ID");
        if (eid) {
            check(eid->data() >= value.data() && eid->data() + eid->size() <= value.data() + value.size(),
                  "parse_wt3_eid's result does not point into the value");
            check(eid->find_first_of(";#") == std::string_view::npos, "a wt3_eid entry holds ';' or '#'", *eid);
            const std::string entry = std::string(id) + "|" + std::string(*eid);
            check(value.find(entry) != std::string_view::npos, "a wt3_eid entry not preceded by its track ID",
                  entry);
        }
    }
    return 0;
}
