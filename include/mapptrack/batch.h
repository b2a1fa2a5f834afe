// How hits are batched, in one place: the body limit, which hits may share a
// request, and the HTTP request a batch (or a single hit) becomes. The queue,
// the delivery threads, the redelivery thread and sync mode all use it.
#pragma once

#include <cstddef>
#include <vector>

#include "mapptrack/delivery.h"
#include "mapptrack/transport.h"

namespace mapptrack {

// A batch's body (its lines joined by '\n') stays under 1 MiB, whatever
// MappTrackBatchSize allows (1000 lines of up to 7 KB), also when replayed.
inline constexpr std::size_t kMaxBatchBody = 1u << 20;

// May a line of `line_bytes` join a body of `body_bytes` (`empty`: none yet)
// and keep it under kMaxBatchBody? The first line always may.
bool fits_in_batch(std::size_t body_bytes, std::size_t line_bytes, bool empty) noexcept;

// The body's size once the line has joined.
inline std::size_t body_with(std::size_t body_bytes, std::size_t line_bytes, bool empty) noexcept {
    return body_bytes + (empty ? 0 : 1) + line_bytes;
}

// May these two hits share a request: one endpoint, proxy and batch setting.
bool may_share_request(const Delivery& a, const Delivery& b) noexcept;

// Only a single GET carries the visitor's Mapp cookies: a batch's lines are
// several visitors'. `send_now`: sent alone whatever the batch size
// (MappTrackMode sync). An anonymous hit never has any.
inline bool carries_cookies(unsigned batch_size, bool anonymous, bool send_now = false) noexcept {
    return !anonymous && (send_now || batch_size <= 1);
}

// One hit as a single GET `{endpoint}/wt?…` with the visitor's cookies.
OutboundRequest single_request(const Delivery& hit);

// A single GET (single_request) when the batch is
// one hit of a batch-size-1 site, otherwise `POST {endpoint}/batch` with the
// lines joined by '\n'. `batch` is not empty.
OutboundRequest build_request(const std::vector<Delivery>& batch);

}  // namespace mapptrack
