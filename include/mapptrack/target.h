// Where hits go: the track domain URL, the track IDs, and the admin's
// allow-list of track hosts for .htaccess.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

struct TrackDomain {
    std::string scheme;  // "http" or "https"
    std::string host;    // lower case; IPv6 without brackets
    int port = 0;        // explicit or the scheme's default
    std::string path;    // "" or "/some/path" (no trailing slash)

    // scheme://host[:port]path, the port only when not the default.
    std::string url() const;
};

// Parses `https://host[:port][/path]` (http:// allowed). No user info, query
// or fragment. On failure returns nullopt and sets `*error` to the reason.
std::optional<TrackDomain> parse_track_domain(std::string_view text, std::string* error);

// Parses `ID[,ID…]` (track IDs: 1 to 20 digits). nullopt on any other input.
std::optional<std::vector<std::string>> parse_track_ids(std::string_view text, std::string* error);

// A port number, 1 to 65535, of at most five digits; nullopt for anything else.
std::optional<int> parse_port(std::string_view s);

// `{domain}/{id,id…}`: the prefix of `/wt`, `/batch` and every other request.
std::string make_endpoint(const TrackDomain& domain, const std::vector<std::string>& ids);
// The same from the configuration's stored forms: a domain as TrackDomain::url()
// writes it, and the IDs already joined by commas.
std::string make_endpoint(std::string_view domain_url, std::string_view joined_ids);

// A request's URL under an endpoint: `{endpoint}/{rest}` (`wt?…`, `batch`, `cc`, …).
std::string endpoint_url(std::string_view endpoint, std::string_view rest);

// A MappTrackAllowDomain pattern: `host`, `*.suffix`, `*`, each with an
// optional `:port` or `:*`. Without a port only the scheme's default ports
// (80, 443) match.
bool is_valid_host_pattern(std::string_view pattern);
bool host_allowed(const std::vector<std::string>& patterns, const TrackDomain& domain);

}  // namespace mapptrack
