#include "request_headers.h"

#include <strings.h>

namespace mapptrack::httpd {

std::string cookie_header(const request_rec* r) {
    std::string joined;
    apr_table_do(
        [](void* out, const char*, const char* value) -> int {
            auto* s = static_cast<std::string*>(out);
            if (!s->empty()) s->append("; ");
            s->append(value);
            return 1;
        },
        &joined, r->headers_in, "Cookie", nullptr);
    return joined;
}

HeaderPairs client_hint_headers(const request_rec* r) {
    HeaderPairs out;
    const apr_array_header_t* fields = apr_table_elts(r->headers_in);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(fields->elts);
    for (int i = 0; i < fields->nelts; ++i) {
        const char* key = entries[i].key;
        if (key && entries[i].val && !strncasecmp(key, "Sec-CH-UA", 9)) out.emplace_back(key, entries[i].val);
    }
    return out;
}

}  // namespace mapptrack::httpd
