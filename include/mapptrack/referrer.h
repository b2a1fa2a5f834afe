// What a page hit sends as its referrer (`p` field 7): `1` for a referrer on
// the site's own domain, as Mapp's libraries and pixels do, else the URL.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

struct OwnDomainRules {
    // MappTrackOwnDomain none: every referrer is sent in full.
    bool none = false;
    // MappTrackOwnDomain patterns, in MappTrackAllowDomain syntax (host_allowed
    // in target.h: `host`, `*.suffix`, `*`, optional `:port`/`:*`; without a
    // port only 80 and 443 match). They add to the request's own host.
    std::vector<std::string> patterns;
};

// The raw value for Hit::referrer: "" when there is no referrer (sent as
// `0`), "1" when the referrer's host is `request_host` (any port; `:port` in
// `request_host` is ignored) or matches a pattern, else `referrer` as it came.
//
// The host is read as a browser reads it, so a hostile referrer cannot pass
// for an own one: http/https only, user information (`a@b`) skipped up to the
// last `@`, `\` ends the authority like `/`, case and one trailing dot
// ignored, IPv6 in brackets; anything unparsable is "not own" and is sent in
// full (encoded by encode_hit_line). Does not throw except std::bad_alloc.
std::string referrer_field(std::string_view referrer, std::string_view request_host,
                           const OwnDomainRules& rules);

}  // namespace mapptrack
