// What a request hands to the delivery threads: the Delivery for a page's
// hit or a relayed line, with this server's options and status row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mapptrack/cookies.h"
#include "mapptrack/delivery.h"
#include "mapptrack/hit.h"

#include "config.h"

namespace mapptrack::httpd {

// Timeout, batching and proxy for deliveries of this server (MappTrack… S V).
DeliveryOptions delivery_options(const server_rec* s);

// A queued line for `{domain}/{ids}`, counted in the row of the directory's
// track IDs: the one place a Delivery is built.
Delivery queued_delivery(const server_rec* s, const DirConfig* conf, std::string_view ids, std::string line,
                         std::string cookies, std::uint64_t visitor);

// The queue item for a page's hit: the encoded line, and the visitor's Mapp
// cookies when they will be sent: with a single GET (batch size 1, or
// `send_now` for MappTrackMode sync). A hit cut to 7 KB is counted (MT0027).
Delivery make_delivery(const request_rec* last, const DirConfig* conf, const Hit& hit, const CookieList& cookies,
                       bool send_now = false);

}  // namespace mapptrack::httpd
