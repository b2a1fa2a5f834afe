// Routing, body checks and answer filters for the pixel relay (variant B).
// Strict on purpose: the relay must never become an open proxy, nor serve
// the track server's redirects, cookies or markup as the site's own.
#include "mapptrack/relay.h"

#include "mapptrack/text.h"

#include <algorithm>
#include <cctype>

#include "mapptrack/cookies.h"

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

// The endpoints the pixels use under /{ids}/ (Mapp's pixels: wt, wt<random>,
// wt.pl, hm, hm.pl, cc, optout…, batch).
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
            route.base = std::string(location);
            return route;
        }
    }
    if (segments.empty() && has_param(query, "p") && !configured.empty()) {
        RelayRoute route;
        route.server_form = true;
        for (const std::string& id : configured) route.ids += (route.ids.empty() ? "" : ",") + id;
        route.rest = "wt";
        route.base = std::string(location);
        return route;
    }
    return refuse(404, "not a Mapp tracking request");
}

RelayRoute route_relay_request(std::string_view path, std::string_view query,
                               const std::vector<std::string>& configured, const std::vector<std::string>& bases) {
    if (bases.empty()) return refuse(404, "not a relay location");
    RelayRoute first;
    for (std::size_t i = 0; i < bases.size(); ++i) {
        RelayRoute route = route_relay_request(path, query, configured, std::string_view(bases[i]));
        if (route.status == 0) return route;
        // 400 and 414 judge the request itself, whatever the base: no other base can relay it.
        if (route.status != 404) return route;
        if (i == 0) first = std::move(route);
    }
    return first;
}

bool location_applies(std::string_view location, std::string_view uri) {
    if (uri.substr(0, location.size()) != location) return false;
    return location.empty() || location.back() == '/' || uri.size() == location.size() ||
           uri[location.size()] == '/';
}

std::optional<std::string> relay_base_from_match(std::string_view uri, std::size_t begin, std::size_t end) {
    if (begin != 0 || end > uri.size() || uri.empty() || uri.front() != '/') return std::nullopt;
    const bool boundary = end == uri.size() || uri[end] == '/' || (end > 0 && uri[end - 1] == '/');
    if (!boundary) return std::nullopt;
    std::string_view base = uri.substr(0, end);
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    return std::string(base);
}

RelayBody split_relay_body(std::string_view body, const RelayLimits& limits) {
    RelayBody out;
    if (body.size() > limits.max_body) {
        out.status = 413;
        return out;
    }
    std::size_t count = 0;
    for (std::string_view rest = body; !rest.empty();) {
        const std::size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        // Counted before parsing, so a flood of junk lines is refused whole.
        if (++count > limits.max_lines) {
            out.status = 413;
            out.lines.clear();
            out.refused = 0;
            return out;
        }
        if (std::optional<HitLine> hit = parse_hit_line(line)) {
            out.lines.push_back(std::move(*hit));
        } else {
            ++out.refused;
        }
    }
    if (out.lines.empty()) out.status = 400;
    return out;
}

namespace {

// RFC 6265 token (a cookie name) and cookie-octet (a cookie value).
bool is_token_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
    return std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

bool is_cookie_octet(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == 0x21 || (u >= 0x23 && u <= 0x2B) || (u >= 0x2D && u <= 0x3A) ||
           (u >= 0x3C && u <= 0x5B) || (u >= 0x5D && u <= 0x7E);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// An HTTP date as Expires carries it: letters, digits, space, ',', ':', '-'.
bool is_date_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == ',' || c == ':' || c == '-';
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7F;
    });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string_view set_cookie_name(std::string_view set_cookie) {
    const std::string_view pair = set_cookie.substr(0, set_cookie.find(';'));
    const std::size_t eq = pair.find('=');
    return eq == std::string_view::npos ? std::string_view() : trim(pair.substr(0, eq));
}

std::optional<std::string> relay_set_cookie(std::string_view set_cookie, std::string_view domain,
                                            bool site_https) {
    // A control byte anywhere could end the header line: not relayed at all.
    if (has_control(set_cookie) || has_control(domain)) return std::nullopt;
    const std::size_t semi = set_cookie.find(';');
    const std::string_view pair = trim(set_cookie.substr(0, semi));
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = trim(pair.substr(0, eq));
    std::string_view value = trim(pair.substr(eq + 1));
    if (name.empty() || !all_of(name, is_token_char) || !is_mapp_cookie_name(name)) return std::nullopt;
    std::string_view bare = value;
    if (bare.size() >= 2 && bare.front() == '"' && bare.back() == '"') bare = bare.substr(1, bare.size() - 2);
    if (!all_of(bare, is_cookie_octet)) return std::nullopt;

    std::string out;
    out.append(name).append("=").append(value).append("; Path=/");
    if (!domain.empty()) {
        if (domain.find_first_of("; ,") != std::string_view::npos) return std::nullopt;
        out.append("; Domain=").append(domain);
    }
    bool max_age = false, expires = false, secure = false, http_only = false, same_site = false;
    for (std::string_view attrs = semi == std::string_view::npos ? std::string_view() : set_cookie.substr(semi + 1);
         !attrs.empty();) {
        const std::size_t next = attrs.find(';');
        const std::string_view attr = trim(attrs.substr(0, next));
        attrs = next == std::string_view::npos ? std::string_view() : attrs.substr(next + 1);
        const std::size_t aeq = attr.find('=');
        const std::string key = lower(trim(attr.substr(0, aeq)));
        const std::string_view val = aeq == std::string_view::npos ? std::string_view() : trim(attr.substr(aeq + 1));
        if (key == "max-age" && !max_age && !val.empty() && val.size() <= 12 && all_of(val, is_digit)) {
            out.append("; Max-Age=").append(val);
            max_age = true;
        } else if (key == "expires" && !expires && !val.empty() && val.size() <= 64 && all_of(val, is_date_char)) {
            out.append("; Expires=").append(val);
            expires = true;
        } else if (key == "secure" && aeq == std::string_view::npos && !secure) {
            // Over plain HTTP the browser would refuse the whole cookie.
            if (site_https) out.append("; Secure");
            secure = true;
        } else if (key == "httponly" && aeq == std::string_view::npos && !http_only) {
            out.append("; HttpOnly");
            http_only = true;
        } else if (key == "samesite" && !same_site) {
            const std::string v = lower(val);
            // None needs Secure; without it (plain HTTP) Lax, the browsers' own default.
            const char* none = site_https ? "None" : "Lax";
            const char* canonical = v == "lax" ? "Lax" : v == "strict" ? "Strict" : v == "none" ? none : nullptr;
            if (canonical) {
                out.append("; SameSite=").append(canonical);
                same_site = true;
            }
        }
        // Path, Domain and anything else the track server said are not passed on.
    }
    return out;
}

bool is_relayable_content_type(std::string_view content_type) {
    const std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
    const std::size_t slash = type.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == type.size()) return false;
    const std::string_view major = std::string_view(type).substr(0, slash);
    const std::string_view minor = std::string_view(type).substr(slash + 1);
    if (!all_of(major, is_token_char) || !all_of(minor, is_token_char) ||
        minor.find('/') != std::string_view::npos) {
        return false;
    }
    // SVG is an image that runs script: never served from the site's origin.
    if (major == "image") return minor != "svg+xml" && minor.find("svg") == std::string_view::npos;
    if (major == "text") return minor == "plain";
    if (major == "application") {
        return minor == "json" || (minor.size() > 5 && minor.substr(minor.size() - 5) == "+json");
    }
    return false;
}

bool is_allowed_redirect(std::string_view location, std::string_view site_host, std::string_view track_host) {
    if (location.empty()) return false;
    for (char c : location) {
        const auto u = static_cast<unsigned char>(c);
        // '\\' counts as '/' for browsers: "/\\evil" would leave the site.
        if (u <= 0x20 || u >= 0x7F || c == '\\') return false;
    }
    if (location.front() == '/') return location.size() == 1 || location[1] != '/';
    const std::size_t colon = location.find("://");
    if (colon == std::string_view::npos) return false;
    const std::string scheme = lower(location.substr(0, colon));
    if (scheme != "http" && scheme != "https") return false;
    std::string_view authority = location.substr(colon + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
    std::string_view host;
    std::string_view port;
    if (authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return false;
        host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return false;
            port = after.substr(1);
        }
    } else {
        const std::size_t pcolon = authority.find(':');
        host = authority.substr(0, pcolon);
        if (pcolon != std::string_view::npos) port = authority.substr(pcolon + 1);
    }
    if (!all_of(port, is_digit) || port.size() > 5) return false;
    if (host.empty()) return false;
    return (!site_host.empty() && iequals(host, site_host)) || (!track_host.empty() && iequals(host, track_host));
}

std::string_view transparent_gif() {
    static constexpr unsigned char gif[] = {
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff,
        0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};
    return std::string_view(reinterpret_cast<const char*>(gif), sizeof gif);
}

}  // namespace mapptrack
