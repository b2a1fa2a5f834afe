// Percent-encoding of visitor-supplied text for a Mapp tracking request.
// Whatever the input, the output can never end or add a query parameter.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mapptrack {

inline constexpr std::size_t kNoLimit = static_cast<std::size_t>(-1);

// Encodes `raw` as one query value: valid UTF-8 is kept (and percent-encoded),
// invalid UTF-8 becomes U+FFFD, control characters (C0, DEL) are removed.
// Everything but RFC 3986 unreserved characters is percent-encoded, so `&`,
// `=`, `,`, `#`, `%`, `+` and space never appear raw. The value is cut at
// `max_chars` characters and so that the encoded text fits `max_bytes`,
// never in the middle of a character or an escape.
std::string encode_query_value(std::string_view raw, std::size_t max_chars = kNoLimit,
                               std::size_t max_bytes = kNoLimit);

// Appends the encoding of `raw` to `out` (same rules as encode_query_value).
void append_query_value(std::string& out, std::string_view raw,
                        std::size_t max_chars = kNoLimit, std::size_t max_bytes = kNoLimit);

// Decodes %XX escapes (and nothing else: `+` stays `+`). Bad escapes are kept as is.
std::string percent_decode(std::string_view encoded);

}  // namespace mapptrack
