// The pixel relay handler: checks the request (never an open proxy), sends
// it on with the real client's IP and user agent, passes the answer back,
// and queues the hit with a GIF answer when the track server fails.
#include <cstring>
#include <string>
#include <vector>

#include "mapptrack/cookies.h"
#include "mapptrack/log.h"
#include "mapptrack/relay.h"
#include "mapptrack/transport.h"

#include "config.h"
#include "guard.h"
#include "lifecycle.h"
#include "relay.h"
#include "request_hit.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

constexpr char kHandler[] = "mapptrack-proxy";

// Header values taken from the client are passed on without control bytes.
std::string clean_header_value(const char* value) {
    std::string out;
    for (const char* p = value ? value : ""; *p; ++p) {
        if (static_cast<unsigned char>(*p) >= 0x20 && *p != 0x7F) out.push_back(*p);
    }
    return out;
}

int answer_text(request_rec* r, int status, const std::string& text) {
    r->status = status;
    ap_set_content_type(r, "text/plain; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rprintf(r, "%d %s\n", status, text.c_str());
    return OK;
}

int refuse(request_rec* r, int status, const std::string& reason) {
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MT0301: relay refused %s with %d: %s", r->uri, status,
                  reason.c_str());
    ap_discard_request_body(r);
    return answer_text(r, status, reason);
}

// Reads a POST body of at most kRelayMaxBody bytes; returns 0 or an HTTP status.
int read_body(request_rec* r, std::string& body) {
    if (int rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) return rc;
    if (r->remaining > static_cast<apr_off_t>(kRelayMaxBody)) return HTTP_REQUEST_ENTITY_TOO_LARGE;
    if (!ap_should_client_block(r)) return 0;
    char buffer[8192];
    long n;
    while ((n = ap_get_client_block(r, buffer, sizeof buffer)) > 0) {
        if (body.size() + static_cast<std::size_t>(n) > kRelayMaxBody) return HTTP_REQUEST_ENTITY_TOO_LARGE;
        body.append(buffer, static_cast<std::size_t>(n));
    }
    return n < 0 ? HTTP_BAD_REQUEST : 0;
}

// The track server failed: answer the pixel with the GIF and queue the hit.
int fall_back(request_rec* r, const DirConfig* conf, const RelayRoute& route, const std::string& query,
              const std::string& body, const CookieList& cookies, const std::string& agent,
              const std::string& ip) {
    std::vector<std::string> lines;
    if (route.rest == "batch") {
        for (std::string_view rest = body; !rest.empty();) {
            const std::size_t nl = rest.find('\n');
            std::string_view line = rest.substr(0, nl);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (!line.empty()) lines.push_back(add_client_to_line(line, agent, ip));
            if (nl == std::string_view::npos) break;
            rest.remove_prefix(nl + 1);
        }
    } else if (route.rest.rfind("wt", 0) == 0 && !query.empty()) {
        lines.push_back(add_client_to_line("wt?" + query, agent, ip));
    }
    const DeliveryOptions options = delivery_options(r->server);
    const auto eid = find_cookie(cookies, "wtstp_eid");
    const std::uint64_t visitor = visitor_hash(eid ? std::string(*eid) : std::string(), ip, agent);
    Dispatcher* d = dispatcher();
    const char* outcome = "skipped:track-server-failed";
    for (std::string& line : lines) {
        Delivery delivery;
        delivery.endpoint = std::string(conf->domain) + "/" + route.ids;
        delivery.line = std::move(line);
        delivery.cookies = mapp_cookie_header(cookies);
        delivery.options = options;
        delivery.queued_ms = now_ms();
        delivery.visitor = visitor;
        if (d && d->enqueue(std::move(delivery)) == DeliveryQueue::PushResult::Queued) outcome = "queued";
    }
    apr_table_setn(r->subprocess_env, "MAPPTRACK", outcome);
    r->status = HTTP_OK;
    ap_set_content_type(r, "image/gif");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    const std::string_view gif = transparent_gif();
    ap_rwrite(gif.data(), static_cast<int>(gif.size()), r);
    return OK;
}

RateLimit g_relay_failure_log{60000};
RateLimit g_location_log{60000};

int relay(request_rec* r) {
    const DirConfig* conf = dir_config(r);
    if (!conf->track_ids || !conf->domain) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MT0302: SetHandler %s for %s needs MappTrackId and MappTrackDomain", kHandler, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method_number != M_GET && r->method_number != M_POST) {
        // The Allow header of the 405 is made from allowed_methods (r->allowed is not read).
        ap_allow_methods(r, REPLACE_ALLOW, "GET", "POST", nullptr);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    // Routed on the request target exactly as the client sent it: httpd has
    // already normalised r->parsed_uri.path (`.`/`..` segments removed,
    // %-escapes of unreserved characters decoded), which would let `..` and
    // escapes through; an absolute URL does not start with '/' and is refused.
    const std::string_view target = r->unparsed_uri ? r->unparsed_uri : "";
    const std::size_t question = target.find('?');
    const std::string raw_path(target.substr(0, question));
    const std::string raw_query(question == std::string_view::npos ? std::string_view() : target.substr(question + 1));
    // Routed relative to the <Location> that set the handler: core's record of
    // the innermost section with core directives (SetHandler is one).
    const auto* core = static_cast<const core_dir_config*>(ap_get_core_module_config(r->per_dir_config));
    const char* section = core && core->d && !core->r ? core->d : nullptr;
    std::string_view location = section ? section : "";
    while (!location.empty() && location.back() == '/') location.remove_suffix(1);
    if (location.empty() || location.front() != '/' ||
        std::strncmp(r->uri, location.data(), location.size()) != 0) {
        if (g_location_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "MT0304: SetHandler %s must be set in a <Location /path> that the relayed "
                          "URLs start with (here: %s); %s is not relayed",
                          kHandler, section ? section : "no plain <Location>", r->uri);
        }
        return refuse(r, HTTP_NOT_FOUND, "not a relay location");
    }
    const RelayRoute route =
        route_relay_request(raw_path, raw_query, split_ids(conf->track_ids), location);
    if (route.status) return refuse(r, route.status, route.reason);

    std::string body;
    if (r->method_number == M_POST) {
        if (const int rc = read_body(r, body)) {
            return refuse(r, rc, rc == HTTP_REQUEST_ENTITY_TOO_LARGE
                                     ? "the body is larger than " + std::to_string(kRelayMaxBody) + " bytes"
                                     : std::string("the body could not be read"));
        }
    } else {
        ap_discard_request_body(r);
    }

    const std::string query = strip_client_claims(raw_query);
    const std::string agent = clean_header_value(apr_table_get(r->headers_in, "User-Agent"));
    const std::string ip = r->useragent_ip ? r->useragent_ip : "";
    const std::string header = cookie_header(r);
    const CookieList cookies = parse_cookie_header(header);

    OutboundRequest request;
    request.post = r->method_number == M_POST;
    request.url = std::string(conf->domain) + "/" + route.ids + "/" + route.rest + (query.empty() ? "" : "?" + query);
    request.body = std::move(body);
    const DeliveryOptions options = delivery_options(r->server);
    request.timeout_ms = options.timeout_ms;
    request.proxy = options.proxy;
    // The real client, replacing whatever the browser claimed.
    request.headers.push_back("X-WT-IP: " + ip);
    request.headers.push_back("X-WT-UA: " + agent);
    const std::string mapp_cookies = mapp_cookie_header(cookies);
    if (!mapp_cookies.empty()) request.headers.push_back("Cookie: " + mapp_cookies);
    if (const char* language = apr_table_get(r->headers_in, "Accept-Language")) {
        request.headers.push_back("Accept-Language: " + clean_header_value(language));
    }
    if (request.post) {
        const char* type = apr_table_get(r->headers_in, "Content-Type");
        request.headers.push_back("Content-Type: " + (type ? clean_header_value(type) : std::string("text/plain")));
    }

    TransportPool* pool = transport_pool();
    const OutboundResponse response = pool ? pool->acquire()->perform(request) : OutboundResponse{};
    if (classify(response) == Verdict::Retry) {
        if (g_relay_failure_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "MT0105: relay to %s/%s failed (%s); answering with the GIF and queueing the hit",
                          conf->domain, route.ids.c_str(),
                          response.outcome == OutboundResponse::Outcome::Answered
                              ? apr_psprintf(r->pool, "HTTP %ld", response.status)
                              : response.error.c_str());
        }
        return fall_back(r, conf, route, query, request.body, cookies, agent, ip);
    }

    apr_table_setn(r->subprocess_env, "MAPPTRACK", "sent");
    r->status = static_cast<int>(response.status);
    if (!response.content_type.empty()) {
        ap_set_content_type(r, apr_pstrdup(r->pool, clean_header_value(response.content_type.c_str()).c_str()));
    }
    const char* domain = conf->cookie_domain ? conf->cookie_domain : "";
    for (const std::string& cookie : response.set_cookies) {
        apr_table_addn(r->err_headers_out, "Set-Cookie",
                       apr_pstrdup(r->pool, clean_header_value(rewrite_cookie_domain(cookie, domain).c_str()).c_str()));
    }
    if (response.status >= 300 && response.status < 400 && !response.location.empty()) {
        apr_table_setn(r->err_headers_out, "Location",
                       apr_pstrdup(r->pool, clean_header_value(response.location.c_str()).c_str()));
    }
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (!response.body.empty()) ap_rwrite(response.body.data(), static_cast<int>(response.body.size()), r);
    return OK;
}

int relay_handler(request_rec* r) {
    if (!r->handler || std::strcmp(r->handler, kHandler)) return DECLINED;
    return guarded([&] { return relay(r); },
                   [&](const char* what) {
                       ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0303: relay failed: %s", what);
                       return HTTP_INTERNAL_SERVER_ERROR;
                   });
}

}  // namespace

void register_relay_hooks() { ap_hook_handler(relay_handler, nullptr, nullptr, APR_HOOK_MIDDLE); }

}  // namespace mapptrack::httpd
