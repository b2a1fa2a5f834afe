// A tracking hit (one page view) and its encoding into a Mapp `wt?` request line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mapptrack/defaults.h"

namespace mapptrack {

// Mapp: "Text parameters support a maximum of 255 characters" (each value of
// a `;`-separated list), "a request may not be larger than 7KB".
inline constexpr std::size_t kMaxTextChars = 255;
inline constexpr std::size_t kMaxLineBytes = 7000;

struct Hit {
    int pixel_version = defaults::kPixelVersion;
    std::string content_id;       // raw; empty is sent as `0`
    std::int64_t time_ms = 0;     // the request's start, ms since the epoch
    std::string referrer;         // raw (referrer_field: "1" for the own domain); empty is sent as `0`
    std::string user_agent;       // empty: no X-WT-UA at all
    std::string ip;
    std::string url;              // scheme://host[:port]/path?query as requested
    std::string ever_id;          // 19 digits, or empty
    std::string custom_ever_id;   // or empty
    bool new_visitor = false;     // sends one=1
    bool anonymous = false;       // sends nc=1, never eid/ceid/one
    std::string language;         // la (primary_language); sent only if [a-z]{2,8}
    std::string media_code;       // mc (media_code), sent with mca=c; or empty
    std::vector<std::pair<std::string, std::string>> client_hints;  // client_hint_params
    std::vector<std::pair<std::string, std::string>> params;  // admin-named, visitor-valued
};

// What encode_hit_line had to give up to keep a line under kMaxLineBytes.
struct HitLineStats {
    std::size_t dropped_params = 0;  // optional parameters left out (la, mc, hints, custom)
    bool cut = false;                // a value was shortened for the line limit
};

// `wt?p=…[&X-WT-UA=…]&X-WT-IP=…&X-WT-RQ=…[&eid=…][&ceid=…][&one=1][&nc=1]
//  [&la=…][&mc=…&mca=c][&X-WT-SEC-CH-UA…=…][&name=value…]&eor=1` (docs/design.md §4).
//
// - Content ID, custom ever-ID: 255 characters. Custom parameters and the
//   media code: 255 characters per `;`-separated value. The user agent,
//   URL and referrer: only what the line limit requires.
// - `la`, `mc` are left to a MappTrackParam of the same name when there is one.
// - Over kMaxLineBytes: the URL and referrer are cut first (down to 1 KB
//   together), then the user agent (down to 512 bytes); then the optional
//   parameters are dropped, the longest first; then whatever text is longest
//   is cut. `*stats` (may be null) says what happened.
std::string encode_hit_line(const Hit& hit, HitLineStats* stats);
std::string encode_hit_line(const Hit& hit);

// True for a name an admin may use with MappTrackParam (letters, digits, `_`,
// starting with a letter, at most 32) and that the module does not set itself.
bool is_valid_param_name(std::string_view name);

}  // namespace mapptrack
