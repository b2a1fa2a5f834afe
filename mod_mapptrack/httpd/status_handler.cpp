// The figures are read from shared memory, so any child answers for the
// whole server. They reveal traffic volumes: protect the location like
// server-status (docs/operations.md).
#include "status_handler.h"

#include <cstring>
#include <string>

#include "mapptrack/log.h"
#include "mapptrack/status_format.h"

#include "guard.h"
#include "shared_memory.h"

#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>
#include <scoreboard.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

constexpr const char* kHandler = "mapptrack-status";

// ?format=prometheus (or json); anything else is the default.
bool wants(const request_rec* r, const char* format) {
    if (!r->args) return false;
    const std::string args = std::string("&") + r->args + "&";
    return args.find(std::string("&format=") + format + "&") != std::string::npos;
}

int answer(request_rec* r, const char* type, const std::string& body) {
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, static_cast<apr_off_t>(body.size()));
    if (!r->header_only) ap_rwrite(body.data(), static_cast<int>(body.size()), r);
    return OK;
}

int status_handler(request_rec* r) {
    if (!r->handler || std::strcmp(r->handler, kHandler)) return DECLINED;
    return guarded(
        [&] {
            ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
            if (r->method_number != M_GET) return HTTP_METHOD_NOT_ALLOWED;
            const int discard = ap_discard_request_body(r);
            if (discard != OK) return discard;
            StatusTable* table = status_table();
            if (!table) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              "MT0402: %s has no figures: shared memory could not be made at start "
                              "(MT0401)", kHandler);
                return HTTP_SERVICE_UNAVAILABLE;
            }
            const StatusSnapshot snapshot = table->snapshot();
            if (wants(r, "prometheus")) {
                return answer(r, "text/plain; version=0.0.4; charset=utf-8", status_prometheus(snapshot));
            }
            return answer(r, "application/json", status_json(snapshot, now_ms()));
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0403: status page failed: %s", what);
            return HTTP_INTERNAL_SERVER_ERROR;
        });
}

// mod_status's page: with ExtendedStatus On, as mod_ssl and mod_cache add theirs.
int status_section(request_rec* r, int flags) {
    if (!ap_extended_status) return OK;
    return guarded(
        [&] {
            StatusTable* table = status_table();
            if (!table) return OK;
            const StatusSnapshot snapshot = table->snapshot();
            const std::string text =
                (flags & AP_STATUS_SHORT) ? status_auto(snapshot) : status_html(snapshot, now_ms());
            ap_rwrite(text.data(), static_cast<int>(text.size()), r);
            return OK;
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0404: mod_status section failed: %s", what);
            return OK;
        });
}

}  // namespace

void register_status_hooks() {
    ap_hook_handler(status_handler, nullptr, nullptr, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace mapptrack::httpd
