// Query-string parameters of a page URL (query_string.h).
#include "mapptrack/query_string.h"

#include "mapptrack/encode.h"

namespace mapptrack {

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
    if (name.empty()) return std::nullopt;
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const std::size_t eq = pair.find('=');
        // Names are compared as they stand in the URL: a name written with
        // escapes (`wt%5Fmc`) is not the same parameter to Mapp's libraries either.
        if (pair.substr(0, eq) != name) continue;
        if (eq == std::string_view::npos) return std::string();
        std::string value(pair.substr(eq + 1));
        for (char& c : value) {
            if (c == '+') c = ' ';
        }
        return percent_decode(value);
    }
    return std::nullopt;
}

}  // namespace mapptrack
