// Which responses are page views (docs/design.md §7).
#include "mapptrack/page_rule.h"

#include "mapptrack/text.h"


namespace mapptrack {

bool is_page_content_type(std::string_view content_type) {
    const std::string_view type = trim(content_type.substr(0, content_type.find(';')));
    return iequals(type, "text/html") || iequals(type, "application/xhtml+xml");
}

bool is_page(const ResponseFacts& facts) {
    if (!facts.main_request || !facts.is_get) return false;
    if (!((facts.status >= 200 && facts.status < 300) || facts.status == 304)) return false;
    if (facts.handler.substr(0, 10) == "mapptrack-") return false;
    return is_page_content_type(facts.content_type);
}

}  // namespace mapptrack
