// The built-in rule for which responses are pages (docs/design.md §7).
#pragma once

#include <string_view>

namespace mapptrack {

struct ResponseFacts {
    bool main_request = true;   // not a sub-request
    bool is_get = false;        // method GET (not HEAD)
    int status = 0;             // the final status
    std::string_view content_type;
    std::string_view handler;   // r->handler, may be empty
};

// `text/html` or `application/xhtml+xml`, parameters and case ignored.
bool is_page_content_type(std::string_view content_type);

// Main request, GET, status 2xx or 304, a page content type, not served by a
// mapptrack handler.
bool is_page(const ResponseFacts& facts);

}  // namespace mapptrack
