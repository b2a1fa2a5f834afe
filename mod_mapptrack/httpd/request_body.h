// Reading a request body (the relay, the inspector) within a limit.
#pragma once

#include <cstddef>
#include <string>

#include <httpd.h>

namespace mapptrack::httpd {

// Appends the whole (dechunked) body to `body`: OK, or the HTTP status to
// answer with: 413 when it is larger than `limit` (told by Content-Length
// before anything is read), 400 when it cannot be read. A 413 closes the
// connection, so the rest of the body need not be read.
int read_request_body(request_rec* r, std::size_t limit, std::string& body);

}  // namespace mapptrack::httpd
