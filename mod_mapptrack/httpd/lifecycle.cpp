// post_config (parent): curl_global_init; child_init: start the delivery
// threads; a pre-cleanup on the child pool stops them with a deadline.
#include <curl/curl.h>

#include <atomic>
#include <string>

#include "mapptrack/dispatcher.h"
#include "mapptrack/transport.h"

#include "config.h"
#include "guard.h"
#include "known_endpoints.h"
#include "lifecycle.h"
#include "shared_memory.h"
#include "wait_limit.h"

#include <http_core.h>
#include <http_log.h>
#include <ap_mpm.h>
#include <unixd.h>
#include <apr_file_info.h>
#include <unistd.h>
#include <mpm_common.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

// A plain pointer: no global object with a destructor may exist (exit order).
std::atomic<Dispatcher*> g_dispatcher{nullptr};
std::atomic<TransportPool*> g_transport_pool{nullptr};
Spool* g_spool = nullptr;
server_rec* g_main_server = nullptr;

// The core's messages, logged with their own call site (not this line).
void log_to_httpd(void*, LogLevel level, const std::string& message, const char* file, int line) noexcept {
    int ap_level = APLOG_ERR;
    switch (level) {
        case LogLevel::Error: ap_level = APLOG_ERR; break;
        case LogLevel::Warn: ap_level = APLOG_WARNING; break;
        case LogLevel::Notice: ap_level = APLOG_NOTICE; break;
        case LogLevel::Info: ap_level = APLOG_INFO; break;
        case LogLevel::Debug: ap_level = APLOG_DEBUG; break;
    }
    ap_log_error_(file, line, APLOG_MODULE_INDEX, ap_level, 0, g_main_server, "%s", message.c_str());
}

apr_status_t cleanup_curl(void*) {
    curl_global_cleanup();
    return APR_SUCCESS;
}

int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* s) {
    return guarded(
        [&] {
            // In both passes: the first runs before httpd detaches, so that a
            // refusal still fails `apache2 -k start` (check_config found what it
            // could without creating anything; only making it can find the
            // rest). The second pass finds the directory made.
            if (const char* dir = spool_dir(ptemp, server_config(s))) {
                // Made or checked here, as root, for the children that run as
                // User: never through a symlink, never shared with others.
                if (const auto problem = prepare_spool_directory(dir, ap_unixd_config.user_id,
                                                                 ap_unixd_config.group_id)) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "MT0019: MappTrackSpoolDir %s cannot be used: %s",
                                 dir, problem->c_str());
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
            // Otherwise the first pass only checks the configuration.
            if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
            // Single-threaded here, before any child exists; once per generation,
            // undone with it (the module, and with it libcurl, may be unloaded).
            const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
            if (rc != CURLE_OK) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "MT0011: libcurl failed to initialise: %s",
                             curl_easy_strerror(rc));
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            apr_pool_cleanup_register(pconf, nullptr, cleanup_curl, apr_pool_cleanup_null);
            create_wait_counter(pconf, s);
            attach_shared_memory(pconf, s);  // without it, tracking goes on without figures (logged)
            const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
            if (!(info->features & CURL_VERSION_ASYNCHDNS)) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                             "MT0012: libcurl %s resolves names synchronously; a slow DNS server "
                             "can hold a delivery thread up to MappTrackTimeout",
                             info->version);
            }
            return OK;
        },
        [&](const char* what) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "MT0013: post_config failed: %s", what);
            return HTTP_INTERNAL_SERVER_ERROR;
        });
}

apr_status_t stop_dispatcher(void*) {
    guarded(
        [] {
            const bool stopped = Dispatcher::stop(g_dispatcher.exchange(nullptr));
            delete g_transport_pool.exchange(nullptr);
            // Closing the spool's files releases their locks: another process
            // may then adopt them. Left open if a thread may still write.
            if (stopped) delete g_spool;
            g_spool = nullptr;
            return 0;
        },
        [](const char*) { return 0; });
    return APR_SUCCESS;
}

// Graceful: old children may take their time, 5 s to drain. Otherwise httpd
// warns after 3 s and kills after 9 s, so drain for at most 2 s.
void child_stopping(apr_pool_t*, int graceful) {
    if (Dispatcher* d = dispatcher()) {
        d->set_drain_deadline(std::chrono::milliseconds(graceful ? 5000 : 2000));
    }
}

void child_init(apr_pool_t* pchild, server_rec* s) {
    guarded(
        [&] {
            g_main_server = s;
            const ServerConfig* conf = server_config(s);
            DispatcherOptions options;
            options.threads = threads(conf);
            options.queue_capacity = queue_size(conf);
            options.retries = retries(conf);
            options.resolve = make_endpoint_resolver(s);
            options.status = status_table();
            options.debug_log = APLOG_IS_LEVEL(s, APLOG_DEBUG);
            if (const char* dir = spool_dir(pchild, conf)) {
                SpoolOptions spool;
                spool.dir = dir;
                spool.max_bytes = spool_max_bytes(conf);
                std::string error;
                // Kept as a plain pointer: a global with a destructor would run at exit().
                g_spool = Spool::open(spool, Logger{&log_to_httpd, nullptr}, &error).release();
                if (!g_spool) {
                    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                                 "MT0017: the spool cannot be used (%s); hits that cannot be delivered "
                                 "will be lost",
                                 error.c_str());
                }
            }
            options.spool = g_spool;
            CurlTransportOptions transport;
            transport.user_agent = "mod_mapptrack/" MAPPTRACK_VERSION;
            g_transport_pool.store(new TransportPool(transport, 64));
            TransportFactory factory = [transport](const std::atomic<bool>* abort) {
                CurlTransportOptions with_abort = transport;
                with_abort.abort = abort;
                return make_curl_transport(with_abort);
            };
            Dispatcher::Handle d = Dispatcher::start(options, std::move(factory), Logger{&log_to_httpd, nullptr});
            // Pre-cleanup: runs before pchild's sub-pools and other cleanups go.
            apr_pool_pre_cleanup_register(pchild, nullptr, stop_dispatcher);
            if (!d) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                             "MT0014: delivery threads could not start in this child; its pages are "
                             "not tracked");
                return 0;
            }
            g_dispatcher.store(d.release());  // stop_dispatcher stops it
            return 0;
        },
        [&](const char* what) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "MT0015: child_init failed: %s", what);
            return 0;
        });
}

}  // namespace

Dispatcher* dispatcher() noexcept { return g_dispatcher.load(std::memory_order_acquire); }

TransportPool* transport_pool() noexcept { return g_transport_pool.load(std::memory_order_acquire); }

void register_lifecycle_hooks() {
    ap_hook_check_config(check_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(child_stopping, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace mapptrack::httpd
