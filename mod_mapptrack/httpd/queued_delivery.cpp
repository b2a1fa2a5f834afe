#include <atomic>
#include <cstdint>
#include <string>

#include "mapptrack/batch.h"
#include "mapptrack/log.h"
#include "mapptrack/target.h"

#include "queued_delivery.h"
#include "shared_memory.h"

#include <http_log.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

// Hits that did not fit in 7 KB with all their optional parameters.
RateLimit g_cut_log{60000};
std::atomic<std::uint64_t> g_cut_hits{0};

}  // namespace

DeliveryOptions delivery_options(const server_rec* s) {
    const ServerConfig* sconf = server_config(s);
    DeliveryOptions options;
    options.timeout_ms = timeout_ms(sconf);
    options.batch_size = batch_size(sconf);
    options.batch_delay_ms = batch_delay_ms(sconf);
    if (sconf->outbound_proxy) options.proxy = sconf->outbound_proxy;
    return options;
}

Delivery queued_delivery(const server_rec* s, const DirConfig* conf, std::string_view ids, std::string line,
                         std::string cookies, std::uint64_t visitor) {
    Delivery delivery;
    delivery.endpoint = make_endpoint(conf->domain, ids);
    delivery.line = std::move(line);
    delivery.cookies = std::move(cookies);
    delivery.options = delivery_options(s);
    delivery.options.status_row = status_row(s, conf->track_ids);
    delivery.queued_ms = now_ms();
    delivery.visitor = visitor;
    return delivery;
}

Delivery make_delivery(const request_rec* last, const DirConfig* conf, const Hit& hit, const CookieList& cookies,
                       bool send_now) {
    // What the line limit cost is counted, and said at most once a minute: a
    // hit that needs it is built from a hostile or broken request, and one
    // line each would let a visitor fill the error log.
    HitLineStats stats;
    std::string line = encode_hit_line(hit, &stats);
    if (stats.dropped_params > 0) {
        const std::uint64_t cut = g_cut_hits.fetch_add(1, std::memory_order_relaxed) + 1;
        if (g_cut_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, last,
                          "MT0027: a hit for %s did not fit in 7 KB: %" APR_SIZE_T_FMT
                          " optional parameter(s) dropped, longest first; %" APR_UINT64_T_FMT
                          " hit(s) so in this process",
                          conf->domain, static_cast<apr_size_t>(stats.dropped_params), static_cast<apr_uint64_t>(cut));
        }
    }
    const bool with_cookies = carries_cookies(batch_size(server_config(last->server)), hit.anonymous, send_now);
    return queued_delivery(last->server, conf, conf->track_ids, std::move(line),
                           with_cookies ? mapp_cookie_header(cookies) : std::string(),
                           visitor_hash(hit.ever_id, hit.ip, hit.user_agent));
}

}  // namespace mapptrack::httpd
