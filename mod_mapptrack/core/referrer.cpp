// Own-domain referrers (referrer.h).
#include "mapptrack/referrer.h"

#include <optional>

#include "mapptrack/target.h"

namespace mapptrack {
namespace {

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// Host name without `:port`, lower case, one trailing dot removed; IPv6 without brackets.
std::string normalize_host(std::string_view host) {
    std::string h = lower_ascii(host);
    if (h.size() > 1 && h.back() == '.') h.pop_back();
    return h;
}

// "host[:port]" or "[v6][:port]" -> host (as normalize_host), port text.
bool split_authority(std::string_view authority, std::string* host, std::string_view* port) {
    std::string_view h = authority;
    *port = std::string_view();
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return false;
        h = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return false;
            *port = after.substr(1);
        }
        for (char c : h) {
            const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.') return false;
        }
    } else {
        const std::size_t colon = authority.find(':');
        if (colon != std::string_view::npos) {
            h = authority.substr(0, colon);
            *port = authority.substr(colon + 1);
        }
    }
    *host = normalize_host(h);
    if (host->empty()) return false;
    if (authority.front() != '[') {
        for (char c : *host) {
            if (!is_host_char(c)) return false;
        }
    }
    return true;
}

std::optional<int> parse_port(std::string_view s, int default_port) {
    return s.empty() ? std::optional<int>(default_port) : mapptrack::parse_port(s);
}

// The referrer's scheme, host and port, or nullopt when it is not a
// well-formed http(s) URL.
std::optional<TrackDomain> referrer_origin(std::string_view referrer) {
    const std::size_t sep = referrer.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    TrackDomain d;
    d.scheme = lower_ascii(referrer.substr(0, sep));
    if (d.scheme != "http" && d.scheme != "https") return std::nullopt;
    std::string_view rest = referrer.substr(sep + 3);
    // Browsers end the authority at `\` too (WHATWG URL, special schemes).
    std::string_view authority = rest.substr(0, rest.find_first_of("/\\?#"));
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
    std::string_view port_text;
    if (authority.empty() || !split_authority(authority, &d.host, &port_text)) return std::nullopt;
    const auto port = parse_port(port_text, d.scheme == "https" ? 443 : 80);
    if (!port) return std::nullopt;
    d.port = *port;
    return d;
}

}  // namespace

std::string referrer_field(std::string_view referrer, std::string_view request_host,
                           const OwnDomainRules& rules) {
    if (referrer.empty()) return std::string();
    if (rules.none) return std::string(referrer);
    const auto origin = referrer_origin(referrer);
    if (!origin) return std::string(referrer);

    std::string own;
    std::string_view ignored_port;
    if (!request_host.empty() && split_authority(request_host, &own, &ignored_port) && own == origin->host) {
        return "1";
    }
    // The same matcher as MappTrackAllowDomain, so both directives read a
    // pattern the same way.
    if (host_allowed(rules.patterns, *origin)) return "1";
    return std::string(referrer);
}

}  // namespace mapptrack
