// Reading parameters out of a page URL's query string, the way Mapp's Smart
// Pixel reads them (default page name, campaign media codes).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mapptrack {

// The value of the first `name=value` pair of `query` (without the `?`),
// percent-decoded with `+` read as a space, as the Smart Pixel does. A
// fragment (`#…`) ends the query; `name` is compared exactly (case matters,
// as in PHP's $_GET). nullopt when the name is not there; a pair without
// `=` has an empty value. Does not throw except std::bad_alloc.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace mapptrack
