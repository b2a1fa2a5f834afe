// The inspector answers as the track server does (the GIF for a GET, 200
// for a batch), so the module and the pixel behave exactly as in production.
// Cookies: only Mapp's are kept, as only Mapp's ever leave the server.
#include "inspect_handler.h"

#include <cstring>
#include <string>
#include <string_view>

#include "mapptrack/cookies.h"
#include "mapptrack/inspect_page.h"
#include "mapptrack/log.h"
#include "mapptrack/relay.h"

#include "guard.h"
#include "request_body.h"
#include "request_headers.h"
#include "shared_memory.h"

#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

constexpr const char* kHandler = "mapptrack-inspect";
// A batch as the module sends it stays under 1 MiB; a little more is accepted.
constexpr std::size_t kMaxBody = (1 << 20) + (64 << 10);

struct HitPath {
    std::string ids;
    std::string file;  // "wt", "wt.pl", "wtXXXX", "batch"
};

// /…/{ids}/{file}: ids are digits and commas, file is wt… or batch.
bool parse_hit_path(std::string_view uri, HitPath& out) {
    const std::size_t slash = uri.rfind('/');
    if (slash == std::string_view::npos || slash == 0) return false;
    const std::string_view file = uri.substr(slash + 1);
    const std::size_t before = uri.rfind('/', slash - 1);
    if (before == std::string_view::npos) return false;
    const std::string_view ids = uri.substr(before + 1, slash - before - 1);
    if (ids.empty() || ids.find_first_not_of("0123456789,") != std::string_view::npos) return false;
    const bool wt = file.size() >= 2 && file.substr(0, 2) == "wt" &&
                    file.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") == std::string_view::npos;
    if (!wt && file != "batch") return false;
    out.ids.assign(ids);
    out.file.assign(file);
    return true;
}

void add_safety_headers(request_rec* r) {
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->err_headers_out, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
}

int answer(request_rec* r, const char* type, std::string_view body) {
    ap_set_content_type(r, type);
    ap_set_content_length(r, static_cast<apr_off_t>(body.size()));
    if (!r->header_only && !body.empty()) ap_rwrite(body.data(), static_cast<int>(body.size()), r);
    return OK;
}

std::string mapp_cookies(request_rec* r) {
    return mapp_cookie_header(parse_cookie_header(cookie_header(r)));
}

int take_hit(request_rec* r, InspectStore& store, const HitPath& path) {
    const std::int64_t now = now_ms();
    if (path.file != "batch") {
        if (r->method_number != M_GET) return HTTP_METHOD_NOT_ALLOWED;
        if (r->header_only) return answer(r, "image/gif", transparent_gif());
        ap_discard_request_body(r);
        std::string line = path.file;
        if (r->args) line.append("?").append(r->args);
        store.add(path.ids, line, mapp_cookies(r), "GET", now);
        return answer(r, "image/gif", transparent_gif());
    }
    if (r->method_number != M_POST) return HTTP_METHOD_NOT_ALLOWED;
    std::string body;
    const int rc = read_request_body(r, kMaxBody, body);
    if (rc != OK) return rc;
    std::size_t start = 0;
    while (start <= body.size()) {
        std::size_t end = body.find('\n', start);
        if (end == std::string::npos) end = body.size();
        std::string_view line(body.data() + start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) store.add(path.ids, line, {}, "POST", now);
        start = end + 1;
    }
    return answer(r, "text/plain; charset=utf-8", "");
}

int show(request_rec* r, InspectStore& store) {
    if (r->method_number != M_GET) return HTTP_METHOD_NOT_ALLOWED;
    ap_discard_request_body(r);
    const std::vector<InspectedEntry> entries = inspect_entries(store.recent(static_cast<std::size_t>(-1)));
    const std::string args = r->args ? std::string("&") + r->args + "&" : std::string();
    if (args.find("&format=json&") != std::string::npos) {
        return answer(r, "application/json", inspect_json(entries));
    }
    return answer(r, "text/html; charset=utf-8", inspect_html(entries, now_ms()));
}

int inspect_handler(request_rec* r) {
    if (!r->handler || std::strcmp(r->handler, kHandler)) return DECLINED;
    return guarded(
        [&] {
            add_safety_headers(r);
            InspectStore* store = inspect_store();
            if (!store) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              "MT0405: %s keeps no hits: shared memory could not be made at start (MT0401)",
                              kHandler);
                return HTTP_SERVICE_UNAVAILABLE;
            }
            HitPath path;
            if (parse_hit_path(r->uri, path)) {
                ap_allow_standard_methods(r, REPLACE_ALLOW, path.file == "batch" ? M_POST : M_GET, -1);
                return take_hit(r, *store, path);
            }
            ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
            return show(r, *store);
        },
        [&](const char* what) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MT0406: inspector failed: %s", what);
            return HTTP_INTERNAL_SERVER_ERROR;
        });
}

// Like the relay, the inspector serves no file: keep mod_dir from redirecting.
int inspect_fixups(request_rec* r) {
    if (r->handler && !std::strcmp(r->handler, kHandler) && r->finfo.filetype == APR_DIR) {
        r->finfo.filetype = APR_NOFILE;
    }
    return DECLINED;
}

}  // namespace

void register_inspect_hooks() {
    ap_hook_fixups(inspect_fixups, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_handler(inspect_handler, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace mapptrack::httpd
