// Prefetch and prerender detection (prefetch.h).
#include "mapptrack/prefetch.h"

namespace mapptrack {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool equals_ignore_case(std::string_view a, std::string_view lower_b) {
    if (a.size() != lower_b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lower_b[i]) return false;
    }
    return true;
}

bool names_prefetch(std::string_view value) {
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        std::string_view member = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        member = trim(member.substr(0, member.find(';')));
        // A prerender is always announced as `prefetch;prerender`; a bare
        // `prerender` token is read the same way rather than counted.
        if (equals_ignore_case(member, "prefetch") || equals_ignore_case(member, "prerender")) return true;
    }
    return false;
}

}  // namespace

bool is_prefetch(std::string_view sec_purpose, std::string_view purpose, std::string_view x_moz) noexcept {
    return names_prefetch(sec_purpose) || names_prefetch(purpose) || names_prefetch(x_moz);
}

}  // namespace mapptrack
