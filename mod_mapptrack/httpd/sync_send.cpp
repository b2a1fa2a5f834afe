// Synchronous delivery from the request thread, bounded by MappTrackTimeout
// and by the number of workers that may wait on the track server at once.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "mapptrack/log.h"
#include "mapptrack/relay.h"
#include "mapptrack/transport.h"
#include "mapptrack/batch.h"
#include "mapptrack/target.h"

#include "lifecycle.h"
#include "shared_memory.h"
#include "sync_send.h"
#include "wait_limit.h"

#include <http_log.h>
#include <http_protocol.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {
RateLimit g_sync_failure_log{60000};
RateLimit g_waiting_full_log{60000};

// Called back by APR (C): nothing may be thrown through it.
int add_set_cookie_name(void* out, const char*, const char* value) noexcept {
    try {
        static_cast<std::vector<std::string>*>(out)->emplace_back(set_cookie_name(value ? value : ""));
        return 1;
    } catch (...) {
        return 0;
    }
}

// The names of the cookies `table` already sets.
std::vector<std::string> set_cookie_names(apr_table_t* table) {
    std::vector<std::string> names;
    apr_table_do(add_set_cookie_name, &names, table, "Set-Cookie", nullptr);
    return names;
}
}  // namespace

void warn_waiting_workers_full(const request_rec* r) noexcept {
    if (!g_waiting_full_log.allow(now_ms())) return;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "MT0106: %d workers already wait on the track server (MappTrackMaxWaitingWorkers); "
                  "answering at once and queueing the hit. Is the track server slow?",
                  waiting_workers_limit());
}

bool send_now(request_rec* r, const DirConfig* conf, Delivery& delivery) {
    TransportPool* pool = transport_pool();
    if (!pool) return false;
    const OutboundRequest request = single_request(delivery);  // a GET, whatever the batch size
    OutboundResponse response;
    const std::int64_t started = now_ms();
    {
        // Held only while waiting on the track server (wait_limit.h).
        WaitSlot slot = try_wait_slot();
        if (!slot) {
            warn_waiting_workers_full(r);
            return false;
        }
        response = pool->acquire()->perform(request);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MT0116: sync: %s/%s: %s in %" APR_INT64_T_FMT " ms",
                  delivery.endpoint.c_str(), delivery.line.c_str(), describe_outcome(response).c_str(),
                  static_cast<apr_int64_t>(now_ms() - started));
    StatusTable* table = status_table();
    if (table && response.outcome != OutboundResponse::Outcome::Invalid) {
        table->add(delivery.options.status_row, Count::Requests);
    }
    if (classify(response) != Verdict::Delivered) {
        if (table) {
            table->error(delivery.options.status_row,
                         delivery.endpoint + " (sync): " + describe_outcome(response), now_ms());
        }
        if (response.maybe_received) delivery.maybe_received = 1;
        if (g_sync_failure_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "MT0104: synchronous delivery to %s failed (%s); the hit is queued instead",
                          delivery.endpoint.c_str(), describe_outcome(response).c_str());
        }
        return false;
    }
    if (table) {
        table->add(delivery.options.status_row, Count::Sent);
        const std::int64_t waited = now_ms() - delivery.queued_ms;
        table->latency(delivery.options.status_row, static_cast<std::uint64_t>(waited > 0 ? waited : 0) * 1000);
    }
    // The same filter as the relay: only Mapp cookies, Path=/, clean values.
    // A cookie name this response already sets is not set twice: the module's
    // own wteid_<id> for a new visitor holds the eid the hit was sent with, so
    // it wins over the track server's, and the browser never gets two.
    const char* domain = conf->cookie_domain ? conf->cookie_domain : "";
    const bool https = !std::strcmp(ap_http_scheme(r), "https");
    std::vector<std::string> names = set_cookie_names(r->err_headers_out);
    for (const std::string& n : set_cookie_names(r->headers_out)) names.push_back(n);
    for (const std::string& cookie : response.set_cookies) {
        std::optional<std::string> relayed = relay_set_cookie(cookie, domain, https);
        if (!relayed) continue;
        const std::string name(set_cookie_name(*relayed));
        if (std::find(names.begin(), names.end(), name) != names.end()) continue;
        names.push_back(name);
        apr_table_addn(r->err_headers_out, "Set-Cookie", apr_pstrdup(r->pool, relayed->c_str()));
    }
    return true;
}

}  // namespace mapptrack::httpd
