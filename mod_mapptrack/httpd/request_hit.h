// Turning a request into a hit: the visitor's cookies and identity, and the
// Hit and Delivery built from the request (owned copies, nothing from r->pool).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mapptrack/cookies.h"
#include "mapptrack/delivery.h"
#include "mapptrack/hit.h"
#include "mapptrack/identity.h"

#include "config.h"

namespace mapptrack::httpd {

// What the identity filter saw and decided, kept on the request it ran for.
struct RequestNote {
    bool page;                  // tracked by what was known when the response started
    const char* content_type;   // r->pool; as the response started (nullptr: none)
    Identity::Kind kind;
    const char* ever_id;  // r->pool; "" when none
    bool new_visitor;
    bool sent;            // delivered synchronously (MappTrackMode sync)
    bool maybe_received;  // the synchronous attempt failed after the hit was sent
};

RequestNote* request_note(const request_rec* r);
void set_request_note(request_rec* r, RequestNote* note);

// All Cookie headers of the request, joined (HTTP/2 may send several).
std::string cookie_header(const request_rec* r);

// A prefetch or prerender (Sec-Purpose, Purpose, X-Moz): not a page view.
bool is_prefetch_request(const request_rec* r);

// The visitor: resolve_identity with the directory's rules and the request's DNT/GPC headers.
Identity identify(const request_rec* r, const DirConfig* conf, const CookieList& cookies,
                  const std::vector<std::string>& ids);

// The page rule (docs/design.md §7), or MappTrackCondition when configured, as far
// as it can be told now (the identity filter: cookie, sync send). A failing
// condition counts as false here and is not logged.
bool is_tracked_response(request_rec* r, const DirConfig* conf);

// MappTrackCondition evaluated after the response (log_transaction): this
// evaluation decides whether a hit is sent. A failure logs MT0020 (at most
// once a minute per process) and counts as false. `content_type_at_start`
// stands in for the content type httpd removes from a 204/304.
bool condition_holds_after_response(request_rec* r, const DirConfig* conf, const char* content_type_at_start);

inline request_rec* first_request(request_rec* r) {
    while (r->prev) r = r->prev;
    return r;
}
inline request_rec* last_request(request_rec* r) {
    while (r->next) r = r->next;
    return r;
}

// The hit for the page `last` served to the request `orig` (time, URL and
// headers as the visitor sent them; configuration of what was served).
Hit build_hit(request_rec* orig, request_rec* last, const DirConfig* conf, const RequestNote& who);

// Which delivery thread a visitor's hits take (Delivery::visitor).
std::uint64_t visitor_hash(const std::string& ever_id, const std::string& ip, const std::string& agent);

// Timeout, batching and proxy for deliveries of this server (MappTrack… S V).
DeliveryOptions delivery_options(const server_rec* s);

// The queue item for a hit: `{domain}/{ids}`, the encoded line, and the
// visitor's Mapp cookies when they will be sent: with a single GET (batch
// size 1, or `send_now` for MappTrackMode sync).
Delivery make_delivery(const request_rec* last, const DirConfig* conf, const Hit& hit,
                       const CookieList& cookies, bool send_now = false);

}  // namespace mapptrack::httpd
