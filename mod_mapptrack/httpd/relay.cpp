// The pixel relay handler: checks the request (never an open proxy), applies
// the directory's privacy rules, sends only validated hit lines on with the
// real client's IP and user agent, filters the answer before the site serves
// it, and queues the hit with a GIF answer when the track server fails or too
// many workers already wait on it.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "mapptrack/batch.h"
#include "mapptrack/cookies.h"
#include "mapptrack/hit_line.h"
#include "mapptrack/ip.h"
#include "mapptrack/log.h"
#include "mapptrack/relay.h"
#include "mapptrack/text.h"
#include "mapptrack/target.h"
#include "mapptrack/transport.h"

#include "config.h"
#include "guard.h"
#include "lifecycle.h"
#include "relay.h"
#include "shared_memory.h"
#include "queued_delivery.h"
#include "request_body.h"
#include "request_headers.h"
#include "visitor.h"
#include "sync_send.h"
#include "wait_limit.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_fnmatch.h>
#include <apr_strings.h>
#include <ap_expr.h>
#include <ap_regex.h>
#include <httpd.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

constexpr char kHandler[] = "mapptrack-proxy";

RateLimit g_relay_failure_log{60000};
RateLimit g_location_log{60000};
RateLimit g_redirect_log{60000};

// Header values taken from the client are passed on without control bytes
// (CR and LF above all: they would end the header line) and at most
// `max_bytes` long, so one client cannot make the request to the track server large.
std::string clean_header_value(const char* value, std::size_t max_bytes = 1024) {
    std::string out;
    for (const char* p = value ? value : ""; *p && out.size() < max_bytes; ++p) {
        if (*p == '\t') out.push_back(' ');  // legal in a value, but a blank is all it means
        else if (static_cast<unsigned char>(*p) >= 0x20 && *p != 0x7F) out.push_back(*p);
    }
    return out;
}

// The request headers the track server reads besides the cookies: the language,
// the referrer and the client hints that replace Chrome's reduced User-Agent
// (Sec-CH-UA, Sec-CH-UA-Mobile, -Platform, -Full-Version-List, …).
// Each value cleaned; at most kMaxClientHints hints.
constexpr std::size_t kMaxClientHints = 16;
constexpr std::size_t kMaxRefererBytes = 4096;

bool is_client_hint(const char* name) {
    return name && !ap_cstr_casecmpn(name, "Sec-CH-UA", 9) && (name[9] == '\0' || name[9] == '-');
}

void forward_client_headers(const request_rec* r, std::vector<std::string>& headers) {
    if (const char* language = apr_table_get(r->headers_in, "Accept-Language")) {
        headers.push_back("Accept-Language: " + clean_header_value(language));
    }
    if (const char* referer = apr_table_get(r->headers_in, "Referer")) {
        headers.push_back("Referer: " + clean_header_value(referer, kMaxRefererBytes));
    }
    const apr_array_header_t* fields = apr_table_elts(r->headers_in);
    const auto* entries = reinterpret_cast<const apr_table_entry_t*>(fields->elts);
    std::size_t hints = 0;
    for (int i = 0; i < fields->nelts && hints < kMaxClientHints; ++i) {
        if (!is_client_hint(entries[i].key)) continue;
        // The name as httpd parsed it: a token, no blank or control byte to clean.
        headers.push_back(std::string(entries[i].key) + ": " + clean_header_value(entries[i].val));
        ++hints;
    }
}


// LogLevel mapptrack:trace1: what went to the track server and what came
// back, headers included (they hold the visitor's IP and cookies: trace only).
std::string header_trail(const std::vector<std::string>& headers) {
    std::string out;
    for (const std::string& h : headers) out += " | " + h;
    return out;
}

void trace_upstream_request(const request_rec* r, const OutboundRequest& request) {
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "MT0306: relay request to the track server: %s %s (%" APR_SIZE_T_FMT " body bytes)%s",
                  request.post ? "POST" : "GET", request.url.c_str(), request.body.size(),
                  header_trail(request.headers).c_str());
}

void trace_upstream_answer(const request_rec* r, const OutboundResponse& response) {
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "MT0307: relay answer from the track server: %s (%" APR_SIZE_T_FMT " body bytes)%s",
                  describe_outcome(response).c_str(), response.body.size(), header_trail(response.headers).c_str());
}

// On err_headers_out, so that every answer keeps them: refusals, 405, 500,
// the GIF and the relayed answer alike.
void add_relay_headers(request_rec* r) {
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->err_headers_out, "Content-Security-Policy", kRelayContentSecurityPolicy);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

int answer_text(request_rec* r, int status, const std::string& text) {
    r->status = status;
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_rprintf(r, "%d %s\n", status, text.c_str());
    return OK;
}

// Every refusal, whatever its cause, is logged here (one message id).
int refuse(request_rec* r, int status, const std::string& reason) {
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MT0301: relay refused %s with %d: %s", r->uri, status,
                  reason.c_str());
    ap_discard_request_body(r);
    return answer_text(r, status, reason);
}

// The figures of a relayed request: one per GET or POST answered.
void count_relay(request_rec* r, const char* outcome) {
    const char* ids = dir_config(r)->track_ids;
    count(r->server, ids, Count::RelayRequests);
    count_outcome(r->server, ids, outcome);
}

int answer_gif(request_rec* r, const char* outcome) {
    if (outcome) {
        apr_table_setn(r->subprocess_env, "MAPPTRACK", outcome);
        count_relay(r, outcome);
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, "image/gif");
    const std::string_view gif = transparent_gif();
    ap_rwrite(gif.data(), static_cast<int>(gif.size()), r);
    return OK;
}

// What the relay answers: GET (and so HEAD) and POST. TRACE is answered by
// httpd's core before any handler runs, unless TraceEnable is off.
const char* allowed_methods(request_rec* r) {
    const auto* sconf = static_cast<const core_server_config*>(ap_get_core_module_config(r->server->module_config));
    return sconf && sconf->trace_enable != AP_TRACE_DISABLE ? "GET, HEAD, POST, TRACE" : "GET, HEAD, POST";
}

// Whether this section, or an <If>/<ElseIf>/<Else> nested in it, says
// `SetHandler mapptrack-proxy`. The nested conditions are not evaluated:
// r->handler already says the relay handles this request.
bool sets_relay_handler(request_rec* r, const core_dir_config* section, int depth = 0) {
    const char* value = section->handler;
    if (section->expr_handler) {
        const char* err = nullptr;
        value = ap_expr_str_exec(r, section->expr_handler, &err);
        if (err) value = nullptr;
    }
    if (value && !ap_cstr_casecmp(value, kHandler)) return true;
    if (!section->sec_if || depth > 8) return false;
    auto* const* nested = reinterpret_cast<ap_conf_vector_t* const*>(section->sec_if->elts);
    for (int i = 0; i < section->sec_if->nelts; ++i) {
        const auto* inner = static_cast<const core_dir_config*>(ap_get_core_module_config(nested[i]));
        if (inner && sets_relay_handler(r, inner, depth + 1)) return true;
    }
    return false;
}

// The relay's bases for this request: the path of each <Location> and the
// match of each <LocationMatch> that applies to r->uri and sets the handler,
// the last merged (innermost) first. Taken from the vhost's list of URL
// sections, the one httpd's location walk matches, and not from the merged
// per-directory config, whose record of the section is whichever was merged
// last (a later <Location />, an <If>).
std::vector<std::string> relay_bases(request_rec* r, bool& wildcard) {
    std::vector<std::string> bases;
    const auto* sconf = static_cast<const core_server_config*>(ap_get_core_module_config(r->server->module_config));
    if (!sconf || !sconf->sec_url || !r->uri) return bases;
    // The location walk compares plain <Location>s with merged slashes, whatever MergeSlashes says.
    const char* merged_uri = r->uri;
    if (sconf->merge_slashes == AP_CORE_CONFIG_OFF) {
        char* copy = apr_pstrdup(r->pool, r->uri);
        ap_no2slash(copy);
        merged_uri = copy;
    }
    auto* const* sections = reinterpret_cast<ap_conf_vector_t* const*>(sconf->sec_url->elts);
    for (int i = sconf->sec_url->nelts - 1; i >= 0; --i) {
        const auto* section = static_cast<const core_dir_config*>(ap_get_core_module_config(sections[i]));
        if (!section || !section->d) continue;
        std::optional<std::string> base;
        if (section->r) {
            ap_regmatch_t match[1];
            if (ap_regexec(section->r, r->uri, 1, match, 0) != 0) continue;
            if (match[0].rm_so < 0 || match[0].rm_eo < match[0].rm_so) continue;
            if (!sets_relay_handler(r, section)) continue;
            base = relay_base_from_match(r->uri, static_cast<std::size_t>(match[0].rm_so),
                                         static_cast<std::size_t>(match[0].rm_eo));
        } else if (section->d_is_fnmatch) {
            // A wildcard must match the whole path, so it marks no base for `{ids}/{rest}`.
            if (apr_fnmatch(section->d, merged_uri, APR_FNM_PATHNAME) == APR_SUCCESS &&
                sets_relay_handler(r, section)) {
                wildcard = true;
            }
            continue;
        } else {
            if (!location_applies(section->d, merged_uri) || !sets_relay_handler(r, section)) continue;
            base = section->d;
        }
        if (base) bases.push_back(std::move(*base));
    }
    return bases;
}

// What one relayed request carries, once checked.
struct RelayedHits {
    bool hit_rest = false;           // `wt…` (or the sendViaServer form): the query is a hit
    std::string query;               // as forwarded (rewritten)
    std::string clean_query;         // the client's query when it is a hit (for the queue)
    std::vector<HitLine> body_lines; // validated body lines
};

// The track server failed, or no worker may wait on it: answer the pixel with
// the GIF and queue the hit. Only hits are queued (a `wt…` query, the lines of
// a body sent to `wt…` or `batch`), each as a validated line rewritten for
// this client and sent to the configured endpoint: never client text in a URL.
// All go to the one hit endpoint, `wt`, whatever random name the pixel used.
// `maybe_received`: the live attempt failed after it was sent, so the track
// server may have the hits already and the queued copy is their last.
// A beacon body line (`?p=…`, the Smart Pixel's sendBeacon) parsed with rest
// "wt", so it is replayed to `{ids}/wt?p=…` like any other.
// `ever_id`: the visitor's, from the cookies (empty when anonymous or none). A
// batch carries no cookies, so a queued line without an eid of its own gets it
// as `eid=`; a single GET sends the cookies, exactly as the live relay did.
int fall_back(request_rec* r, const DirConfig* conf, const RelayRoute& route, const RelayedHits& hits,
              const CookieList& cookies, const ClientFacts& client, std::string_view ever_id,
              bool maybe_received = false) {
    count(r->server, conf->track_ids, Count::RelayFallbacks);
    const std::string queued_cookies =
        carries_cookies(batch_size(server_config(r->server)), client.anonymous) ? mapp_cookie_header(cookies)
                                                                                : std::string();
    const bool eid_in_line = queued_cookies.empty() && !client.anonymous;
    const auto queued_line = [&](const std::string& query) {
        std::string line = rewrite_hit_line(HitLine{"wt", query}, client);
        if (!eid_in_line) return line;
        return "wt?" + add_ever_id(std::string_view(line).substr(3), ever_id, client.anonymous);
    };
    std::vector<std::string> lines;
    const bool queueable = hits.hit_rest || route.rest == "batch";
    if (queueable) {
        if (hits.hit_rest && !hits.clean_query.empty()) lines.push_back(queued_line(hits.clean_query));
        for (const HitLine& line : hits.body_lines) lines.push_back(queued_line(line.query));
    }
    const std::uint64_t visitor =
        visitor_hash(client.anonymous ? std::string_view() : ever_id, client.ip, client.user_agent);
    Dispatcher* d = dispatcher();
    const char* outcome = "skipped:track-server-failed";
    for (std::string& line : lines) {
        Delivery delivery = queued_delivery(r->server, conf, route.ids, std::move(line), queued_cookies, visitor);
        delivery.maybe_received = maybe_received ? 1 : 0;
        if (d && d->enqueue(std::move(delivery)) == DeliveryQueue::PushResult::Queued) outcome = "queued";
    }
    return answer_gif(r, outcome);
}

std::string join_lines(const std::vector<HitLine>& lines, const ClientFacts& client) {
    std::string body;
    for (const HitLine& line : lines) {
        if (!body.empty()) body.push_back('\n');
        body += rewrite_hit_line(line, client);
    }
    return body;
}

// The track server answered: pass back only what the site may serve as its own.
void pass_back(request_rec* r, const DirConfig* conf, const OutboundResponse& response, std::size_t hits) {
    apr_table_setn(r->subprocess_env, "MAPPTRACK", "sent");
    count_relay(r, "sent");
    if (classify(response) == Verdict::Delivered) count(r->server, conf->track_ids, Count::Sent, hits);
    r->status = response.status >= 200 && response.status < 600 ? static_cast<int>(response.status)
                                                                  : HTTP_BAD_GATEWAY;
    const char* cookie_domain = conf->cookie_domain ? conf->cookie_domain : "";
    // mod_ssl's scheme, or ServerName https://… behind a TLS-terminating proxy.
    const bool https = !std::strcmp(ap_http_scheme(r), "https");
    for (const std::string& cookie : response.set_cookies) {
        if (std::optional<std::string> relayed = relay_set_cookie(cookie, cookie_domain, https)) {
            apr_table_addn(r->err_headers_out, "Set-Cookie", apr_pstrdup(r->pool, relayed->c_str()));
        }
    }
    if (r->status >= 300 && r->status < 400 && !response.location.empty()) {
        const std::optional<TrackDomain> track = parse_track_domain(conf->domain, nullptr);
        if (is_allowed_redirect(response.location, r->hostname ? r->hostname : "",
                                track ? std::string_view(track->host) : std::string_view())) {
            apr_table_setn(r->err_headers_out, "Location", apr_pstrdup(r->pool, response.location.c_str()));
        } else if (g_redirect_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "MT0305: the track server redirected a relayed request to another site; the "
                          "Location is not passed on (only the site itself or the track domain)");
        }
    }
    // Markup or script from the track server must not run on the site's origin:
    // such a body is dropped and the status answered alone.
    if (!response.body.empty() && is_relayable_content_type(response.content_type) && r->status != HTTP_NO_CONTENT &&
        r->status != HTTP_NOT_MODIFIED) {
        ap_set_content_type(r, apr_pstrdup(r->pool, clean_header_value(response.content_type.c_str()).c_str()));
        ap_rwrite(response.body.data(), static_cast<int>(response.body.size()), r);
    }
}

int relay(request_rec* r) {
    add_relay_headers(r);
    const DirConfig* conf = dir_config(r);
    if (!conf->track_ids || !conf->domain) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MT0302: SetHandler %s for %s needs MappTrackId and MappTrackDomain", kHandler, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method_number != M_GET && r->method_number != M_POST) {
        // Answered here rather than by httpd's error page, whose Allow header
        // comes from a method hash (any order); M_GET covers HEAD.
        apr_table_setn(r->err_headers_out, "Allow", allowed_methods(r));
        return refuse(r, HTTP_METHOD_NOT_ALLOWED, std::string("the relay accepts only ") + allowed_methods(r));
    }
    // Routed on the request target exactly as the client sent it: httpd has
    // already normalised r->parsed_uri.path (`.`/`..` segments removed,
    // %-escapes of unreserved characters decoded), which would let `..` and
    // escapes through; an absolute URL does not start with '/' and is refused.
    const std::string_view target = r->unparsed_uri ? r->unparsed_uri : "";
    const std::size_t question = target.find('?');
    const std::string raw_path(target.substr(0, question));
    const std::string raw_query(question == std::string_view::npos ? std::string_view() : target.substr(question + 1));
    bool wildcard = false;
    const std::vector<std::string> bases = relay_bases(r, wildcard);
    if (bases.empty()) {
        if (g_location_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "MT0304: SetHandler %s for %s is not set in a <Location> or <LocationMatch> "
                          "that applies to it%s; set it there (not in <Directory>, <Files>, .htaccess "
                          "or a server-level <If>), and let a <LocationMatch> match the relay's base "
                          "from the path's start. The request gets 404",
                          kHandler, r->uri, wildcard ? " (a wildcard <Location> cannot be a relay base)" : "");
        }
        return refuse(r, HTTP_NOT_FOUND, "not a relay location");
    }
    const std::vector<std::string>& configured_ids = track_ids_of(conf);
    const RelayRoute route = route_relay_request(raw_path, raw_query, configured_ids, bases);
    if (route.status) return refuse(r, route.status, route.reason);
    // HEAD is what link checkers and uptime monitors send: the GIF's headers,
    // and nothing goes to the track server (it would count as a page view).
    if (r->header_only) {
        ap_discard_request_body(r);
        return answer_gif(r, nullptr);
    }

    // Privacy first, exactly as for page hits: an opted-out visitor's request
    // goes nowhere, whatever it carries.
    const std::string header = cookie_header(r);
    const CookieList cookies = parse_cookie_header(header);
    const Identity identity = identify(r, conf, cookies, configured_ids);
    if (identity.kind == Identity::Kind::OptedOut) {
        ap_discard_request_body(r);
        return answer_gif(r, "skipped:optout");
    }
    const bool anonymous = identity.kind == Identity::Kind::Anonymous;

    const ServerConfig* sconf = server_config(r->server);
    RelayLimits limits;
    limits.max_lines = relay_max_lines(sconf);
    limits.max_body = std::min<std::size_t>(relay_max_body(sconf), kRelayMaxBody);
    std::string body;
    if (r->method_number == M_POST) {
        if (const int rc = read_request_body(r, limits.max_body, body)) {
            return refuse(r, rc, rc == HTTP_REQUEST_ENTITY_TOO_LARGE
                                     ? "the body is larger than " + std::to_string(limits.max_body) +
                                           " bytes (MappTrackRelayMaxBody)"
                                     : std::string("the body could not be read"));
        }
    } else {
        ap_discard_request_body(r);
    }

    // Not cut short: httpd's LimitRequestFieldSize already bounds it.
    const std::string agent = clean_header_value(apr_table_get(r->headers_in, "User-Agent"), 16 * 1024);
    std::string ip = r->useragent_ip ? r->useragent_ip : "";
    if (anonymize_ip(conf)) ip = mapptrack::anonymize_ip(ip);
    ClientFacts client;
    client.user_agent = agent;
    client.ip = ip;
    client.anonymous = anonymous;

    // Every body must be hit lines, whatever endpoint it is sent to: a body
    // is checked whole (413 before anything is sent or queued), then only its
    // valid lines go on.
    RelayedHits hits;
    hits.hit_rest = starts_with(route.rest, "wt");
    if (!body.empty() || route.rest == "batch") {
        RelayBody split = split_relay_body(body, limits);
        if (split.status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return refuse(r, split.status,
                          "the body has more than " + std::to_string(limits.max_lines) +
                              " hit lines (MappTrackRelayMaxLines) or " + std::to_string(limits.max_body) +
                              " bytes (MappTrackRelayMaxBody)");
        }
        if (split.status) return refuse(r, split.status, "the body holds no Mapp hit line (wt?… or ?…)");
        hits.body_lines = std::move(split.lines);
        body = join_lines(hits.body_lines, client);
    }
    // A hit's query is checked and rewritten like a body line. The other
    // endpoints (cc, optout…, hm) carry no hit: their query goes on with only
    // the claims about the visitor removed, the client travels in headers.
    if (hits.hit_rest) {
        if (!raw_query.empty()) {
            if (!is_clean_query(raw_query)) {
                return refuse(r, HTTP_BAD_REQUEST, "the query holds characters a Mapp hit does not use");
            }
            hits.clean_query = raw_query;
            hits.query = rewrite_hit_query(raw_query, client);
        } else if (hits.body_lines.empty()) {
            return refuse(r, HTTP_BAD_REQUEST, "no hit in the request");
        }
    } else {
        hits.query = remove_client_claims(raw_query, anonymous);
    }

    OutboundRequest request;
    request.post = r->method_number == M_POST;
    request.url = endpoint_url(make_endpoint(conf->domain, route.ids),
                               hits.query.empty() ? route.rest : route.rest + "?" + hits.query);
    request.body = std::move(body);
    const DeliveryOptions options = delivery_options(r->server);
    request.timeout_ms = options.timeout_ms;
    request.proxy = options.proxy;
    // The real client, replacing whatever the browser claimed.
    request.headers.push_back("X-WT-IP: " + ip);
    request.headers.push_back("X-WT-UA: " + agent);
    if (!anonymous) {
        const std::string mapp_cookies = mapp_cookie_header(cookies);
        if (!mapp_cookies.empty()) request.headers.push_back("Cookie: " + mapp_cookies);
    }
    forward_client_headers(r, request.headers);
    if (request.post) {
        const char* type = apr_table_get(r->headers_in, "Content-Type");
        request.headers.push_back("Content-Type: " + (type ? clean_header_value(type) : std::string("text/plain")));
    }

    const bool trace = APLOGrtrace1(r);
    request.keep_headers = trace;
    OutboundResponse response;
    {
        // Held only while waiting on the track server, so a hanging one can
        // never hold more than MappTrackMaxWaitingWorkers workers.
        WaitSlot slot = try_wait_slot();
        if (!slot) {
            warn_waiting_workers_full(r);
            return fall_back(r, conf, route, hits, cookies, client, identity.ever_id);
        }
        TransportPool* pool = transport_pool();
        if (trace) trace_upstream_request(r, request);
        if (pool) response = pool->acquire()->perform(request);
        if (trace) trace_upstream_answer(r, response);
    }
    if (response.outcome != OutboundResponse::Outcome::Invalid) count(r->server, conf->track_ids, Count::Requests);
    if (classify(response) != Verdict::Delivered) {
        if (StatusTable* table = status_table()) {
            table->error(status_row(r->server, conf->track_ids),
                         make_endpoint(conf->domain, route.ids) + " (relay): " + describe_outcome(response),
                         now_ms());
        }
    }
    if (response.outcome == OutboundResponse::Outcome::Invalid) {
        // The request could not even be made; queueing it would fail the same way.
        return answer_gif(r, "skipped:invalid-request");
    }
    if (classify(response) == Verdict::Retry) {
        if (g_relay_failure_log.allow(now_ms())) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "MT0105: relay to %s/%s failed (%s); answering with the GIF and queueing the hit",
                          conf->domain, route.ids.c_str(), describe_outcome(response).c_str());
        }
        return fall_back(r, conf, route, hits, cookies, client, identity.ever_id, response.maybe_received);
    }
    pass_back(r, conf, response, hits.body_lines.size() + (hits.hit_rest && !hits.clean_query.empty() ? 1 : 0));
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

// The relay serves no file: when its URL maps to a directory (an Alias, a
// directory of that name), mod_dir's fixup, which runs after this one, would
// redirect `{location}?p=…` to `{location}/?p=…` (a POST lost on the way) or
// serve a DirectoryIndex instead of relaying.
int relay_fixups(request_rec* r) {
    return guarded(
        [&] {
            if (r->handler && !std::strcmp(r->handler, kHandler) && r->finfo.filetype == APR_DIR) {
                r->finfo.filetype = APR_NOFILE;
            }
            return DECLINED;
        },
        [](const char*) { return DECLINED; });
}

}  // namespace

void register_relay_hooks() {
    ap_hook_fixups(relay_fixups, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_handler(relay_handler, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace mapptrack::httpd
