// Page capture in the order httpd runs it: insert_filter → identity filter
// (cookie; in sync mode the hit itself) → log_transaction (hit queued).
#include <cstring>
#include <string>
#include <vector>

#include "mapptrack/batch.h"
#include "mapptrack/ever_id.h"
#include "mapptrack/log.h"

#include "capture.h"
#include "config.h"
#include "guard.h"
#include "lifecycle.h"
#include "page_view.h"
#include "queued_delivery.h"
#include "request_headers.h"
#include "request_hit.h"
#include "request_note.h"
#include "shared_memory.h"
#include "sync_send.h"
#include "visitor.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

ap_filter_rec_t* g_identity_filter = nullptr;

// MappTrackClientHints On: the high-entropy hints the libraries pass on
// (their X-WT-SEC-CH-UA-FULL-VERSION-LIST, -MODEL, -PLATFORM-VERSION); the
// low-entropy ones (Sec-CH-UA, -Mobile, -Platform) come without asking.
constexpr const char* kAcceptClientHints =
    "Sec-CH-UA-Full-Version-List, Sec-CH-UA-Model, Sec-CH-UA-Platform-Version";

bool configured(const DirConfig* conf) { return conf->track_ids && conf->domain; }

void insert_filter(request_rec* r) {
    guarded(
        [&] {
            if (r->main) return 0;
            const DirConfig* conf = dir_config(r);
            if (enabled(conf) && configured(conf)) {
                ap_add_output_filter_handle(g_identity_filter, nullptr, r, r->connection);
            }
            return 0;
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0022: insert_filter: %s", what);
            return 0;
        });
}

// Runs once, on the response's first brigade: status and content type are
// final, headers have not left yet. A MappTrackCondition may read values set
// later (mod_headers, the log phase): its evaluation here only decides the
// cookie (and the sync send, which cannot wait); log_transaction decides the hit.
void on_first_brigade(request_rec* r) {
    const DirConfig* conf = dir_config(r);
    auto* note = static_cast<RequestNote*>(apr_pcalloc(r->pool, sizeof(RequestNote)));
    note->content_type = r->content_type ? apr_pstrdup(r->pool, r->content_type) : nullptr;
    note->ever_id = "";
    set_request_note(r, note);
    // A prefetch is no page view (yet): no cookie either, as the visitor may
    // never see the page (a prerender the visitor activates keeps the
    // response, so a cookie set here would be a visitor who was not there).
    note->page = is_tracked_response(r, conf) && !is_prefetch_request(first_request(r));
    if (!note->page) return;
    if (client_hints(conf)) {
        // headers_out: a successful page's header (an error page is no page);
        // merged, so the site's own Accept-CH tokens stay.
        apr_table_mergen(r->headers_out, "Accept-CH", kAcceptClientHints);
    }
    const std::string header = cookie_header(r);
    const CookieList cookies = parse_cookie_header(header);
    const std::vector<std::string>& ids = track_ids_of(conf);
    const Identity identity = identify(r, conf, cookies, ids);

    note->kind = identity.kind;
    note->ever_id = apr_pstrdup(r->pool, identity.ever_id.c_str());
    if (identity.kind == Identity::Kind::Unknown && set_cookie(conf)) {
        if (const auto id = generate_ever_id(apr_time_sec(apr_time_now()))) {
            EverIdCookie cookie;
            cookie.name = ever_id_cookie_name(identity_rules(conf, &ids));
            cookie.value = *id;
            cookie.max_age = cookie_max_age(conf);
            cookie.domain = conf->cookie_domain ? conf->cookie_domain : "";
            cookie.secure = !std::strcmp(ap_http_scheme(r), "https");
            // err_headers_out: kept on error pages and internal redirects too.
            apr_table_addn(r->err_headers_out, "Set-Cookie",
                           apr_pstrdup(r->pool, format_set_cookie(cookie).c_str()));
            note->kind = Identity::Kind::Known;
            note->ever_id = apr_pstrdup(r->pool, id->c_str());
            note->new_visitor = true;
        } else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0023: no randomness for a new ever-ID");
        }
    }
    if (mode(conf) == Mode::Sync && note->kind != Identity::Kind::OptedOut) {
        request_rec* orig = first_request(r);
        const Hit hit = build_hit(orig, r, conf, *note);
        Delivery delivery = make_delivery(r, conf, hit, cookies, true);
        note->sent = send_now(r, conf, delivery);
        note->maybe_received = delivery.maybe_received > 0;
    }
}

apr_status_t identity_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
    request_rec* r = f->r;
    guarded(
        [&] {
            on_first_brigade(r);
            return 0;
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0024: identity filter: %s", what);
            return 0;
        });
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

// `row`: the figures' row when the caller has it already (a delivery's),
// which spares looking it up again for every page.
void set_outcome(request_rec* orig, request_rec* last, const char* outcome, const char* eid,
                 const RowId* row = nullptr) {
    for (request_rec* r : {orig, last}) {
        apr_table_setn(r->subprocess_env, "MAPPTRACK", outcome);
        if (eid && *eid) apr_table_setn(r->subprocess_env, "MAPPTRACK_EID", eid);
    }
    // The figures: every page, and why a page or response was skipped.
    const auto skip = skip_from_outcome(outcome);
    const bool page = !skip || (*skip != Skip::NotPage && *skip != Skip::Unconfigured);
    if (row) {
        if (StatusTable* table = status_table()) {
            if (page) table->add(*row, Count::Pages);
            if (skip) table->add(*row, *skip);
        }
        return;
    }
    const char* ids = dir_config(last)->track_ids;
    if (page) count(last->server, ids, Count::Pages);
    count_outcome(last->server, ids, outcome);
}

RateLimit g_unconfigured_log{60000};

void track(request_rec* orig) {
    request_rec* last = last_request(orig);
    const DirConfig* conf = dir_config(last);
    if (!enabled(conf)) return;
    // The module's own handlers (the relay) report for themselves.
    if (last->handler && !std::strncmp(last->handler, "mapptrack-", 10)) return;
    if (!configured(conf)) {
        set_outcome(orig, last, "skipped:unconfigured", nullptr);
        if (g_unconfigured_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, last,
                          "MT0025: MappTrack On for %s but MappTrackId or MappTrackDomain is not set "
                          "there: not tracked",
                          last->uri);
        }
        return;
    }
    const RequestNote* note = request_note(last);
    const bool page_at_start = note && note->page;
    if (conf->condition && !(note && note->sent)) {
        // The condition's evaluation after the response decides (a hit sent
        // synchronously has left already).
        if (!condition_holds_after_response(last, conf, note ? note->content_type : nullptr)) {
            set_outcome(orig, last, "skipped:not-page", nullptr);
            return;
        }
    } else if (!page_at_start && !is_tracked_response(last, conf)) {
        // The built-in rule: the identity filter saw the response before it
        // left, and its decision stands (httpd clears a 304's content type afterwards).
        set_outcome(orig, last, "skipped:not-page", nullptr);
        return;
    }
    // A page judged so when its response started was no prefetch then (the
    // same request's headers): asked again only otherwise.
    if (!page_at_start && is_prefetch_request(orig)) {
        set_outcome(orig, last, "skipped:prefetch", nullptr);
        return;
    }
    // The cookies are read again only when needed: the identity filter has
    // the visitor already, and a batched hit carries no cookies.
    std::string header;
    CookieList cookies;
    const auto read_cookies = [&] {
        header = cookie_header(orig);
        cookies = parse_cookie_header(header);
    };
    RequestNote who{};
    if (page_at_start) {
        who = *note;
    } else {  // not judged a page when the response started: no cookie could be set
        read_cookies();
        const Identity identity = identify(last, conf, cookies, track_ids_of(conf));
        who.kind = identity.kind;
        who.ever_id = apr_pstrdup(orig->pool, identity.ever_id.c_str());
    }
    if (who.kind == Identity::Kind::OptedOut) {
        set_outcome(orig, last, "skipped:optout", nullptr);
        return;
    }
    const char* eid = who.kind == Identity::Kind::Anonymous ? nullptr : who.ever_id;
    if (who.sent) {
        set_outcome(orig, last, "sent", eid);
        return;
    }
    Dispatcher* d = dispatcher();
    if (!d) {
        set_outcome(orig, last, "skipped:no-delivery-threads", eid);
        return;
    }
    const Hit hit = build_hit(orig, last, conf, who);
    if (page_at_start && carries_cookies(batch_size(server_config(last->server)), hit.anonymous)) read_cookies();
    Delivery delivery = make_delivery(last, conf, hit, cookies);
    // The track server may have this hit already from the synchronous attempt:
    // the queued copy is then its last (a hit is sent at most twice).
    delivery.maybe_received = who.maybe_received ? 1 : 0;
    const RowId row = delivery.options.status_row;
    switch (d->enqueue(std::move(delivery))) {
        case DeliveryQueue::PushResult::Queued: set_outcome(orig, last, "queued", eid, &row); break;
        case DeliveryQueue::PushResult::Full: set_outcome(orig, last, "skipped:queue-full", eid, &row); break;
        case DeliveryQueue::PushResult::Closed: set_outcome(orig, last, "skipped:stopping", eid, &row); break;
    }
}

int log_transaction(request_rec* r) {
    return guarded(
        [&] {
            track(r);
            return DECLINED;
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0026: tracking this request failed: %s", what);
            return DECLINED;
        });
}

}  // namespace

void register_capture_hooks() {
    g_identity_filter =
        ap_register_output_filter("MAPPTRACK_IDENTITY", identity_filter, nullptr, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_filter(insert_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
    // Before mod_log_config, so CustomLog sees MAPPTRACK and MAPPTRACK_EID.
    ap_hook_log_transaction(log_transaction, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
}

}  // namespace mapptrack::httpd
