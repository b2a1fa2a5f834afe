// A tracking hit (one page view) and its encoding into a Mapp `wt?` request line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mapptrack {

// Mapp: "Text parameters support a maximum of 255 characters", "a request may
// not be larger than 7KB".
inline constexpr std::size_t kMaxTextChars = 255;
inline constexpr std::size_t kMaxLineBytes = 7000;

struct Hit {
    int pixel_version = 300;
    std::string content_id;       // raw; empty is sent as `0`
    std::int64_t time_ms = 0;     // the request's start, ms since the epoch
    std::string referrer;         // raw Referer; empty is sent as `0`
    std::string user_agent;
    std::string ip;
    std::string url;              // scheme://host[:port]/path?query as requested
    std::string ever_id;          // 19 digits, or empty
    std::string custom_ever_id;   // or empty
    bool new_visitor = false;     // sends one=1
    bool anonymous = false;       // sends nc=1, never eid/ceid/one
    std::vector<std::pair<std::string, std::string>> params;  // admin-named, visitor-valued
};

// `wt?p=…&X-WT-UA=…&X-WT-IP=…&X-WT-RQ=…[&eid=…][&ceid=…][&one=1][&nc=1][&name=value…]&eor=1`
// Text values are cut to kMaxTextChars; the URL and then the referrer are cut
// further so the whole line stays under kMaxLineBytes.
std::string encode_hit_line(const Hit& hit);

// True for a name an admin may use with MappTrackParam (letters, digits, `_`,
// starting with a letter, at most 32) and that the module does not set itself.
bool is_valid_param_name(std::string_view name);

}  // namespace mapptrack
