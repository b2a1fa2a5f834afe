// Variant A (MappTrackMode sync): the hit is sent before the page's headers
// leave, and the track server's cookies are relayed to the visitor.
#pragma once

#include "mapptrack/delivery.h"

#include "config.h"

namespace mapptrack::httpd {

// Sends `delivery` as one GET, waiting at most MappTrackTimeout. On a 2xx
// answer relays its Set-Cookie headers (through relay_set_cookie: Mapp names
// only, Path=/, Domain rewritten, Secure only on HTTPS), except a cookie name
// the response already sets (the module's own wteid_<id> for a new visitor,
// whose eid the hit carries), and returns true; otherwise returns false
// and the caller queues the hit (`delivery.maybe_received` set when the
// track server may have it already). When MappTrackMaxWaitingWorkers workers
// already wait on the track server it does not wait at all: false at once.
bool send_now(request_rec* r, const DirConfig* conf, Delivery& delivery);

// MT0106 (warn, at most once a minute): a request did not wait on the track
// server because the waiting-worker limit was reached. Shared by the relay
// and sync mode, so the message has one call site and one rate limit.
void warn_waiting_workers_full(const request_rec* r) noexcept;

}  // namespace mapptrack::httpd
