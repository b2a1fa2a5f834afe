// Text from outside (hits, host names, error messages) made safe for the
// formats the module writes: JSON strings and HTML. Invalid UTF-8 becomes
// U+FFFD in both, so a page or a JSON parser never chokes on a hostile byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mapptrack {

// Length of the valid UTF-8 sequence starting at s[i] (2 to 4), or 0 when
// there is none (ASCII is not a multi-byte sequence: 0 too).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

// A quoted JSON string: `"`, `\`, control bytes and `<` escaped (so that
// "</script>" never appears, should the JSON be embedded in a page).
std::string json_quote(std::string_view s);

// For HTML text and attribute values: & < > " ' escaped, control bytes shown as U+FFFD.
std::string html_escape(std::string_view s);

// "2026-12-03T06:20:00Z", or with milliseconds "2026-12-03T06:20:00.123Z".
std::string iso8601_utc(std::int64_t ms, bool with_milliseconds);

}  // namespace mapptrack
