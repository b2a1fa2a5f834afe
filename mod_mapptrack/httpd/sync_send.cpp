// Synchronous delivery from the request thread, bounded by MappTrackTimeout.
#include <string>

#include "mapptrack/log.h"
#include "mapptrack/relay.h"
#include "mapptrack/transport.h"

#include "lifecycle.h"
#include "sync_send.h"

#include <http_log.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {
RateLimit g_sync_failure_log{60000};
}

bool send_now(request_rec* r, const DirConfig* conf, const Delivery& delivery) {
    TransportPool* pool = transport_pool();
    if (!pool) return false;
    OutboundRequest request;
    request.url = delivery.endpoint + "/" + delivery.line;
    request.timeout_ms = delivery.options.timeout_ms;
    request.proxy = delivery.options.proxy;
    if (!delivery.cookies.empty()) request.headers.push_back("Cookie: " + delivery.cookies);
    const OutboundResponse response = pool->acquire()->perform(request);
    if (classify(response) != Verdict::Delivered) {
        if (g_sync_failure_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "MT0104: synchronous delivery to %s failed (%s); the hit is queued instead",
                          delivery.endpoint.c_str(),
                          response.outcome == OutboundResponse::Outcome::Answered
                              ? apr_psprintf(r->pool, "HTTP %ld", response.status)
                              : response.error.c_str());
        }
        return false;
    }
    const char* domain = conf->cookie_domain ? conf->cookie_domain : "";
    for (const std::string& cookie : response.set_cookies) {
        apr_table_addn(r->err_headers_out, "Set-Cookie",
                       apr_pstrdup(r->pool, rewrite_cookie_domain(cookie, domain).c_str()));
    }
    return true;
}

}  // namespace mapptrack::httpd
