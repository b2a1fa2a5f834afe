// User-agent client hints (`Sec-CH-UA*` request headers) as page-hit
// parameters, under the names Mapp's server libraries use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mapptrack {

using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::size_t kMaxClientHints = 16;
// A structured-field list cut short would be misread, so a longer value is
// left out, not cut. Real ones stay well below (full version list ~150).
inline constexpr std::size_t kMaxClientHintBytes = 512;

// The parameters for Hit::client_hints from the request's headers (all of
// them, or only the `Sec-CH-UA*` ones; names case-insensitive). Header
// `Sec-CH-UA-Xyz` becomes `X-WT-SEC-CH-UA-XYZ` with the raw header value,
// the libraries' scheme (PHP/Java/Node MappIntelligenceParameter:
// X-WT-SEC-CH-UA, -FULL-VERSION-LIST, -MODEL, -MOBILE, -PLATFORM,
// -PLATFORM-VERSION).
//
// Order: those six in the libraries' order, then the other hints of the
// UA-CH specification (-ARCH, -BITNESS, -FULL-VERSION, -WOW64,
// -FORM-FACTORS), then any other `Sec-CH-UA-…` header in the order sent.
// Unknown ones are passed on too (every Sec-CH-UA* header is forwarded), so a
// hint browsers add later reaches Mapp without a module update; their name
// must be `Sec-CH-UA-` + letters, digits and `-` (at most 64 characters).
// At most kMaxClientHints; a header given twice counts once (the first);
// empty values and values over kMaxClientHintBytes are left out.
// Does not throw except std::bad_alloc.
HeaderPairs client_hint_params(const HeaderPairs& headers);

// True for a parameter name client_hint_params can produce (encode_hit_line
// sends no other under Hit::client_hints).
bool is_client_hint_param_name(std::string_view name);

}  // namespace mapptrack
