// Configuration: the directive table, per-directory and per-server records
// with their create/merge functions, and getters that apply the defaults.
#pragma once

#include <string>
#include <vector>

#include "mapptrack/defaults.h"
#include "mapptrack/identity.h"
#include "mapptrack/referrer.h"

#include <httpd.h>
#include <http_config.h>
#include <ap_expr.h>

namespace mapptrack::httpd {

inline constexpr int kUnset = -1;

enum class Mode { Async = 0, Sync = 1 };
enum class DoNotTrack { Off = 0, Skip = 1, Anonymous = 2 };

struct Param {
    const char* name;
    ap_expr_info_t* value;
};

// Every per-directory field once: type, name, unset value. Create and merge
// are generated from this list, so no field can be forgotten.
#define MAPPTRACK_DIR_FIELDS(X)                     \
    X(int, enabled, kUnset)                         \
    X(const char*, track_ids, nullptr)              \
    X(const std::vector<std::string>*, track_id_list, nullptr) \
    X(const char*, domain, nullptr)                 \
    X(int, mode, kUnset)                            \
    X(int, pixel_version, kUnset)                   \
    X(ap_expr_info_t*, content_id, nullptr)         \
    X(ap_expr_info_t*, condition, nullptr)          \
    X(ap_expr_info_t*, custom_ever_id, nullptr)     \
    X(int, cookie, kUnset)                          \
    X(const char*, cookie_name, nullptr)            \
    X(const char*, cookie_domain, nullptr)          \
    X(long, cookie_max_age, kUnset)                 \
    X(int, anonymize_ip, kUnset)                    \
    X(int, do_not_track, kUnset)                    \
    X(const char*, consent_cookie, nullptr)         \
    X(ap_regex_t*, consent_value, nullptr)          \
    X(apr_array_header_t*, content_id_params, nullptr) \
    X(apr_array_header_t*, own_domains, nullptr)    \
    X(apr_array_header_t*, campaign_params, nullptr) \
    X(int, client_hints, kUnset)                    \
    X(const char*, anonymous_cookie, nullptr)       \
    X(int, anonymous_mode, kUnset)

// The arrays of const char* (content_id_params sorted by name, duplicates
// removed; own_domains empty for `MappTrackOwnDomain none`) are replaced as a
// whole by an inner scope. An empty campaign_params array is `none`.
struct DirConfig {
#define MAPPTRACK_DECLARE(type, name, unset) type name;
    MAPPTRACK_DIR_FIELDS(MAPPTRACK_DECLARE)
#undef MAPPTRACK_DECLARE
    apr_array_header_t* params;  // of Param; merged by name
};

#define MAPPTRACK_SERVER_FIELDS(X)                  \
    X(long, timeout_ms, kUnset)                     \
    X(int, batch_size, kUnset)                      \
    X(long, batch_delay_ms, kUnset)                 \
    X(const char*, outbound_proxy, nullptr)         \
    X(int, threads, kUnset)                         \
    X(long, queue_size, kUnset)                     \
    X(int, retries, kUnset)                         \
    X(const char*, spool_dir, nullptr)              \
    X(long long, spool_max_bytes, kUnset)           \
    X(long, relay_max_lines, kUnset)                \
    X(long, relay_max_body, kUnset)                 \
    X(int, max_waiting_workers, kUnset)            \
    X(long, inspect_size, kUnset)

struct ServerConfig {
#define MAPPTRACK_DECLARE(type, name, unset) type name;
    MAPPTRACK_SERVER_FIELDS(MAPPTRACK_DECLARE)
#undef MAPPTRACK_DECLARE
    apr_array_header_t* allow_domains;  // of const char*; main server only
};

extern const command_rec directives[];

void* create_dir_config(apr_pool_t* p, char* dir);
void* merge_dir_config(apr_pool_t* p, void* base, void* add);
void* create_server_config(apr_pool_t* p, server_rec* s);
void* merge_server_config(apr_pool_t* p, void* base, void* add);

const DirConfig* dir_config(const request_rec* r);
const DirConfig* dir_config(const ap_conf_vector_t* per_dir);
const ServerConfig* server_config(const server_rec* s);

// Getters with the defaults of docs/directives.md.
inline bool enabled(const DirConfig* c) { return c->enabled == 1; }
inline Mode mode(const DirConfig* c) { return c->mode == kUnset ? Mode::Async : Mode(c->mode); }
inline int pixel_version(const DirConfig* c) { return c->pixel_version == kUnset ? defaults::kPixelVersion : c->pixel_version; }
inline bool set_cookie(const DirConfig* c) { return c->cookie != 0; }
inline long cookie_max_age(const DirConfig* c) { return c->cookie_max_age == kUnset ? defaults::kCookieMaxAge : c->cookie_max_age; }
inline bool anonymize_ip(const DirConfig* c) { return c->anonymize_ip == 1; }
inline DoNotTrack do_not_track(const DirConfig* c) {
    return c->do_not_track == kUnset ? DoNotTrack::Off : DoNotTrack(c->do_not_track);
}
inline bool client_hints(const DirConfig* c) { return c->client_hints == 1; }

// The list-valued settings as the core takes them. Copies: called
// once per tracked request, cheap beside the hit itself.
std::vector<std::string> content_id_params(const DirConfig* c);
OwnDomainRules own_domain_rules(const DirConfig* c);
std::vector<std::string> campaign_params(const DirConfig* c);  // default wt_mc, mc
// MappTrackId, parsed once when the configuration is read (empty when unset).
const std::vector<std::string>& track_ids_of(const DirConfig* c);
// track_ids: kept by the caller (IdentityRules points at it).
IdentityRules identity_rules(const DirConfig* c, const std::vector<std::string>* track_ids);

inline unsigned timeout_ms(const ServerConfig* c) { return c->timeout_ms == kUnset ? defaults::kTimeoutMs : unsigned(c->timeout_ms); }
inline unsigned batch_size(const ServerConfig* c) { return c->batch_size == kUnset ? defaults::kBatchSize : unsigned(c->batch_size); }
inline unsigned batch_delay_ms(const ServerConfig* c) { return c->batch_delay_ms == kUnset ? defaults::kBatchDelayMs : unsigned(c->batch_delay_ms); }
inline unsigned threads(const ServerConfig* c) { return c->threads == kUnset ? defaults::kThreads : unsigned(c->threads); }
inline unsigned long queue_size(const ServerConfig* c) { return c->queue_size == kUnset ? defaults::kQueueSize : static_cast<unsigned long>(c->queue_size); }
inline unsigned retries(const ServerConfig* c) { return c->retries == kUnset ? defaults::kRetries : unsigned(c->retries); }
inline unsigned long long spool_max_bytes(const ServerConfig* c) {
    return c->spool_max_bytes == kUnset ? defaults::kSpoolMaxBytes : static_cast<unsigned long long>(c->spool_max_bytes);
}
inline unsigned long relay_max_lines(const ServerConfig* c) { return c->relay_max_lines == kUnset ? defaults::kRelayMaxLines : static_cast<unsigned long>(c->relay_max_lines); }
inline unsigned long relay_max_body(const ServerConfig* c) { return c->relay_max_body == kUnset ? defaults::kRelayMaxBody : static_cast<unsigned long>(c->relay_max_body); }
inline unsigned inspect_size(const ServerConfig* c) { return c->inspect_size == kUnset ? defaults::kInspectSize : unsigned(c->inspect_size); }
// MappTrackMaxWaitingWorkers; kUnset: a quarter of MaxRequestWorkers (wait_limit.cpp).
inline int max_waiting_workers(const ServerConfig* c) { return c->max_waiting_workers; }
// MappTrackSpoolDir, default <DefaultRuntimeDir>/mapptrack; nullptr when the spool is off.
const char* spool_dir(apr_pool_t* p, const ServerConfig* c);

// Startup check (also run by `apachectl configtest`): tracking switched on
// for a server without a track ID or domain is a configuration error.
int check_config(apr_pool_t* pconf, apr_pool_t* plog, apr_pool_t* ptemp, server_rec* s);

}  // namespace mapptrack::httpd

extern "C" module AP_MODULE_DECLARE_DATA mapptrack_module;
