// What the request thread hands to the delivery threads: an owned copy of
// one encoded hit and where it goes. Nothing in it points into a request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mapptrack/defaults.h"

namespace mapptrack {

struct DeliveryOptions {
    unsigned timeout_ms = defaults::kTimeoutMs;          // per attempt (MappTrackTimeout)
    unsigned batch_size = defaults::kBatchSize;          // hits per request; 1 = one GET per hit
    unsigned batch_delay_ms = defaults::kBatchDelayMs;   // how long a batch may wait to fill
    std::string proxy;              // MappTrackOutboundProxy, or empty
    std::uint32_t status_row = 0;   // the row of the server-wide figures (status.h) it counts in
};

struct Delivery {
    std::string endpoint;  // {domain}/{ids}
    std::string line;      // wt?p=…&eor=1
    std::string cookies;   // the visitor's Mapp cookies; only kept for single GETs (batch size 1)
    // Not stored in the spool: resolved from the current configuration on replay.
    DeliveryOptions options;
    std::int64_t queued_ms = 0;
    unsigned attempts = 0;  // failed attempts so far (kept in the spool)
    // Failed attempts that may still have reached the track server (it
    // timed out or the connection broke after the request was sent); kept in
    // the spool. A hit is not sent again once this reaches 2.
    unsigned maybe_received = 0;
    // Hash of the visitor (ever-ID, else IP and user agent): all hits of one
    // visitor go through the same delivery thread, so they stay in order.
    std::uint64_t visitor = 0;
    // Read back from the spool (not stored): its delivery counts as replayed.
    bool from_spool = false;
};

// Delivery::visitor: the ever-ID, or without one the IP and user agent.
std::uint64_t visitor_hash(std::string_view ever_id, std::string_view ip, std::string_view agent);

}  // namespace mapptrack
