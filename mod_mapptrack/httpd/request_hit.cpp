// Request → Hit. Everything is copied into std::strings: the queue outlives r->pool.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mapptrack/campaign.h"
#include "mapptrack/client_hints.h"
#include "mapptrack/ip.h"
#include "mapptrack/language.h"
#include "mapptrack/log.h"
#include "mapptrack/page_name.h"
#include "mapptrack/page_rule.h"
#include "mapptrack/prefetch.h"
#include "mapptrack/referrer.h"
#include "mapptrack/target.h"

#include "request_hit.h"
#include "shared_memory.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

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

// host[:port] of a URL from requested_url (the port only when not the
// scheme's default, as ap_construct_url writes it).
std::string_view url_authority(std::string_view url) {
    const std::size_t start = url.find("://");
    if (start == std::string_view::npos) return {};
    url.remove_prefix(start + 3);
    return url.substr(0, url.find_first_of("/?#"));
}

// The host the visitor asked for, lower case, without the port: the Host
// header as httpd read it (r->hostname), else the server's name.
std::string request_host(request_rec* orig) {
    std::string host = orig->hostname ? orig->hostname : ap_get_server_name(orig);
    for (char& c : host) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return host;
}

// Every `Sec-CH-UA*` header; client_hint_params picks and names them.
HeaderPairs client_hint_headers(const request_rec* orig) {
    HeaderPairs out;
    const apr_array_header_t* fields = apr_table_elts(orig->headers_in);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(fields->elts);
    for (int i = 0; i < fields->nelts; ++i) {
        const char* key = entries[i].key;
        if (key && entries[i].val && !strncasecmp(key, "Sec-CH-UA", 9)) out.emplace_back(key, entries[i].val);
    }
    return out;
}

const char* header_or_empty(const request_rec* r, const char* name) {
    const char* v = apr_table_get(r->headers_in, name);
    return v ? v : "";
}

}  // namespace

RequestNote* request_note(const request_rec* r) {
    return static_cast<RequestNote*>(ap_get_module_config(r->request_config, &mapptrack_module));
}

void set_request_note(request_rec* r, RequestNote* note) {
    ap_set_module_config(r->request_config, &mapptrack_module, note);
}

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

bool is_prefetch_request(const request_rec* r) {
    return is_prefetch(header_or_empty(r, "Sec-Purpose"), header_or_empty(r, "Purpose"),
                       header_or_empty(r, "X-Moz"));
}

Identity identify(const request_rec* r, const DirConfig* conf, const CookieList& cookies,
                  const std::vector<std::string>& ids) {
    return resolve_identity(cookies, identity_rules(conf, &ids),
                            PrivacySignals{header_or_empty(r, "DNT"), header_or_empty(r, "Sec-GPC")});
}

namespace {

// ap_expr_exec writes its own error line, at the expression's module (ours),
// before it returns the error: muted for the call, so that MT0020 is the one
// line an error gives and its rate limit holds. Left alone at debug and trace.
int exec_quietly(request_rec* r, const ap_expr_info_t* expr, const char** err) {
    const ap_logconf* saved = r->log;
    if (ap_get_request_module_loglevel(r, expr->module_index) < APLOG_DEBUG) {
        ap_logconf* quiet = ap_new_log_config(r->pool, ap_get_request_logconf(r));
        ap_set_module_loglevel(r->pool, quiet, expr->module_index, APLOG_CRIT);
        r->log = quiet;
    }
    const int result = ap_expr_exec(r, expr, err);
    r->log = saved;
    return result;
}

RateLimit g_condition_log{60000};
// Hits that did not fit in 7 KB with all their optional parameters.
RateLimit g_cut_log{60000};
std::atomic<std::uint64_t> g_cut_hits{0};

}  // namespace

bool is_tracked_response(request_rec* r, const DirConfig* conf) {
    if (r->main) return false;
    if (conf->condition) {
        // Only a first look (cookie, sync send): an error is reported by the
        // evaluation after the response, which decides.
        const char* err = nullptr;
        return exec_quietly(r, conf->condition, &err) > 0 && !err;
    }
    ResponseFacts facts;
    facts.main_request = true;
    facts.is_get = r->method_number == M_GET && !r->header_only;
    facts.status = r->status;
    facts.content_type = r->content_type ? r->content_type : "";
    facts.handler = r->handler ? r->handler : "";
    return is_page(facts);
}

bool condition_holds_after_response(request_rec* r, const DirConfig* conf, const char* content_type_at_start) {
    if (r->main || !conf->condition) return false;
    // httpd drops the content type of a 204/304 once its headers are out; the
    // condition sees it as the response had it.
    const char* content_type = r->content_type;
    if (!content_type && content_type_at_start && AP_STATUS_IS_HEADER_ONLY(r->status)) {
        r->content_type = content_type_at_start;
    }
    const char* err = nullptr;
    const int result = exec_quietly(r, conf->condition, &err);
    r->content_type = content_type;
    if (err) {
        if (g_condition_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "MT0020: MappTrackCondition (%s:%d) failed for %s: %s; not tracked "
                          "(logged at most once a minute)",
                          conf->condition->filename ? conf->condition->filename : "?",
                          conf->condition->line_number, r->uri ? r->uri : "?", err);
        }
        return false;
    }
    return result > 0;
}

Hit build_hit(request_rec* orig, request_rec* last, const DirConfig* conf, const RequestNote& who) {
    Hit hit;
    hit.pixel_version = pixel_version(conf);
    hit.time_ms = apr_time_as_msec(orig->request_time);
    hit.referrer = referrer_field(header_or_empty(orig, "Referer"), request_host(orig), own_domain_rules(conf));
    hit.user_agent = header_or_empty(orig, "User-Agent");
    hit.ip = orig->useragent_ip ? orig->useragent_ip : "";
    if (anonymize_ip(conf)) hit.ip = mapptrack::anonymize_ip(hit.ip);
    hit.url = requested_url(orig);
    // The page as the visitor asked for it (orig): its raw path and query,
    // not what an internal redirect or mod_rewrite made of them, so that a
    // redirected page view has one name and one media code.
    const std::string_view query = orig->parsed_uri.query ? orig->parsed_uri.query : "";
    if (conf->content_id) {
        hit.content_id = evaluate(last, conf->content_id, "MappTrackContentId");
    } else {
        hit.content_id = default_page_name(url_authority(hit.url), orig->parsed_uri.path ? orig->parsed_uri.path : "/",
                                           query, content_id_params(conf));
    }
    hit.language = primary_language(header_or_empty(orig, "Accept-Language"));
    hit.media_code = media_code(query, campaign_params(conf));
    hit.client_hints = client_hint_params(client_hint_headers(orig));
    hit.anonymous = who.kind == Identity::Kind::Anonymous;
    if (!hit.anonymous) {
        hit.ever_id = who.ever_id ? who.ever_id : "";
        hit.new_visitor = who.new_visitor;
        hit.custom_ever_id = evaluate(last, conf->custom_ever_id, "MappTrackCustomEverId");
    }
    if (conf->params) {
        for (int i = 0; i < conf->params->nelts; ++i) {
            const Param& p = APR_ARRAY_IDX(conf->params, i, Param);
            std::string value = evaluate(last, p.value, p.name);
            if (!value.empty()) hit.params.emplace_back(p.name, std::move(value));
        }
    }
    return hit;
}

std::uint64_t visitor_hash(const std::string& ever_id, const std::string& ip, const std::string& agent) {
    return std::hash<std::string>{}(ever_id.empty() ? ip + '\n' + agent : ever_id);
}

DeliveryOptions delivery_options(const server_rec* s) {
    const ServerConfig* sconf = server_config(s);
    DeliveryOptions options;
    options.timeout_ms = timeout_ms(sconf);
    options.batch_size = batch_size(sconf);
    options.batch_delay_ms = batch_delay_ms(sconf);
    if (sconf->outbound_proxy) options.proxy = sconf->outbound_proxy;
    return options;
}

Delivery make_delivery(const request_rec* last, const DirConfig* conf, const Hit& hit,
                       const CookieList& cookies, bool send_now) {
    Delivery delivery;
    delivery.endpoint = make_endpoint(conf->domain, conf->track_ids);
    // What the line limit cost is counted, and said at most once a minute: a
    // hit that needs it is built from a hostile or broken request, and one
    // line each would let a visitor fill the error log.
    HitLineStats stats;
    delivery.line = encode_hit_line(hit, &stats);
    if (stats.dropped_params > 0) {
        const std::uint64_t cut = g_cut_hits.fetch_add(1, std::memory_order_relaxed) + 1;
        if (g_cut_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, last,
                          "MT0027: a hit for %s did not fit in 7 KB: %" APR_SIZE_T_FMT
                          " optional parameter(s) dropped, longest first; %" APR_UINT64_T_FMT
                          " hit(s) so in this process",
                          conf->domain, static_cast<apr_size_t>(stats.dropped_params),
                          static_cast<apr_uint64_t>(cut));
        }
    }
    delivery.options = delivery_options(last->server);
    delivery.options.status_row = status_row(last->server, conf->track_ids);
    // Only a single GET sends the visitor's cookies; a batched hit keeps none.
    if (!hit.anonymous && (send_now || delivery.options.batch_size <= 1)) delivery.cookies = mapp_cookie_header(cookies);
    delivery.queued_ms = now_ms();
    delivery.visitor = visitor_hash(hit.ever_id, hit.ip, hit.user_agent);
    return delivery;
}

}  // namespace mapptrack::httpd
