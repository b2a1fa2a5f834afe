// Variant B, the first-party pixel relay: which browser requests may be
// relayed, where to, and how the track server's answer is passed back.
// Pure functions: the httpd handler does the I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

inline constexpr std::size_t kRelayMaxUri = 16 * 1024;         // 414 above
inline constexpr std::size_t kRelayMaxBody = 1024 * 1024;      // 413 above

struct RelayRoute {
    int status = 0;          // 0: relay; otherwise the HTTP status to refuse with
    std::string reason;      // why refused (logged, and shown in the error body)
    std::string ids;         // "111,222": the track IDs to relay to
    std::string rest;        // "wt", "wtx3k9", "batch", "cc", "optout…"
    bool server_form = false;  // Smart Pixel sendViaServer: `{location}?p=…`
};

// Decides from the raw (not decoded) path and query, relative to the
// relay's `location` (its <Location> path). Relayed are exactly
// `{location}/{ids}/{rest}` with every ID configured, and `{location}?p=…`
// (then the configured IDs are used). Refused: encoded characters, `..`,
// `@`, `\`, `#`, control characters in the path (400); an over-long request
// (414); unknown IDs, other paths or anything else (404).
RelayRoute route_relay_request(std::string_view raw_path, std::string_view raw_query,
                               const std::vector<std::string>& configured_ids,
                               std::string_view location);

// The query without the parameters the module sets itself (X-WT-IP, X-WT-UA,
// any case), so a browser cannot claim another IP or user agent.
std::string strip_client_claims(std::string_view raw_query);

// A track server's Set-Cookie with its Domain attribute replaced by `domain`,
// or removed when `domain` is empty (the cookie then belongs to the site).
std::string rewrite_cookie_domain(std::string_view set_cookie, std::string_view domain);

// Appends X-WT-UA and X-WT-IP to a `wt?…` line (before a final `eor=1`), for
// hits the relay queues when the track server cannot be reached.
std::string add_client_to_line(std::string_view line, std::string_view user_agent,
                               std::string_view ip);

// The 1×1 transparent GIF (43 bytes) answered when the track server is down.
std::string_view transparent_gif();

}  // namespace mapptrack
