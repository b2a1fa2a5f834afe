// Which responses are page views (design §4).
#include "mapptrack/page_rule.h"

#include <cctype>

namespace mapptrack {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool is_page_content_type(std::string_view content_type) {
    std::string_view type = content_type.substr(0, content_type.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
    return iequals(type, "text/html") || iequals(type, "application/xhtml+xml");
}

bool is_page(const ResponseFacts& facts) {
    if (!facts.main_request || !facts.is_get) return false;
    if (!((facts.status >= 200 && facts.status < 300) || facts.status == 304)) return false;
    if (facts.handler.substr(0, 10) == "mapptrack-") return false;
    return is_page_content_type(facts.content_type);
}

}  // namespace mapptrack
