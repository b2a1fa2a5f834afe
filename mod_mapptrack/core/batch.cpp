// How hits are batched (batch.h).
#include "mapptrack/batch.h"

#include "mapptrack/target.h"

namespace mapptrack {

bool fits_in_batch(std::size_t body_bytes, std::size_t line_bytes, bool empty) noexcept {
    return empty || body_with(body_bytes, line_bytes, false) < kMaxBatchBody;
}

bool may_share_request(const Delivery& a, const Delivery& b) noexcept {
    return a.endpoint == b.endpoint && a.options.batch_size == b.options.batch_size &&
           a.options.batch_delay_ms == b.options.batch_delay_ms && a.options.proxy == b.options.proxy;
}

OutboundRequest single_request(const Delivery& hit) {
    OutboundRequest request;
    request.timeout_ms = hit.options.timeout_ms;
    request.proxy = hit.options.proxy;
    request.url = endpoint_url(hit.endpoint, hit.line);
    if (!hit.cookies.empty()) request.headers.push_back("Cookie: " + hit.cookies);
    return request;
}

OutboundRequest build_request(const std::vector<Delivery>& batch) {
    const Delivery& first = batch.front();
    if (batch.size() == 1 && first.options.batch_size <= 1) return single_request(first);
    OutboundRequest request;
    request.timeout_ms = first.options.timeout_ms;
    request.proxy = first.options.proxy;
    request.post = true;
    request.url = endpoint_url(first.endpoint, "batch");
    request.headers.push_back("Content-Type: text/plain");
    std::size_t size = 0;
    for (const Delivery& d : batch) size += d.line.size() + 1;
    request.body.reserve(size);
    for (const Delivery& d : batch) {
        if (!request.body.empty()) request.body.push_back('\n');
        request.body += d.line;
    }
    return request;
}

}  // namespace mapptrack
