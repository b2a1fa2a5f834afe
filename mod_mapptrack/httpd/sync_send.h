// Variant A (MappTrackMode sync): the hit is sent before the page's headers
// leave, and the track server's cookies are relayed to the visitor.
#pragma once

#include "mapptrack/delivery.h"

#include "config.h"

namespace mapptrack::httpd {

// Sends `delivery` as one GET, waiting at most MappTrackTimeout. On a 2xx
// answer relays its Set-Cookie headers (Domain rewritten) and returns true;
// otherwise returns false and the caller queues the hit.
bool send_now(request_rec* r, const DirConfig* conf, const Delivery& delivery);

}  // namespace mapptrack::httpd
