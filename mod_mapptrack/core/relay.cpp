// Routing and rewriting for the pixel relay (variant B). Strict on purpose:
// the relay must never become an open proxy.
#include "mapptrack/relay.h"

#include <algorithm>
#include <cctype>

#include "mapptrack/encode.h"

namespace mapptrack {
namespace {

RelayRoute refuse(int status, std::string reason) {
    RelayRoute route;
    route.status = status;
    route.reason = std::move(reason);
    return route;
}

bool all_of(std::string_view s, bool (*pred)(char)) {
    return std::all_of(s.begin(), s.end(), pred);
}

bool is_rest_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// The endpoints the pixels use under /{ids}/ (notes: wt, wt<random>, wt.pl,
// hm, hm.pl, cc, optout…, batch).
bool is_relayable_rest(std::string_view rest) {
    if (rest.empty() || rest.size() > 40 || !all_of(rest, is_rest_char)) return false;
    if (rest == "batch" || rest == "cc" || rest == "hm" || rest == "hm.pl") return true;
    if (starts_with(rest, "optout")) return true;
    return starts_with(rest, "wt") && rest.find("..") == std::string_view::npos;
}

bool has_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view piece = query.substr(0, amp);
        if (piece.substr(0, piece.find('=')) == name) return true;
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return false;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

RelayRoute route_relay_request(std::string_view path, std::string_view query,
                               const std::vector<std::string>& configured, std::string_view location) {
    if (path.size() + query.size() + 1 > kRelayMaxUri) {
        return refuse(414, "the request is longer than " + std::to_string(kRelayMaxUri) + " bytes");
    }
    if (path.empty() || path.front() != '/') return refuse(400, "only a path is accepted, not a URL");
    for (char c : path) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F || u >= 0x80) return refuse(400, "control or non-ASCII characters in the path");
        if (c == '%') return refuse(400, "encoded characters in the path are not relayed");
        if (c == '@' || c == '\\' || c == '#') return refuse(400, "'@', '\\' and '#' are not allowed in the path");
    }
    for (char c : query) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7F || c == '#') return refuse(400, "control characters in the query");
    }
    // Segments, for `..`/`.`.
    for (std::string_view rest = path.substr(1);;) {
        const std::size_t slash = rest.find('/');
        const std::string_view segment = rest.substr(0, slash);
        if (segment == ".." || segment == ".") return refuse(400, "'.' and '..' are not allowed in the path");
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    // What follows the relay's location: "" (or "/") or exactly "/{ids}/{rest}".
    while (!location.empty() && location.back() == '/') location.remove_suffix(1);
    if (path.substr(0, location.size()) != location ||
        (path.size() > location.size() && path[location.size()] != '/')) {
        return refuse(404, "not under the relay location " + std::string(location));
    }
    std::string_view tail = path.substr(location.size());
    std::vector<std::string_view> segments;
    for (std::string_view rest = tail.empty() ? tail : tail.substr(1); !rest.empty();) {
        const std::size_t slash = rest.find('/');
        segments.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
        if (rest.empty()) segments.push_back(rest);  // a trailing slash is a segment too
    }
    if (segments.size() == 2) {
        const std::string_view ids = segments[0];
        const std::string_view rest = segments[1];
        const bool ids_shaped = !ids.empty() && all_of(ids, [](char c) {
            return (c >= '0' && c <= '9') || c == ',';
        });
        if (ids_shaped && is_relayable_rest(rest)) {
            for (std::string_view list = ids;;) {
                const std::size_t comma = list.find(',');
                const std::string_view id = list.substr(0, comma);
                if (std::find(configured.begin(), configured.end(), id) == configured.end()) {
                    return refuse(404, "track ID '" + std::string(id) + "' is not relayed here");
                }
                if (comma == std::string_view::npos) break;
                list.remove_prefix(comma + 1);
            }
            RelayRoute route;
            route.ids = std::string(ids);
            route.rest = std::string(rest);
            return route;
        }
    }
    if (segments.empty() && has_param(query, "p") && !configured.empty()) {
        RelayRoute route;
        route.server_form = true;
        for (const std::string& id : configured) route.ids += (route.ids.empty() ? "" : ",") + id;
        route.rest = "wt";
        return route;
    }
    return refuse(404, "not a Mapp tracking request");
}

std::string strip_client_claims(std::string_view query) {
    std::string out;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view piece = query.substr(0, amp);
        const std::string name = percent_decode(piece.substr(0, piece.find('=')));
        if (!piece.empty() && !iequals(name, "X-WT-IP") && !iequals(name, "X-WT-UA")) {
            if (!out.empty()) out.push_back('&');
            out.append(piece);
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

std::string rewrite_cookie_domain(std::string_view set_cookie, std::string_view domain) {
    std::string out;
    bool first = true;
    while (true) {
        const std::size_t semi = set_cookie.find(';');
        const std::string_view attr = trim(set_cookie.substr(0, semi));
        const bool is_domain = !first && iequals(trim(attr.substr(0, attr.find('='))), "domain");
        if (!attr.empty() && !is_domain) {
            if (!out.empty()) out += "; ";
            out.append(attr);
        }
        first = false;
        if (semi == std::string_view::npos) break;
        set_cookie.remove_prefix(semi + 1);
    }
    if (!domain.empty()) {
        out += "; Domain=";
        out.append(domain);
    }
    return out;
}

std::string add_client_to_line(std::string_view line, std::string_view user_agent, std::string_view ip) {
    std::string client = "X-WT-UA=" + encode_query_value(user_agent, 255) +
                         "&X-WT-IP=" + encode_query_value(ip, 64);
    std::string_view query = line;
    std::string prefix;
    if (const std::size_t q = line.find('?'); q != std::string_view::npos) {
        prefix = std::string(line.substr(0, q + 1));
        query = line.substr(q + 1);
    }
    std::string stripped = strip_client_claims(query);
    const std::string eor = "eor=1";
    if (stripped.size() >= eor.size() &&
        stripped.compare(stripped.size() - eor.size(), eor.size(), eor) == 0 &&
        (stripped.size() == eor.size() || stripped[stripped.size() - eor.size() - 1] == '&')) {
        stripped.insert(stripped.size() - eor.size(), client + "&");
    } else {
        if (!stripped.empty()) stripped.push_back('&');
        stripped += client;
    }
    return prefix + stripped;
}

std::string_view transparent_gif() {
    static constexpr unsigned char gif[] = {
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff,
        0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};
    return std::string_view(reinterpret_cast<const char*>(gif), sizeof gif);
}

}  // namespace mapptrack
