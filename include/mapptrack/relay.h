// Variant B, the first-party pixel relay: which browser requests may be
// relayed, where to, and how the track server's answer is passed back.
// Pure functions: the httpd handler does the I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <optional>
#include <vector>

#include "mapptrack/defaults.h"
#include "mapptrack/hit_line.h"

namespace mapptrack {

inline constexpr std::size_t kRelayMaxUri = 16 * 1024;         // 414 above
inline constexpr std::size_t kRelayMaxBody = 16u << 20;        // the hard cap of MappTrackRelayMaxBody

// What one relayed request may carry (MappTrackRelayMaxLines, MappTrackRelayMaxBody).
struct RelayLimits {
    std::size_t max_lines = defaults::kRelayMaxLines;  // hit lines in one batch body; 413 above
    std::size_t max_body = defaults::kRelayMaxBody;    // bytes of one body; 413 above
};

struct RelayRoute {
    int status = 0;          // 0: relay; otherwise the HTTP status to refuse with
    std::string reason;      // why refused (logged, and shown in the error body)
    std::string ids;         // "111,222": the track IDs to relay to
    std::string rest;        // "wt", "wtx3k9", "batch", "cc", "optout…"
    bool server_form = false;  // Smart Pixel sendViaServer: `{location}?p=…`
    std::string base;        // the relay base the request was routed under (no trailing '/')
};

// Decides from the raw (not decoded) path and query, relative to the
// relay's base `location` (the path of the <Location> that set the handler). Relayed are exactly
// `{location}/{ids}/{rest}` with every ID configured, and `{location}?p=…`
// (then the configured IDs are used). Refused: encoded characters, `..`,
// `@`, `\`, `#`, control characters in the path (400); an over-long request
// (414); unknown IDs, other paths or anything else (404).
RelayRoute route_relay_request(std::string_view raw_path, std::string_view raw_query,
                               const std::vector<std::string>& configured_ids,
                               std::string_view location);

// The same for a relay that several sections set up for this path (say
// <Location /analytics> and <Location /analytics/v2>): each base is tried in
// turn, innermost first, and the first that relays wins; otherwise the refusal
// for the first base. No base at all: 404.
RelayRoute route_relay_request(std::string_view raw_path, std::string_view raw_query,
                               const std::vector<std::string>& configured_ids,
                               const std::vector<std::string>& bases);

// httpd's rule for whether a plain (not wildcard, not regex) `<Location
// location>` applies to `uri`: a prefix that ends at a '/' of the URI, unless
// the location itself ends with '/'. Case-sensitive, like httpd.
bool location_applies(std::string_view location, std::string_view uri);

// The relay base a `<LocationMatch>` gives: the part [begin, end) of `uri`
// its regular expression matched, provided it starts the path and ends at a
// segment boundary (the URI's end, before a '/', or with a '/'); the trailing
// '/' is dropped. nullopt: the match cannot be a base (`/wt$`, `^/analytics`
// within `/analyticsX/…`).
std::optional<std::string> relay_base_from_match(std::string_view uri, std::size_t begin, std::size_t end);

// A relayed batch body split into hit lines ('\n' or "\r\n" separated, empty
// lines ignored), each checked with parse_hit_line. `status` 413 when the body
// has more than `limits.max_lines` non-empty lines or more than
// `limits.max_body` bytes (then `lines` is empty and nothing may be relayed);
// lines that do not parse are left out and counted in `refused`; 400 when
// none is left.
struct RelayBody {
    int status = 0;
    std::vector<HitLine> lines;
    std::size_t refused = 0;
};
RelayBody split_relay_body(std::string_view body, const RelayLimits& limits);

// The track server's Set-Cookie as the visitor may get it: only Mapp cookie
// names (is_mapp_cookie_name), a value of cookie-octets only (RFC 6265: no
// CTL, space, '"', ',', ';', '\\'), `Path=/` whatever the track server said,
// Domain replaced by `domain` (or dropped when empty), and of the other
// attributes only Max-Age, Expires, Secure, HttpOnly and SameSite with clean
// values. On a plain-HTTP site (`site_https` false) Secure is dropped and
// SameSite=None becomes Lax: browsers refuse a Secure cookie set over HTTP, and
// SameSite=None without Secure; the cookie is first-party here, so Lax is all it
// needs. nullopt: not relayed.
std::optional<std::string> relay_set_cookie(std::string_view set_cookie, std::string_view domain,
                                            bool site_https);

// The cookie name of a Set-Cookie value (before the first '=', blanks trimmed);
// empty when there is none.
std::string_view set_cookie_name(std::string_view set_cookie);

// Bodies the relay passes back: images, text/plain and JSON. Anything else
// (text/html, JavaScript, SVG) is not served from the site's origin.
bool is_relayable_content_type(std::string_view content_type);

// A redirect target the relay passes back: an absolute http(s) URL whose host
// is `site_host` (the request's host, without port) or `track_host`, or a path
// on the site ("/…", not "//…"). No control characters, no user info.
bool is_allowed_redirect(std::string_view location, std::string_view site_host,
                         std::string_view track_host);

// Headers every relay answer carries.
inline constexpr char kRelayContentSecurityPolicy[] = "default-src 'none'; frame-ancestors 'none'; sandbox";

// The 1×1 transparent GIF (43 bytes) answered when the track server is down.
std::string_view transparent_gif();

}  // namespace mapptrack
