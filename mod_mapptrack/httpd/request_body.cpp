#include "request_body.h"

#include <http_protocol.h>

namespace mapptrack::httpd {

int read_request_body(request_rec* r, std::size_t limit, std::string& body) {
    if (int rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) return rc;
    if (r->remaining > static_cast<apr_off_t>(limit)) return HTTP_REQUEST_ENTITY_TOO_LARGE;
    if (!ap_should_client_block(r)) return OK;
    char buffer[8192];
    long n;
    while ((n = ap_get_client_block(r, buffer, sizeof buffer)) > 0) {
        if (body.size() + static_cast<std::size_t>(n) > limit) return HTTP_REQUEST_ENTITY_TOO_LARGE;
        body.append(buffer, static_cast<std::size_t>(n));
    }
    return n < 0 ? HTTP_BAD_REQUEST : OK;
}

}  // namespace mapptrack::httpd
