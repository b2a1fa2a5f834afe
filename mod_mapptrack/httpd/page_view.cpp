#include "page_view.h"

#include "mapptrack/log.h"
#include "mapptrack/page_rule.h"
#include "mapptrack/prefetch.h"

#include "request_headers.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
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

}  // namespace

bool is_prefetch_request(const request_rec* r) {
    return is_prefetch(header_or_empty(r, "Sec-Purpose"), header_or_empty(r, "Purpose"), header_or_empty(r, "X-Moz"));
}

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
                          conf->condition->filename ? conf->condition->filename : "?", conf->condition->line_number,
                          r->uri ? r->uri : "?", err);
        }
        return false;
    }
    return result > 0;
}

}  // namespace mapptrack::httpd
