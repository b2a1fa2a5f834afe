// Prefetch and prerender detection (prefetch.h).
#include "mapptrack/prefetch.h"

#include "mapptrack/text.h"

namespace mapptrack {
namespace {

bool names_prefetch(std::string_view value) {
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        std::string_view member = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        member = trim(member.substr(0, member.find(';')));
        // A prerender is always announced as `prefetch;prerender`; a bare
        // `prerender` token is read the same way rather than counted.
        if (iequals(member, "prefetch") || iequals(member, "prerender")) return true;
    }
    return false;
}

}  // namespace

bool is_prefetch(std::string_view sec_purpose, std::string_view purpose, std::string_view x_moz) noexcept {
    return names_prefetch(sec_purpose) || names_prefetch(purpose) || names_prefetch(x_moz);
}

}  // namespace mapptrack
