// Reading the visitor's Cookie header: Mapp cookies only, never the site's own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mapptrack {

using CookieList = std::vector<std::pair<std::string_view, std::string_view>>;

// Splits `a=1; b=2` (also `a=1, b=2`: httpd joins repeated Cookie headers
// with ", ") into name/value pairs (views into `header`), trimming
// blanks and surrounding quotes of values. Malformed pieces are skipped.
CookieList parse_cookie_header(std::string_view header);

// The first cookie with this exact name.
std::optional<std::string_view> find_cookie(const CookieList& cookies, std::string_view name);

// Mapp's cookies: names starting `wt`, plus `webtrekkOptOut`, `miCookieOptOut`.
bool is_mapp_cookie_name(std::string_view name);

// A Cookie header value holding only the Mapp cookies of `cookies` (may be empty).
std::string mapp_cookie_header(const CookieList& cookies);

// The entry for `track_id` in a decoded `wt3_eid` value (`;<id>|<eid>#<last>;…`).
// Browsers hold the value percent-encoded: decode it first.
std::optional<std::string_view> parse_wt3_eid(std::string_view value, std::string_view track_id);

}  // namespace mapptrack
