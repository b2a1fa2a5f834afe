// Track domain URLs, track IDs and the admin's allow-list of track hosts.
#include "mapptrack/target.h"

#include <arpa/inet.h>

#include <cctype>

namespace mapptrack {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// Path characters passed on as they are: RFC 3986 pchar without `%` escapes.
bool is_path_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-._~!$&'()*+,;=:@/").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<int> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return std::nullopt;
    int port = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return std::nullopt;
    return port;
}

std::string TrackDomain::url() const {
    std::string out = scheme + "://";
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    const int default_port = scheme == "https" ? 443 : 80;
    if (port != default_port) out += ":" + std::to_string(port);
    out += path;
    return out;
}

std::optional<TrackDomain> parse_track_domain(std::string_view text, std::string* error) {
    const auto bad = [&](const char* reason) -> std::optional<TrackDomain> {
        if (error) *error = reason;
        return std::nullopt;
    };
    TrackDomain d;
    const std::size_t sep = text.find("://");
    if (sep == std::string_view::npos) return bad("must be a URL such as https://yourdomain.webtrekk.net");
    d.scheme = lower(text.substr(0, sep));
    if (d.scheme != "http" && d.scheme != "https") return bad("the scheme must be https:// or http://");
    std::string_view rest = text.substr(sep + 3);
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (authority.empty()) return bad("the URL has no host");
    if (authority.find('@') != std::string_view::npos) return bad("user information (@) is not allowed");
    if (text.find_first_of("?#") != std::string_view::npos) return bad("a query or fragment is not allowed");

    std::string_view host = authority;
    std::string_view port_text;
    if (authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated IPv6 address");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("bad characters after the IPv6 address");
            port_text = after.substr(1);
            if (port_text.empty()) return bad("empty port");
        }
        for (char c : host) {
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
                return bad("bad IPv6 address");
        }
    } else {
        const std::size_t colon = authority.find(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return bad("empty port");
        }
        for (char c : host) {
            if (!is_host_char(c)) return bad("the host name has characters a host name cannot have");
        }
    }
    if (host.empty()) return bad("the URL has no host");
    // The host must mean to us what it means to libcurl, which reads
    // `127.1`, `0x7f.1`, `2130706433` or `063.0.0.1` as other IPv4 addresses:
    // a host whose last label is a number must be a plain dotted quad, and a
    // bracketed one a valid IPv6 address.
    const std::string host_text(host);
    if (authority.front() == '[') {
        in6_addr v6;
        if (inet_pton(AF_INET6, host_text.c_str(), &v6) != 1) return bad("bad IPv6 address");
    } else {
        std::string_view trimmed = host;
        if (trimmed.size() > 1 && trimmed.back() == '.') trimmed.remove_suffix(1);
        const std::size_t dot = trimmed.rfind('.');
        const std::string_view last = dot == std::string_view::npos ? trimmed : trimmed.substr(dot + 1);
        const bool numeric = !last.empty() && (std::isdigit(static_cast<unsigned char>(last.front())) ||
                                               (last.size() > 1 && (last[0] == '0') && (last[1] == 'x' || last[1] == 'X')));
        in_addr v4;
        if (numeric && inet_pton(AF_INET, std::string(trimmed).c_str(), &v4) != 1) {
            return bad("a numeric host must be a dotted IPv4 address (a.b.c.d, no leading zeros)");
        }
    }
    d.host = lower(host);
    if (!port_text.empty()) {
        const auto port = parse_port(port_text);
        if (!port) return bad("the port must be a number from 1 to 65535");
        d.port = *port;
    } else {
        d.port = d.scheme == "https" ? 443 : 80;
    }
    for (char c : path) {
        if (!is_path_char(c)) return bad("the path has characters that must not be in a track domain");
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    d.path = std::string(path);
    return d;
}

std::optional<std::vector<std::string>> parse_track_ids(std::string_view text, std::string* error) {
    std::vector<std::string> ids;
    for (;;) {
        const std::size_t comma = text.find(',');
        std::string_view id = text.substr(0, comma);
        while (!id.empty() && id.front() == ' ') id.remove_prefix(1);
        while (!id.empty() && id.back() == ' ') id.remove_suffix(1);
        if (id.empty() || id.size() > 20) {
            if (error) *error = "expected track IDs (1 to 20 digits each), separated by commas";
            return std::nullopt;
        }
        for (char c : id) {
            if (c < '0' || c > '9') {
                if (error) *error = "a track ID has only digits";
                return std::nullopt;
            }
        }
        ids.emplace_back(id);
        if (comma == std::string_view::npos) break;
        text = text.substr(comma + 1);
    }
    return ids;
}

std::string make_endpoint(const TrackDomain& domain, const std::vector<std::string>& ids) {
    std::string joined;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) joined += ",";
        joined += ids[i];
    }
    return make_endpoint(domain.url(), joined);
}

std::string make_endpoint(std::string_view domain_url, std::string_view joined_ids) {
    return endpoint_url(domain_url, joined_ids);
}

std::string endpoint_url(std::string_view endpoint, std::string_view rest) {
    std::string out;
    out.reserve(endpoint.size() + 1 + rest.size());
    out.append(endpoint).append("/").append(rest);
    return out;
}

namespace {

struct HostPattern {
    std::string_view host;  // "*", "*.suffix" or a host
    std::string_view port;  // "", "*" or digits
};

std::optional<HostPattern> split_pattern(std::string_view pattern) {
    HostPattern p;
    if (!pattern.empty() && pattern.front() == '[') {
        const std::size_t close = pattern.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        p.host = pattern.substr(1, close - 1);
        std::string_view after = pattern.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            p.port = after.substr(1);
        }
    } else {
        const std::size_t colon = pattern.rfind(':');
        p.host = pattern.substr(0, colon);
        if (colon != std::string_view::npos) p.port = pattern.substr(colon + 1);
    }
    if (p.host.empty()) return std::nullopt;
    return p;
}

}  // namespace

bool is_valid_host_pattern(std::string_view pattern) {
    const auto p = split_pattern(pattern);
    if (!p) return false;
    if (pattern.find(':') != std::string_view::npos && pattern.front() != '[' && p->port.empty())
        return false;
    if (!p->port.empty() && p->port != "*" && !parse_port(p->port)) return false;
    std::string_view host = p->host;
    if (host == "*") return true;
    if (host.substr(0, 2) == "*.") host.remove_prefix(2);
    if (host.empty()) return false;
    for (char c : host) {
        if (!is_host_char(c) && c != ':') return false;
    }
    return host.find('*') == std::string_view::npos;
}

bool host_allowed(const std::vector<std::string>& patterns, const TrackDomain& domain) {
    for (const std::string& text : patterns) {
        const auto p = split_pattern(text);
        if (!p || !is_valid_host_pattern(text)) continue;
        if (p->port.empty()) {
            if (domain.port != 80 && domain.port != 443) continue;
        } else if (p->port != "*") {
            if (parse_port(p->port) != domain.port) continue;
        }
        const std::string host = lower(p->host);
        if (host == "*") return true;
        if (host.rfind("*.", 0) == 0) {
            const std::string suffix = host.substr(1);  // ".webtrekk.net"
            if (domain.host.size() > suffix.size() &&
                domain.host.compare(domain.host.size() - suffix.size(), suffix.size(), suffix) == 0) {
                return true;
            }
        } else if (host == domain.host) {
            return true;
        }
    }
    return false;
}

}  // namespace mapptrack
