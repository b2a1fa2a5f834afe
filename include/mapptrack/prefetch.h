// Speculative requests (prefetch, prerender) that must not count as page views.
#pragma once

#include <string_view>

namespace mapptrack {

// True when one of the request's headers marks it as a prefetch or
// prerender: `Sec-Purpose` (Chrome, Firefox: `prefetch`, `prefetch;prerender`,
// `prefetch;anonymous-client-ip`), `Purpose` (older Chrome, Safari) or
// `X-Moz` (older Firefox) holding the token `prefetch` (or `prerender`).
// Each value is read as a structured-field list: members separated by `,`,
// a member's token before its `;` parameters, case-insensitive. Pass "" for
// an absent header. Does not throw.
bool is_prefetch(std::string_view sec_purpose, std::string_view purpose, std::string_view x_moz) noexcept;

}  // namespace mapptrack
