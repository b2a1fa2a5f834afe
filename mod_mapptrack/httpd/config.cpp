// Directives (docs/directives.md): parsing with clear errors, create and merge.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mapptrack/campaign.h"
#include "mapptrack/hit.h"
#include "mapptrack/spool.h"
#include "mapptrack/target.h"

#include "config.h"
#include "guard.h"
#include "pool_object.h"

#include <http_core.h>
#include <http_log.h>
#include <ap_regex.h>
#include <apr_strings.h>
#include <unixd.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

DirConfig* dir(void* mconfig) { return static_cast<DirConfig*>(mconfig); }
ServerConfig* server(cmd_parms* cmd) {
    return static_cast<ServerConfig*>(ap_get_module_config(cmd->server->module_config, &mapptrack_module));
}

const char* fail(cmd_parms* cmd, const char* reason) {
    return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, reason);
}

bool in_htaccess(const cmd_parms* cmd) { return cmd->pool == cmd->temp_pool; }

// A whole decimal number within [min, max].
bool parse_number(const char* arg, long min, long max, long* out) {
    if (!arg || !*arg) return false;
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(arg, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

const char* number_error(cmd_parms* cmd, const char* arg, long min, long max, const char* unit) {
    return apr_psprintf(cmd->pool, "%s: '%s' is not a number from %ld to %ld%s%s", cmd->cmd->name, arg,
                        min, max, *unit ? " " : "", unit);
}

bool is_token(const char* s) {
    if (!*s) return false;
    for (; *s; ++s) {
        const unsigned char c = static_cast<unsigned char>(*s);
        if (c <= 0x20 || c >= 0x7F || std::strchr("()<>@,;:\\\"/[]?={}", c)) return false;
    }
    return true;
}

ap_expr_info_t* parse_expr(cmd_parms* cmd, const char* arg, bool string_result, const char** err) {
    *err = nullptr;
    ap_expr_info_t* expr =
        ap_expr_parse_cmd(cmd, arg, string_result ? AP_EXPR_FLAG_STRING_RESULT : 0, err, nullptr);
    return *err ? nullptr : expr;
}

// --- per-directory directives ----------------------------------------------

const char* set_enabled(cmd_parms*, void* c, int on) {
    dir(c)->enabled = on ? 1 : 0;
    return nullptr;
}

const char* set_track_ids(cmd_parms* cmd, void* c, const char* arg) {
    std::string error;
    const auto ids = parse_track_ids(arg, &error);
    if (!ids) return fail(cmd, apr_psprintf(cmd->pool, "'%s': %s", arg, error.c_str()));
    std::string joined;
    for (const auto& id : *ids) joined += (joined.empty() ? "" : ",") + id;
    dir(c)->track_ids = apr_pstrdup(cmd->pool, joined.c_str());
    dir(c)->track_id_list = pool_new<std::vector<std::string>>(cmd->pool, *ids);
    return nullptr;
}

const char* set_domain(cmd_parms* cmd, void* c, const char* arg) {
    std::string error;
    const auto domain = parse_track_domain(arg, &error);
    if (!domain) return fail(cmd, apr_psprintf(cmd->pool, "'%s': %s", arg, error.c_str()));
    if (in_htaccess(cmd)) {
        const apr_array_header_t* allowed = server(cmd)->allow_domains;
        std::vector<std::string> patterns;
        for (int i = 0; allowed && i < allowed->nelts; ++i)
            patterns.emplace_back(APR_ARRAY_IDX(allowed, i, const char*));
        if (!host_allowed(patterns, *domain)) {
            return fail(cmd, apr_psprintf(cmd->pool,
                                          "the server administrator does not allow the track domain '%s' "
                                          "in .htaccess (see MappTrackAllowDomain)",
                                          arg));
        }
    }
    dir(c)->domain = apr_pstrdup(cmd->pool, domain->url().c_str());
    return nullptr;
}

const char* set_mode(cmd_parms* cmd, void* c, const char* arg) {
    if (!strcasecmp(arg, "async")) {
        dir(c)->mode = int(Mode::Async);
    } else if (!strcasecmp(arg, "sync")) {
        dir(c)->mode = int(Mode::Sync);
    } else {
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a mode: use async or sync", arg));
    }
    return nullptr;
}

const char* set_pixel_version(cmd_parms* cmd, void* c, const char* arg) {
    long v;
    if (!parse_number(arg, 1, 999, &v)) return number_error(cmd, arg, 1, 999, "");
    dir(c)->pixel_version = int(v);
    return nullptr;
}

const char* set_content_id(cmd_parms* cmd, void* c, const char* arg) {
    const char* err;
    dir(c)->content_id = parse_expr(cmd, arg, true, &err);
    return err ? fail(cmd, apr_psprintf(cmd->pool, "cannot parse expression '%s': %s", arg, err)) : nullptr;
}

const char* set_condition(cmd_parms* cmd, void* c, const char* arg) {
    const char* err;
    dir(c)->condition = parse_expr(cmd, arg, false, &err);
    return err ? fail(cmd, apr_psprintf(cmd->pool, "cannot parse condition '%s': %s", arg, err)) : nullptr;
}

const char* set_custom_ever_id(cmd_parms* cmd, void* c, const char* arg) {
    const char* err;
    dir(c)->custom_ever_id = parse_expr(cmd, arg, true, &err);
    return err ? fail(cmd, apr_psprintf(cmd->pool, "cannot parse expression '%s': %s", arg, err)) : nullptr;
}

const char* add_param(cmd_parms* cmd, void* c, const char* name, const char* value) {
    if (!is_valid_param_name(name)) {
        return fail(cmd, apr_psprintf(cmd->pool,
                                      "'%s' is not a usable parameter name (letters, digits and _, "
                                      "such as cp1 or cg2; not p, eid, ceid, one, nc or eor)",
                                      name));
    }
    const char* err;
    ap_expr_info_t* expr = parse_expr(cmd, value, true, &err);
    if (err) return fail(cmd, apr_psprintf(cmd->pool, "cannot parse expression '%s': %s", value, err));
    DirConfig* d = dir(c);
    if (!d->params) d->params = apr_array_make(cmd->pool, 4, sizeof(Param));
    for (int i = 0; i < d->params->nelts; ++i) {
        Param& p = APR_ARRAY_IDX(d->params, i, Param);
        if (!std::strcmp(p.name, name)) {
            p.value = expr;
            return nullptr;
        }
    }
    APR_ARRAY_PUSH(d->params, Param) = Param{apr_pstrdup(cmd->pool, name), expr};
    return nullptr;
}

const char* set_cookie_flag(cmd_parms*, void* c, int on) {
    dir(c)->cookie = on ? 1 : 0;
    return nullptr;
}

const char* set_cookie_name(cmd_parms* cmd, void* c, const char* arg) {
    if (!is_token(arg)) return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a valid cookie name", arg));
    dir(c)->cookie_name = arg;
    return nullptr;
}

const char* set_cookie_domain(cmd_parms* cmd, void* c, const char* arg) {
    const char* s = arg;
    if (*s == '.') ++s;
    bool ok = *s != 0;
    for (; *s; ++s) {
        const unsigned char ch = static_cast<unsigned char>(*s);
        if (!std::isalnum(ch) && ch != '-' && ch != '.') ok = false;
    }
    if (!ok) return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a domain name", arg));
    dir(c)->cookie_domain = arg;
    return nullptr;
}

const char* set_cookie_max_age(cmd_parms* cmd, void* c, const char* arg) {
    long v;
    if (!parse_number(arg, 0, 400L * 24 * 3600, &v)) return number_error(cmd, arg, 0, 400L * 24 * 3600, "seconds");
    dir(c)->cookie_max_age = v;
    return nullptr;
}

const char* set_anonymize_ip(cmd_parms*, void* c, int on) {
    dir(c)->anonymize_ip = on ? 1 : 0;
    return nullptr;
}

const char* set_do_not_track(cmd_parms* cmd, void* c, const char* arg) {
    if (!strcasecmp(arg, "off")) {
        dir(c)->do_not_track = int(DoNotTrack::Off);
    } else if (!strcasecmp(arg, "skip")) {
        dir(c)->do_not_track = int(DoNotTrack::Skip);
    } else if (!strcasecmp(arg, "anonymous")) {
        dir(c)->do_not_track = int(DoNotTrack::Anonymous);
    } else {
        return fail(cmd, apr_psprintf(cmd->pool, "'%s': use Off, Skip or Anonymous", arg));
    }
    return nullptr;
}

const char* set_consent_cookie(cmd_parms* cmd, void* c, const char* name, const char* regex) {
    if (!strcasecmp(name, "Off") && !regex) {  // an inner section needs no consent again
        dir(c)->consent_cookie = "";
        dir(c)->consent_value = nullptr;
        return nullptr;
    }
    if (!is_token(name)) return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a valid cookie name", name));
    dir(c)->consent_cookie = name;
    if (regex) {
        dir(c)->consent_value = ap_pregcomp(cmd->pool, regex, AP_REG_EXTENDED | AP_REG_NOSUB);
        if (!dir(c)->consent_value)
            return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a valid regular expression", regex));
    }
    return nullptr;
}

// --- page names, referrers, campaigns, client hints --------------------------

// A query parameter name as it stands in the page URL (query_param compares
// names raw, escapes and case included).
bool is_query_param_name(const char* s) {
    if (!*s || std::strlen(s) > 64) return false;
    for (; *s; ++s) {
        const unsigned char ch = static_cast<unsigned char>(*s);
        if (ch <= 0x20 || ch >= 0x7F || std::strchr("&=#?", ch)) return false;
    }
    return true;
}

bool is_none(const char* arg) { return !strcasecmp(arg, "none"); }

// One word of a `name…|none` list directive. An empty array is `none`; the
// scope's own array (create_dir_config gives each scope a fresh one), so
// mixing `none` with names is caught within one scope only, which is where
// it would be a contradiction.
const char* add_list_word(cmd_parms* cmd, apr_array_header_t** list, const char* arg, bool sorted,
                          const char* what) {
    if (is_none(arg)) {
        if (*list && (*list)->nelts > 0)
            return fail(cmd, apr_psprintf(cmd->pool, "'none' cannot be combined with %ss", what));
        *list = apr_array_make(cmd->pool, 1, sizeof(const char*));
        return nullptr;
    }
    if (*list && (*list)->nelts == 0)
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' cannot be combined with 'none'", arg));
    if (!*list) *list = apr_array_make(cmd->pool, 4, sizeof(const char*));
    apr_array_header_t* a = *list;
    int at = a->nelts;
    for (int i = 0; i < a->nelts; ++i) {
        const int cmp = std::strcmp(arg, APR_ARRAY_IDX(a, i, const char*));
        if (cmp == 0) return nullptr;  // given twice: once is enough
        if (sorted && cmp < 0) {
            at = i;
            break;
        }
    }
    APR_ARRAY_PUSH(a, const char*) = nullptr;
    for (int j = a->nelts - 1; j > at; --j) APR_ARRAY_IDX(a, j, const char*) = APR_ARRAY_IDX(a, j - 1, const char*);
    APR_ARRAY_IDX(a, at, const char*) = apr_pstrdup(cmd->pool, arg);
    return nullptr;
}

const char* query_param_error(cmd_parms* cmd, const char* arg) {
    return fail(cmd, apr_psprintf(cmd->pool,
                                  "'%s' is not a query parameter name (up to 64 visible ASCII "
                                  "characters, no & = # ?), or none",
                                  arg));
}

// Sorted by name: the page name then depends neither on the order of the
// URL's parameters nor on the order they are configured in.
const char* add_content_id_param(cmd_parms* cmd, void* c, const char* arg) {
    if (!is_none(arg) && !is_query_param_name(arg)) return query_param_error(cmd, arg);
    return add_list_word(cmd, &dir(c)->content_id_params, arg, true, "parameter name");
}

const char* add_campaign_param(cmd_parms* cmd, void* c, const char* arg) {
    if (!is_none(arg) && !is_query_param_name(arg)) return query_param_error(cmd, arg);
    // The order given is the order of the media codes in `mc`.
    return add_list_word(cmd, &dir(c)->campaign_params, arg, false, "parameter name");
}

const char* add_own_domain(cmd_parms* cmd, void* c, const char* arg) {
    if (!is_none(arg) && !is_valid_host_pattern(arg)) {
        return fail(cmd, apr_psprintf(cmd->pool,
                                      "'%s' is not a host pattern (host, *.domain or *, optionally "
                                      ":port or :*), or none",
                                      arg));
    }
    return add_list_word(cmd, &dir(c)->own_domains, arg, false, "host pattern");
}

const char* set_client_hints(cmd_parms*, void* c, int on) {
    dir(c)->client_hints = on ? 1 : 0;
    return nullptr;
}

const char* set_anonymous_cookie(cmd_parms* cmd, void* c, const char* name, const char* mode) {
    if (!is_token(name)) {
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a valid cookie name (an RFC 6265 token)", name));
    }
    AnonymousCookieMode m = AnonymousCookieMode::OptOut;
    if (mode) {
        const auto parsed = parse_anonymous_cookie_mode(mode);
        if (!parsed) return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a mode: use optout or optin", mode));
        m = *parsed;
    }
    dir(c)->anonymous_cookie = name;
    dir(c)->anonymous_mode = int(m);
    return nullptr;
}

// --- per-server directives ---------------------------------------------------

const char* global_only(cmd_parms* cmd) {
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

const char* set_timeout(cmd_parms* cmd, void*, const char* arg) {
    long v;
    if (!parse_number(arg, 1, 600000, &v)) return number_error(cmd, arg, 1, 600000, "milliseconds");
    server(cmd)->timeout_ms = v;
    return nullptr;
}

const char* set_batch_size(cmd_parms* cmd, void*, const char* arg) {
    long v;
    if (!parse_number(arg, 1, 1000, &v)) return number_error(cmd, arg, 1, 1000, "hits");
    server(cmd)->batch_size = int(v);
    return nullptr;
}

const char* set_batch_delay(cmd_parms* cmd, void*, const char* arg) {
    long v;
    if (!parse_number(arg, 0, 60000, &v)) return number_error(cmd, arg, 0, 60000, "milliseconds");
    server(cmd)->batch_delay_ms = v;
    return nullptr;
}

const char* set_outbound_proxy(cmd_parms* cmd, void*, const char* arg) {
    std::string error;
    if (!parse_track_domain(arg, &error)) return fail(cmd, apr_psprintf(cmd->pool, "'%s': %s", arg, error.c_str()));
    server(cmd)->outbound_proxy = arg;
    return nullptr;
}

const char* set_threads(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    long v;
    if (!parse_number(arg, 1, 64, &v)) return number_error(cmd, arg, 1, 64, "threads");
    server(cmd)->threads = int(v);
    return nullptr;
}

const char* set_queue_size(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    long v;
    if (!parse_number(arg, 1, 10000000, &v)) return number_error(cmd, arg, 1, 10000000, "hits");
    server(cmd)->queue_size = v;
    return nullptr;
}

const char* set_retries(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    long v;
    if (!parse_number(arg, 0, 100, &v)) return number_error(cmd, arg, 0, 100, "");
    server(cmd)->retries = int(v);
    return nullptr;
}

const char* set_spool_dir(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    if (!*arg) return fail(cmd, "needs a directory");
    server(cmd)->spool_dir = ap_server_root_relative(cmd->pool, arg);
    return nullptr;
}

// Bytes with an optional K, M or G suffix; 0 turns the spool off.
const char* set_spool_max_size(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(arg, &end, 10);
    long long unit = 1;
    if (end && *end) {
        switch (*end) {
            case 'k': case 'K': unit = 1LL << 10; break;
            case 'm': case 'M': unit = 1LL << 20; break;
            case 'g': case 'G': unit = 1LL << 30; break;
            default: unit = 0;
        }
        if (end[1]) unit = 0;
    }
    if (errno || end == arg || !unit || v < 0 || v > (1LL << 50) / unit) {
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a size: bytes with an optional K, M or G "
                                                 "suffix (0 turns the spool off)", arg));
    }
    server(cmd)->spool_max_bytes = v * unit;
    return nullptr;
}

const char* set_inspect_size(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    long v;
    if (!parse_number(arg, 1, 5000, &v)) return number_error(cmd, arg, 1, 5000, "hits");
    server(cmd)->inspect_size = v;
    return nullptr;
}

const char* set_relay_max_lines(cmd_parms* cmd, void*, const char* arg) {
    long v;
    if (!parse_number(arg, 1, 10000, &v)) return number_error(cmd, arg, 1, 10000, "lines");
    server(cmd)->relay_max_lines = v;
    return nullptr;
}

const char* set_relay_max_body(cmd_parms* cmd, void*, const char* arg) {
    long v;
    if (!parse_number(arg, 1024, 16L << 20, &v)) return number_error(cmd, arg, 1024, 16L << 20, "bytes");
    server(cmd)->relay_max_body = v;
    return nullptr;
}

const char* set_max_waiting_workers(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    long v;
    if (!parse_number(arg, 0, 100000, &v)) return number_error(cmd, arg, 0, 100000, "workers");
    server(cmd)->max_waiting_workers = int(v);
    return nullptr;
}

const char* add_allow_domain(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = global_only(cmd)) return err;
    if (!is_valid_host_pattern(arg)) {
        return fail(cmd, apr_psprintf(cmd->pool,
                                      "'%s' is not a host pattern (host, *.domain or *, optionally "
                                      ":port or :*)",
                                      arg));
    }
    ServerConfig* s = server(cmd);
    if (!s->allow_domains) s->allow_domains = apr_array_make(cmd->pool, 4, sizeof(const char*));
    APR_ARRAY_PUSH(s->allow_domains, const char*) = apr_pstrdup(cmd->pool, arg);
    return nullptr;
}

template <typename T>
T pick(T add, T base, T unset) {
    return add != unset ? add : base;
}

}  // namespace

// Each kind of directive's handler signature, checked at compile time: a
// handler of the wrong shape does not match the template parameter. The
// adapter also keeps exceptions (std::bad_alloc, a parser's) out of httpd's C
// config reader and reports them as the directive's error.
using FlagFn = const char* (*)(cmd_parms*, void*, int);
using Take1Fn = const char* (*)(cmd_parms*, void*, const char*);
using Take2Fn = const char* (*)(cmd_parms*, void*, const char*, const char*);

const char* internal_error(cmd_parms* cmd, const char* what) noexcept {
    return apr_psprintf(cmd->pool, "%s: internal error: %s", cmd->directive ? cmd->directive->directive : "MappTrack",
                        what);
}

template <FlagFn F>
const char* flag_adapter(cmd_parms* cmd, void* c, int on) noexcept {
    return guarded([&] { return F(cmd, c, on); }, [&](const char* what) { return internal_error(cmd, what); });
}

template <Take1Fn F>
const char* take1_adapter(cmd_parms* cmd, void* c, const char* a) noexcept {
    return guarded([&] { return F(cmd, c, a); }, [&](const char* what) { return internal_error(cmd, what); });
}

template <Take2Fn F>
const char* take2_adapter(cmd_parms* cmd, void* c, const char* a, const char* b) noexcept {
    return guarded([&] { return F(cmd, c, a, b); }, [&](const char* what) { return internal_error(cmd, what); });
}

// In C++ cmd_func takes no arguments; httpd calls each handler with the
// arguments its kind (FLAG, TAKE1, ...) implies. void(*)() is the neutral step.
template <typename Fn>
cmd_func handler(Fn fn) {
    return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(fn));
}
#define MT_FLAG(name, fn, where, help) AP_INIT_FLAG(name, handler(&flag_adapter<fn>), nullptr, where, help)
#define MT_TAKE1(name, fn, where, help) AP_INIT_TAKE1(name, handler(&take1_adapter<fn>), nullptr, where, help)
#define MT_TAKE2(name, fn, where, help) AP_INIT_TAKE2(name, handler(&take2_adapter<fn>), nullptr, where, help)
#define MT_TAKE12(name, fn, where, help) AP_INIT_TAKE12(name, handler(&take2_adapter<fn>), nullptr, where, help)
#define MT_ITERATE(name, fn, where, help) AP_INIT_ITERATE(name, handler(&take1_adapter<fn>), nullptr, where, help)

const command_rec directives[] = {
    MT_FLAG("MappTrack", set_enabled, OR_FILEINFO, "On|Off: track pages served here"),
    MT_TAKE1("MappTrackId", set_track_ids, OR_FILEINFO, "ID[,ID...]: the Mapp track IDs"),
    MT_TAKE1("MappTrackDomain", set_domain, OR_FILEINFO, "https://host[:port][/path] of the track server"),
    MT_TAKE1("MappTrackMode", set_mode, OR_FILEINFO, "async|sync"),
    MT_TAKE1("MappTrackPixelVersion", set_pixel_version, OR_FILEINFO, "the version field of p (default 300)"),
    MT_TAKE1("MappTrackContentId", set_content_id, OR_FILEINFO, "expression: the page's content ID"),
    MT_ITERATE("MappTrackContentIdParams", add_content_id_param, OR_FILEINFO,
               "name...|none: query parameters added to the default page name"),
    MT_ITERATE("MappTrackOwnDomain", add_own_domain, OR_FILEINFO,
               "host-pattern...|none: referrers from these hosts are sent as 1"),
    MT_ITERATE("MappTrackCampaignParams", add_campaign_param, OR_FILEINFO,
               "name...|none: query parameters holding a campaign media code (default wt_mc mc)"),
    // Not in .htaccess: Accept-CH is remembered by the browser for the whole
    // origin, so it is the site's decision, not one directory's (docs/directives.md).
    MT_FLAG("MappTrackClientHints", set_client_hints, RSRC_CONF | ACCESS_CONF,
            "On|Off: ask browsers for high-entropy client hints (Accept-CH)"),
    MT_TAKE12("MappTrackAnonymousCookie", set_anonymous_cookie, OR_FILEINFO,
              "NAME [optout|optin]: the cookie that makes a visitor anonymous (default miCookieOptOut optout)"),
    MT_TAKE2("MappTrackParam", add_param, OR_FILEINFO, "NAME expression: a parameter sent with each hit"),
    MT_TAKE1("MappTrackCondition", set_condition, OR_FILEINFO, "expression: which responses are tracked"),
    MT_TAKE1("MappTrackCustomEverId", set_custom_ever_id, OR_FILEINFO, "expression: the custom ever-ID (ceid)"),
    MT_FLAG("MappTrackCookie", set_cookie_flag, OR_FILEINFO, "On|Off: give new visitors an ever-ID cookie"),
    MT_TAKE1("MappTrackCookieName", set_cookie_name, OR_FILEINFO, "the ever-ID cookie's name"),
    MT_TAKE1("MappTrackCookieDomain", set_cookie_domain, OR_FILEINFO, "the ever-ID cookie's Domain"),
    MT_TAKE1("MappTrackCookieMaxAge", set_cookie_max_age, OR_FILEINFO, "seconds the ever-ID cookie lives"),
    MT_FLAG("MappTrackAnonymizeIP", set_anonymize_ip, OR_FILEINFO, "On|Off: shorten visitor IPs"),
    MT_TAKE1("MappTrackDoNotTrack", set_do_not_track, OR_FILEINFO, "Off|Skip|Anonymous: honour DNT and GPC"),
    MT_TAKE12("MappTrackConsentCookie", set_consent_cookie, OR_FILEINFO, "NAME [regex] | Off: require a consent cookie"),
    MT_TAKE1("MappTrackTimeout", set_timeout, RSRC_CONF, "milliseconds per delivery attempt"),
    MT_TAKE1("MappTrackBatchSize", set_batch_size, RSRC_CONF, "hits per request (1: one GET per hit)"),
    MT_TAKE1("MappTrackBatchDelay", set_batch_delay, RSRC_CONF, "milliseconds a batch may wait to fill"),
    MT_TAKE1("MappTrackOutboundProxy", set_outbound_proxy, RSRC_CONF, "URL of a proxy for outbound requests"),
    MT_TAKE1("MappTrackThreads", set_threads, RSRC_CONF, "delivery threads per child process"),
    MT_TAKE1("MappTrackQueueSize", set_queue_size, RSRC_CONF, "hits held in memory per child process"),
    MT_TAKE1("MappTrackRetries", set_retries, RSRC_CONF, "attempts after the first before a hit is given up"),
    MT_ITERATE("MappTrackAllowDomain", add_allow_domain, RSRC_CONF, "host patterns .htaccess may track to"),
    MT_TAKE1("MappTrackSpoolDir", set_spool_dir, RSRC_CONF, "directory for hits that wait for delivery"),
    MT_TAKE1("MappTrackSpoolMaxSize", set_spool_max_size, RSRC_CONF, "bytes the spool may hold (K/M/G; 0: off)"),
    MT_TAKE1("MappTrackInspectSize", set_inspect_size, RSRC_CONF,
             "hits the mapptrack-inspect handler keeps, server-wide (default 200)"),
    MT_TAKE1("MappTrackRelayMaxLines", set_relay_max_lines, RSRC_CONF, "hit lines one relayed request may carry (413 above)"),
    MT_TAKE1("MappTrackRelayMaxBody", set_relay_max_body, RSRC_CONF, "bytes one relayed request body may have (413 above)"),
    MT_TAKE1("MappTrackMaxWaitingWorkers", set_max_waiting_workers, RSRC_CONF,
             "request workers that may wait on the track server at once (relay, sync mode)"),
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

void* create_dir_config(apr_pool_t* p, char*) {
    auto* c = static_cast<DirConfig*>(apr_pcalloc(p, sizeof(DirConfig)));
#define MAPPTRACK_UNSET(type, name, unset) c->name = unset;
    MAPPTRACK_DIR_FIELDS(MAPPTRACK_UNSET)
#undef MAPPTRACK_UNSET
    c->params = nullptr;
    return c;
}

void* merge_dir_config(apr_pool_t* p, void* base_v, void* add_v) {
    const auto* base = static_cast<const DirConfig*>(base_v);
    const auto* add = static_cast<const DirConfig*>(add_v);
    auto* c = static_cast<DirConfig*>(apr_pcalloc(p, sizeof(DirConfig)));
#define MAPPTRACK_MERGE(type, name, unset) c->name = pick<type>(add->name, base->name, unset);
    MAPPTRACK_DIR_FIELDS(MAPPTRACK_MERGE)
#undef MAPPTRACK_MERGE
    // The regex belongs to the consent cookie named with it, the mode to its cookie.
    if (add->consent_cookie) c->consent_value = add->consent_value;
    if (add->anonymous_cookie) c->anonymous_mode = add->anonymous_mode;
    // Parameters: the parent's, with same-named ones replaced.
    if (!add->params || !base->params) {
        c->params = add->params ? add->params : base->params;
    } else {
        c->params = apr_array_copy(p, base->params);
        for (int i = 0; i < add->params->nelts; ++i) {
            const Param& a = APR_ARRAY_IDX(add->params, i, Param);
            bool replaced = false;
            for (int j = 0; j < c->params->nelts && !replaced; ++j) {
                Param& b = APR_ARRAY_IDX(c->params, j, Param);
                if (!std::strcmp(a.name, b.name)) {
                    b.value = a.value;
                    replaced = true;
                }
            }
            if (!replaced) APR_ARRAY_PUSH(c->params, Param) = a;
        }
    }
    return c;
}

void* create_server_config(apr_pool_t* p, server_rec*) {
    auto* c = static_cast<ServerConfig*>(apr_pcalloc(p, sizeof(ServerConfig)));
#define MAPPTRACK_UNSET(type, name, unset) c->name = unset;
    MAPPTRACK_SERVER_FIELDS(MAPPTRACK_UNSET)
#undef MAPPTRACK_UNSET
    c->allow_domains = nullptr;
    return c;
}

void* merge_server_config(apr_pool_t* p, void* base_v, void* add_v) {
    const auto* base = static_cast<const ServerConfig*>(base_v);
    const auto* add = static_cast<const ServerConfig*>(add_v);
    auto* c = static_cast<ServerConfig*>(apr_pcalloc(p, sizeof(ServerConfig)));
#define MAPPTRACK_MERGE(type, name, unset) c->name = pick<type>(add->name, base->name, unset);
    MAPPTRACK_SERVER_FIELDS(MAPPTRACK_MERGE)
#undef MAPPTRACK_MERGE
    c->allow_domains = add->allow_domains ? add->allow_domains : base->allow_domains;
    return c;
}

namespace {

std::vector<std::string> strings(const apr_array_header_t* a) {
    std::vector<std::string> out;
    for (int i = 0; a && i < a->nelts; ++i) out.emplace_back(APR_ARRAY_IDX(a, i, const char*));
    return out;
}

}  // namespace

std::vector<std::string> content_id_params(const DirConfig* c) { return strings(c->content_id_params); }

OwnDomainRules own_domain_rules(const DirConfig* c) {
    OwnDomainRules rules;
    rules.none = c->own_domains && c->own_domains->nelts == 0;
    rules.patterns = strings(c->own_domains);
    return rules;
}

std::vector<std::string> campaign_params(const DirConfig* c) {
    return c->campaign_params ? strings(c->campaign_params) : default_campaign_params();
}

namespace {

bool consent_regex_matches(const void* regex, std::string_view value) {
    return ap_regexec(static_cast<const ap_regex_t*>(regex), std::string(value).c_str(), 0, nullptr, 0) == 0;
}

}  // namespace

const std::vector<std::string>& track_ids_of(const DirConfig* c) {
    // Never destroyed: no global object may have a destructor (exit order).
    static const std::vector<std::string>* const none = new std::vector<std::string>();
    return c && c->track_id_list ? *c->track_id_list : *none;
}

IdentityRules identity_rules(const DirConfig* c, const std::vector<std::string>* track_ids) {
    IdentityRules rules;
    rules.track_ids = track_ids;
    rules.cookie_name = c->cookie_name ? c->cookie_name : "";
    if (c->anonymous_cookie) {
        rules.anonymous_cookie = c->anonymous_cookie;
        rules.anonymous_mode = AnonymousCookieMode(c->anonymous_mode);
    }
    switch (do_not_track(c)) {
        case DoNotTrack::Off: rules.do_not_track = DoNotTrackRule::Off; break;
        case DoNotTrack::Skip: rules.do_not_track = DoNotTrackRule::Skip; break;
        case DoNotTrack::Anonymous: rules.do_not_track = DoNotTrackRule::Anonymous; break;
    }
    if (c->consent_cookie && *c->consent_cookie) {
        rules.consent_cookie = c->consent_cookie;
        if (c->consent_value) {
            rules.consent_matches = &consent_regex_matches;
            rules.consent_regex = c->consent_value;
        }
    }
    return rules;
}

const char* spool_dir(apr_pool_t* p, const ServerConfig* c) {
    if (spool_max_bytes(c) == 0) return nullptr;
    return c->spool_dir ? c->spool_dir : ap_runtime_dir_relative(p, "mapptrack");
}

const DirConfig* dir_config(const ap_conf_vector_t* per_dir) {
    return static_cast<const DirConfig*>(ap_get_module_config(per_dir, &mapptrack_module));
}

const DirConfig* dir_config(const request_rec* r) { return dir_config(r->per_dir_config); }

const ServerConfig* server_config(const server_rec* s) {
    return static_cast<const ServerConfig*>(ap_get_module_config(s->module_config, &mapptrack_module));
}

int check_config(apr_pool_t*, apr_pool_t*, apr_pool_t* ptemp, server_rec* main_server) {
    int rv = OK;
    if (const char* dir = spool_dir(ptemp, server_config(main_server))) {
        // Everything post_config's prepare_spool_directory would refuse, found
        // without creating or changing anything: configtest, and the first
        // pass of a start, before httpd detaches (a refusal in post_config
        // comes after it, when `-k start` has already exited 0). User is known
        // here: it is set while the configuration is read.
        if (const auto problem = check_spool_directory(dir, ap_unixd_config.user_id)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, main_server,
                         "MT0016: MappTrackSpoolDir %s cannot be used: %s", dir, problem->c_str());
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (server_rec* s = main_server; s; s = s->next) {
        const DirConfig* c = dir_config(s->lookup_defaults);
        if (!c || !enabled(c) || (c->track_ids && c->domain)) continue;
        const char* where = s->defn_name ? apr_psprintf(ptemp, " (%s:%d)", s->defn_name, s->defn_line_number)
                                         : " (main server config)";
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "MT0010: MappTrack On for server %s%s needs %s%s%s", s->server_hostname, where,
                     c->track_ids ? "" : "MappTrackId", !c->track_ids && !c->domain ? " and " : "",
                     c->domain ? "" : "MappTrackDomain");
        rv = HTTP_INTERNAL_SERVER_ERROR;
    }
    return rv;
}

}  // namespace mapptrack::httpd
