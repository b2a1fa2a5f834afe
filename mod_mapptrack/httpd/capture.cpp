// Page capture in the order httpd runs it: insert_filter → identity filter
// (cookie) → log_transaction (hit built, copied, queued).
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "mapptrack/cookies.h"
#include "mapptrack/delivery.h"
#include "mapptrack/ever_id.h"
#include "mapptrack/hit.h"
#include "mapptrack/identity.h"
#include "mapptrack/ip.h"
#include "mapptrack/log.h"
#include "mapptrack/page_rule.h"

#include "capture.h"
#include "config.h"
#include "guard.h"
#include "lifecycle.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

constexpr char kFilterName[] = "MAPPTRACK_IDENTITY";
ap_filter_rec_t* g_identity_filter = nullptr;

// What the identity filter decided, kept on the request it ran for.
struct RequestNote {
    Identity::Kind kind;
    const char* ever_id;  // r->pool
    bool new_visitor;
};

RequestNote* note_of(const request_rec* r) {
    return static_cast<RequestNote*>(ap_get_module_config(r->request_config, &mapptrack_module));
}

std::vector<std::string> split_ids(const char* ids) {
    std::vector<std::string> out;
    std::string_view rest = ids ? ids : "";
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        out.emplace_back(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

// All Cookie headers of the request, joined (HTTP/2 may send several).
std::string cookie_header(const request_rec* r) {
    std::string joined;
    apr_table_do(
        [](void* out, const char*, const char* value) -> int {
            auto* s = static_cast<std::string*>(out);
            if (!s->empty()) s->append("; ");
            s->append(value);
            return 1;
        },
        &joined, r->headers_in, "Cookie", nullptr);
    return joined;
}

bool header_is_one(const request_rec* r, const char* name) {
    const char* v = apr_table_get(r->headers_in, name);
    return v && v[0] == '1' && v[1] == '\0';
}

// The page rule, or MappTrackCondition when configured.
bool is_tracked_response(request_rec* r, const DirConfig* conf) {
    if (r->main) return false;
    if (conf->condition) {
        const char* err = nullptr;
        const int result = ap_expr_exec(r, conf->condition, &err);
        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MT0020: MappTrackCondition failed: %s", err);
            return false;
        }
        return result > 0;
    }
    ResponseFacts facts;
    facts.main_request = true;
    facts.is_get = r->method_number == M_GET && !r->header_only;
    facts.status = r->status;
    facts.content_type = r->content_type ? r->content_type : "";
    facts.handler = r->handler ? r->handler : "";
    return is_page(facts);
}

// Opt-out cookies, consent and DNT/GPC (design §6) on top of the cookie forms.
Identity identify(const request_rec* r, const DirConfig* conf, const CookieList& cookies,
                  const std::vector<std::string>& ids) {
    IdentityRules rules;
    rules.track_ids = &ids;
    rules.cookie_name = conf->cookie_name ? conf->cookie_name : "";
    Identity identity = resolve_identity(cookies, rules);
    if (identity.kind == Identity::Kind::OptedOut || identity.kind == Identity::Kind::Anonymous) {
        return identity;
    }
    const bool dnt = header_is_one(r, "DNT") || header_is_one(r, "Sec-GPC");
    const DoNotTrack dnt_rule = do_not_track(conf);
    if (dnt && dnt_rule == DoNotTrack::Skip) return Identity{Identity::Kind::OptedOut, {}};
    bool anonymous = dnt && dnt_rule == DoNotTrack::Anonymous;
    if (conf->consent_cookie) {
        const auto consent = find_cookie(cookies, conf->consent_cookie);
        const bool given = consent && (!conf->consent_value ||
                                       ap_regexec(conf->consent_value, std::string(*consent).c_str(),
                                                  0, nullptr, 0) == 0);
        if (!given) anonymous = true;
    }
    if (anonymous) return Identity{Identity::Kind::Anonymous, {}};
    return identity;
}

std::string evaluate(request_rec* r, ap_expr_info_t* expr, const char* what) {
    if (!expr) return {};
    const char* err = nullptr;
    const char* value = ap_expr_str_exec(r, expr, &err);
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MT0021: %s failed: %s", what, err);
        return {};
    }
    return value ? value : "";
}

bool configured(const DirConfig* conf) { return conf->track_ids && conf->domain; }

// --- insert_filter and the one-shot identity filter ------------------------

void insert_filter(request_rec* r) {
    guarded(
        [&] {
            if (r->main) return 0;
            const DirConfig* conf = dir_config(r);
            if (enabled(conf) && configured(conf)) ap_add_output_filter_handle(g_identity_filter, nullptr, r, r->connection);
            return 0;
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0022: insert_filter: %s", what);
            return 0;
        });
}

void decide_identity(request_rec* r) {
    const DirConfig* conf = dir_config(r);
    if (!is_tracked_response(r, conf)) return;
    const std::string header = cookie_header(r);
    const CookieList cookies = parse_cookie_header(header);
    const std::vector<std::string> ids = split_ids(conf->track_ids);
    const Identity identity = identify(r, conf, cookies, ids);

    auto* note = static_cast<RequestNote*>(apr_pcalloc(r->pool, sizeof(RequestNote)));
    note->kind = identity.kind;
    note->ever_id = apr_pstrdup(r->pool, identity.ever_id.c_str());
    if (identity.kind == Identity::Kind::Unknown && set_cookie(conf)) {
        if (const auto id = generate_ever_id(apr_time_sec(apr_time_now()))) {
            IdentityRules rules;
            rules.track_ids = &ids;
            rules.cookie_name = conf->cookie_name ? conf->cookie_name : "";
            EverIdCookie cookie;
            cookie.name = ever_id_cookie_name(rules);
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
    ap_set_module_config(r->request_config, &mapptrack_module, note);
}

apr_status_t identity_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
    request_rec* r = f->r;
    guarded(
        [&] {
            decide_identity(r);
            return 0;
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0024: identity filter: %s", what);
            return 0;
        });
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

// --- log_transaction: build the hit and queue it ----------------------------

// scheme://host[:port]/path?query as the visitor asked (no fragment).
std::string requested_url(request_rec* orig) {
    std::string target;
    if (orig->unparsed_uri && orig->unparsed_uri[0] == '/') {
        target = orig->unparsed_uri;
    } else {
        target = orig->parsed_uri.path ? orig->parsed_uri.path : "/";
        if (orig->parsed_uri.query) target += std::string("?") + orig->parsed_uri.query;
    }
    target = target.substr(0, target.find('#'));
    return ap_construct_url(orig->pool, target.c_str(), orig);
}

void set_outcome(request_rec* orig, request_rec* last, const char* outcome, const char* eid) {
    for (request_rec* r : {orig, last}) {
        apr_table_setn(r->subprocess_env, "MAPPTRACK", outcome);
        if (eid && *eid) apr_table_setn(r->subprocess_env, "MAPPTRACK_EID", eid);
    }
}

RateLimit g_unconfigured_log{60000};

void track(request_rec* orig) {
    request_rec* last = orig;
    while (last->next) last = last->next;
    const DirConfig* conf = dir_config(last);
    if (!enabled(conf)) return;
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
    if (!is_tracked_response(last, conf)) {
        set_outcome(orig, last, "skipped:not-page", nullptr);
        return;
    }

    std::string header = cookie_header(orig);
    const CookieList cookies = parse_cookie_header(header);
    const RequestNote* note = note_of(last);
    Identity::Kind kind;
    std::string ever_id;
    bool new_visitor = false;
    if (note) {
        kind = note->kind;
        ever_id = note->ever_id;
        new_visitor = note->new_visitor;
    } else {  // the filter did not run (304, say): no cookie could be set
        const Identity identity = identify(last, conf, cookies, split_ids(conf->track_ids));
        kind = identity.kind;
        ever_id = identity.ever_id;
    }
    if (kind == Identity::Kind::OptedOut) {
        set_outcome(orig, last, "skipped:optout", nullptr);
        return;
    }

    Hit hit;
    hit.pixel_version = pixel_version(conf);
    hit.content_id = evaluate(last, conf->content_id, "MappTrackContentId");
    hit.time_ms = apr_time_as_msec(orig->request_time);
    const char* referrer = apr_table_get(orig->headers_in, "Referer");
    hit.referrer = referrer ? referrer : "";
    const char* agent = apr_table_get(orig->headers_in, "User-Agent");
    hit.user_agent = agent ? agent : "";
    hit.ip = orig->useragent_ip ? orig->useragent_ip : "";
    if (anonymize_ip(conf)) hit.ip = mapptrack::anonymize_ip(hit.ip);
    hit.url = requested_url(orig);
    hit.anonymous = kind == Identity::Kind::Anonymous;
    if (!hit.anonymous) {
        hit.ever_id = ever_id;
        hit.new_visitor = new_visitor;
        hit.custom_ever_id = evaluate(last, conf->custom_ever_id, "MappTrackCustomEverId");
    }
    if (conf->params) {
        for (int i = 0; i < conf->params->nelts; ++i) {
            const Param& p = APR_ARRAY_IDX(conf->params, i, Param);
            std::string value = evaluate(last, p.value, p.name);
            if (!value.empty()) hit.params.emplace_back(p.name, std::move(value));
        }
    }

    const ServerConfig* sconf = server_config(last->server);
    Delivery delivery;
    delivery.endpoint = std::string(conf->domain) + "/" + conf->track_ids;
    delivery.line = encode_hit_line(hit);
    if (!hit.anonymous) delivery.cookies = mapp_cookie_header(cookies);
    delivery.options.timeout_ms = timeout_ms(sconf);
    delivery.options.batch_size = batch_size(sconf);
    delivery.options.batch_delay_ms = batch_delay_ms(sconf);
    delivery.queued_ms = now_ms();

    const char* eid = hit.anonymous ? nullptr : apr_pstrdup(orig->pool, ever_id.c_str());
    Dispatcher* d = dispatcher();
    if (!d) {
        set_outcome(orig, last, "skipped:no-delivery-threads", eid);
        return;
    }
    switch (d->enqueue(std::move(delivery))) {
        case DeliveryQueue::PushResult::Queued: set_outcome(orig, last, "queued", eid); break;
        case DeliveryQueue::PushResult::Full: set_outcome(orig, last, "skipped:queue-full", eid); break;
        case DeliveryQueue::PushResult::Closed: set_outcome(orig, last, "skipped:stopping", eid); break;
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
    g_identity_filter = ap_register_output_filter(kFilterName, identity_filter, nullptr, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_filter(insert_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
    // Before mod_log_config, so CustomLog sees MAPPTRACK and MAPPTRACK_EID.
    ap_hook_log_transaction(log_transaction, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
}

}  // namespace mapptrack::httpd
