// Reading the visitor's request headers, as the hit and the rules want them.
#pragma once

#include <string>

#include <httpd.h>
#include <apr_tables.h>

#include "mapptrack/client_hints.h"

namespace mapptrack::httpd {

inline const char* header_or_empty(const request_rec* r, const char* name) {
    const char* v = apr_table_get(r->headers_in, name);
    return v ? v : "";
}

// All Cookie headers of the request, joined (HTTP/2 may send several).
std::string cookie_header(const request_rec* r);

// Every `Sec-CH-UA*` header; client_hint_params picks and names them.
HeaderPairs client_hint_headers(const request_rec* r);

}  // namespace mapptrack::httpd
