// Request → Hit. Everything is copied into std::strings: the queue outlives r->pool.
#include <string>

#include "mapptrack/campaign.h"
#include "mapptrack/client_hints.h"
#include "mapptrack/ip.h"
#include "mapptrack/language.h"
#include "mapptrack/page_name.h"
#include "mapptrack/referrer.h"

#include "request_headers.h"
#include "request_hit.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

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

}  // namespace

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

}  // namespace mapptrack::httpd
