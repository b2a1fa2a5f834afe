// The inspector's reading of a hit (inspect.h): names from Mapp's request
// structure, rules from Mapp's limits (7 KB per request, 255 characters per
// value, a 19-digit ever-ID, eor last).
#include "mapptrack/inspect.h"

#include <cctype>
#include <cstdlib>

#include "mapptrack/cookies.h"
#include "mapptrack/encode.h"
#include "mapptrack/text.h"

namespace mapptrack {
namespace {

constexpr std::size_t kMaxLine = 7 * 1024;
constexpr std::size_t kMaxValueChars = 255;
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

struct Known {
    std::string_view key;
    std::string_view label;
};

constexpr Known kParams[] = {
    {"p", "page request (version, page name, …)"},
    {"eid", "ever-ID"},
    {"ceid", "custom ever-ID"},
    {"one", "first visit"},
    {"fns", "new session"},
    {"nc", "anonymous (no cookie)"},
    {"pu", "page URL"},
    {"la", "browser language"},
    {"tz", "time zone"},
    {"np", "plugins"},
    {"mc", "campaign ID"},
    {"mca", "campaign action"},
    {"cs801", "library version"},
    {"cs802", "platform"},
    {"pec", "permission category"},
    {"pf", "feature flags"},
    {"fpv", "temporary session ID"},
    {"fpt", "temporary session ID type"},
    {"rla", "request limit reached"},
    {"mts", "server time (ms)"},
    {"ct", "action name"},
    {"is", "internal search"},
    {"cd", "customer ID"},
    {"ov", "order value"},
    {"oi", "order ID"},
    {"cr", "currency"},
    {"ba", "products"},
    {"co", "product costs"},
    {"qn", "product quantities"},
    {"st", "product status"},
    {"X-WT-IP", "visitor IP"},
    {"X-WT-UA", "visitor user agent"},
    {"X-WT-RQ", "page URL (as requested)"},
    {"X-WT-SEC-CH-UA", "client hint: browser brands"},
    {"X-WT-SEC-CH-UA-MOBILE", "client hint: mobile"},
    {"X-WT-SEC-CH-UA-PLATFORM", "client hint: platform"},
    {"X-WT-SEC-CH-UA-PLATFORM-VERSION", "client hint: platform version"},
    {"X-WT-SEC-CH-UA-MODEL", "client hint: device model"},
    {"X-WT-SEC-CH-UA-FULL-VERSION-LIST", "client hint: full browser versions"},
    {"X-WT-SEC-CH-UA-ARCH", "client hint: architecture"},
    {"X-WT-SEC-CH-UA-BITNESS", "client hint: bitness"},
    {"X-WT-SEC-CH-UA-WOW64", "client hint: WoW64"},
    {"eor", "end of request"},
};

struct Numbered {
    std::string_view prefix;
    std::string_view label;
};

constexpr Numbered kNumbered[] = {
    {"cp", "page parameter"},      {"cs", "session parameter"},   {"ck", "action parameter"},
    {"cg", "page category"},       {"cc", "campaign parameter"},  {"cb", "product parameter"},
    {"ca", "product category"},    {"uc", "URM parameter"},       {"vc", "CRM parameter"},
    {"ce", "time parameter"},
};

constexpr std::string_view kPageFields[] = {
    "version",           "page name",      "JavaScript",  "screen resolution",   "color depth",
    "cookies enabled",   "client time (ms)", "referrer",  "browser window size", "Java enabled",
};

bool all_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string label_for(std::string_view key) {
    for (const Known& k : kParams) {
        if (iequals(k.key, key)) return std::string(k.label);
    }
    if (starts_with(key, "X-WT-SEC-CH-UA") || starts_with(key, "x-wt-sec-ch-ua")) return "client hint";
    for (const Numbered& n : kNumbered) {
        if (key.size() > n.prefix.size() && key.substr(0, n.prefix.size()) == n.prefix &&
            all_digits(key.substr(n.prefix.size()))) {
            return std::string(n.label) + " " + std::string(key.substr(n.prefix.size()));
        }
    }
    return {};
}

// Characters as Mapp counts them: UTF-8 code points.
std::size_t chars(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
}

bool valid_escapes(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') continue;
        if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            return false;
        }
        i += 2;
    }
    return true;
}

bool plausible_key(std::string_view key) {
    if (key.empty()) return false;
    for (unsigned char c : key) {
        if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') return false;
    }
    return true;
}

std::string shown(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 40)) out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
    return s.size() > 40 ? out + "…" : out;
}

void check_page(InspectedHit& hit, std::string_view raw_p, std::int64_t received_ms) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = raw_p.find(',', start);
        fields.push_back(raw_p.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
        InspectedField f;
        f.label = i < std::size(kPageFields) ? std::string(kPageFields[i]) : "field " + std::to_string(i);
        f.value = percent_decode(fields[i]);
        if (i == 7) {
            if (f.value == "0") f.value = "0 (none)";
            else if (f.value == "1") f.value = "1 (own domain)";
            else if (f.value == "2") f.value = "2 (not the first request of the page view)";
        }
        if (chars(percent_decode(fields[i])) > kMaxValueChars) {
            hit.violations.push_back("p: field " + std::to_string(i) + " (" + f.label + ") is over 255 characters");
        }
        hit.page.push_back(std::move(f));
    }
    if (fields.size() < 7) {
        hit.violations.push_back("p: malformed: " + std::to_string(fields.size()) +
                                 " field(s), at least 7 expected (version,page name,…,client time,referrer)");
    }
    if (!all_digits(fields[0])) hit.violations.push_back("p: malformed: the version \"" + shown(fields[0]) + "\" is not a number");
    if (fields.size() > 10) {
        hit.violations.push_back("p: " + std::to_string(fields.size()) +
                                 " fields: an unencoded separator (a raw ',' in a value)?");
    }
    if (fields.size() >= 7) {
        const std::string_view ts = fields[6];
        if (ts.size() != 13 || !all_digits(ts)) {
            hit.violations.push_back("p: the client time \"" + shown(ts) + "\" is implausible (not 13 digits of ms)");
        } else {
            const std::int64_t t = std::strtoll(std::string(ts).c_str(), nullptr, 10);
            if (t < received_ms - kDayMs || t > received_ms + kDayMs) {
                hit.violations.push_back("p: the client time " + std::string(ts) +
                                         " is implausible (more than a day from when the hit arrived)");
            }
        }
    }
}

std::string cookie_ever_id(std::string_view cookie, std::string_view track_ids) {
    if (cookie.empty()) return {};
    const CookieList cookies = parse_cookie_header(cookie);
    const std::string_view first_id = track_ids.substr(0, track_ids.find(','));
    const std::string wanted = "wteid_" + std::string(first_id);
    for (const auto& c : cookies) {
        if (c.first == wanted) return std::string(c.second);
    }
    return {};
}

}  // namespace

InspectedHit inspect_hit(std::string_view track_ids, std::string_view line, std::string_view cookie,
                         std::int64_t received_ms) {
    InspectedHit hit;
    hit.track_ids.assign(track_ids);
    hit.line.assign(line);
    hit.received_ms = received_ms;
    // The request target as the track server sees it: "/{ids}/" + line.
    if (line.size() + track_ids.size() + 2 > kMaxLine) {
        hit.violations.push_back("the line is " + std::to_string(line.size() + track_ids.size() + 2) +
                                 " bytes: over Mapp's 7 KB");
    }
    for (unsigned char c : line) {
        if (c <= 0x20 || c >= 0x7f) {
            hit.violations.push_back("an unencoded separator or control character (a raw space, control byte or "
                                     "non-ASCII byte) in the line");
            break;
        }
    }
    const std::size_t q = line.find('?');
    const std::string_view query = q == std::string_view::npos ? std::string_view() : line.substr(q + 1);
    std::string_view raw_p;
    bool have_p = false;
    std::size_t eor_at = std::string_view::npos, count = 0;
    std::size_t start = 0;
    while (start <= query.size() && !query.empty()) {
        std::size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        const std::string_view piece = query.substr(start, amp - start);
        start = amp + 1;
        if (piece.empty()) continue;
        const std::size_t eq = piece.find('=');
        const std::string_view raw_key = piece.substr(0, eq);
        const std::string_view raw_value = eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
        InspectedParam param;
        param.key = percent_decode(raw_key);
        param.value = percent_decode(raw_value);
        param.label = label_for(param.key);
        ++count;
        if (!valid_escapes(piece)) {
            hit.violations.push_back(param.key.empty() ? "invalid percent-encoding"
                                                       : param.key + ": invalid percent-encoding");
        }
        if (!plausible_key(param.key) || raw_value.find('=') != std::string_view::npos) {
            hit.violations.push_back("\"" + shown(param.key) + "\": an unencoded separator ('=' or '&' inside a "
                                     "name or value)");
        }
        if (param.key == "p") {
            if (!have_p) raw_p = raw_value;
            have_p = true;
        } else if (chars(param.value) > kMaxValueChars && param.key != "X-WT-UA" && param.key != "X-WT-RQ" &&
                   param.key != "pu") {
            hit.violations.push_back(param.key + ": the value is " + std::to_string(chars(param.value)) +
                                     " characters, over 255");
        }
        if (param.key == "eor") {
            eor_at = count;
            if (param.value != "1") hit.violations.push_back("eor: \"" + shown(param.value) + "\", not 1");
        }
        if (param.key == "eid") hit.ever_id = param.value;
        if (param.key == "X-WT-IP") hit.ip = param.value;
        if (param.key == "X-WT-UA") hit.user_agent = param.value;
        if (param.key == "nc" && param.value == "1") hit.anonymous = true;
        hit.params.push_back(std::move(param));
        if (amp == query.size()) break;
    }
    if (!have_p) {
        hit.violations.push_back("p: malformed: there is no p parameter");
    } else {
        check_page(hit, raw_p, received_ms);
    }
    if (eor_at == std::string_view::npos) {
        hit.violations.push_back("eor: missing (eor=1 must end the request)");
    } else if (eor_at != count) {
        hit.violations.push_back("eor: not the last parameter (what follows it may be ignored)");
    }
    if (hit.ever_id.empty() && !hit.anonymous) hit.ever_id = cookie_ever_id(cookie, track_ids);
    if (!hit.ever_id.empty() && (hit.ever_id.size() != 19 || !all_digits(hit.ever_id))) {
        hit.violations.push_back("eid: the ever-ID \"" + shown(hit.ever_id) + "\" is not 19 digits");
    }
    return hit;
}

}  // namespace mapptrack
