// The inspector's reading of one hit as a track server receives it: every
// field of `p` and every parameter named and decoded, the visitor's
// identity, and every way the hit breaks Mapp's rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

struct InspectedParam {
    std::string key;    // as sent, decoded ("p", "eid", "cs801", "X-WT-IP", …)
    std::string label;  // what it is ("ever-ID", "campaign ID", "page URL", …); empty when unknown
    std::string value;  // percent-decoded
};

struct InspectedField {
    std::string label;  // "version", "page name", "JavaScript", "screen resolution", …
    std::string value;  // percent-decoded
};

struct InspectedHit {
    std::string track_ids;            // from the path
    std::string line;                 // the request target after /{ids}/, as received
    std::int64_t received_ms = 0;
    std::vector<InspectedField> page;    // the fields of p, in order
    std::vector<InspectedParam> params;  // every parameter, in order (p included)
    // The visitor as the track server sees it.
    std::string ever_id;      // eid (or the wteid_ cookie given for this hit), empty when none
    std::string ip;           // X-WT-IP, empty when none
    std::string user_agent;   // X-WT-UA, empty when none
    bool anonymous = false;   // nc=1
    std::vector<std::string> violations;  // empty: the hit keeps every rule checked
};

// `line` is what followed "/{ids}/": "wt?p=…&…&eor=1" (or wt.pl, wtXXXX).
// `cookie` is the Cookie header the hit came with (a single GET), or empty.
// Checks: ever-ID not 19 digits; an unencoded separator (a raw `,` in a p
// field, `=` or `&` in a value, a raw space or control byte; `;` is Mapp's
// own list separator, e.g. of products, so it is allowed); a value over 255
// characters; a line over 7 KB; eor missing or not last; a malformed p (too
// few fields, version not numeric); a timestamp (p field 6) more than a day
// off `received_ms`.
InspectedHit inspect_hit(std::string_view track_ids, std::string_view line, std::string_view cookie,
                         std::int64_t received_ms);

}  // namespace mapptrack
