// What the module remembers on a request between its hooks: what the
// identity filter saw and decided, read again by log_transaction.
#pragma once

#include <httpd.h>

#include "mapptrack/identity.h"

namespace mapptrack::httpd {

// What the identity filter saw and decided, kept on the request it ran for.
struct RequestNote {
    bool page;                 // tracked by what was known when the response started
    const char* content_type;  // r->pool; as the response started (nullptr: none)
    Identity::Kind kind;
    const char* ever_id;  // r->pool; "" when none
    bool new_visitor;
    bool sent;            // delivered synchronously (MappTrackMode sync)
    bool maybe_received;  // the synchronous attempt failed after the hit was sent
};

RequestNote* request_note(const request_rec* r);
void set_request_note(request_rec* r, RequestNote* note);

// The request the visitor sent, and the one that served the page, across
// internal redirects.
inline request_rec* first_request(request_rec* r) {
    while (r->prev) r = r->prev;
    return r;
}
inline request_rec* last_request(request_rec* r) {
    while (r->next) r = r->next;
    return r;
}

}  // namespace mapptrack::httpd
