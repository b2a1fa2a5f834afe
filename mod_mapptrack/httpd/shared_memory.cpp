// Anonymous apr_shm segments, made once per server start in the parent and
// inherited by every child through fork. Chosen over mod_slotmem_shm: the
// module would depend on another module being loaded, and slotmem's fixed
// slots of one size fit neither the keyed rows nor the inspector's ring.
#include "shared_memory.h"

#include <new>
#include <string>

#include "mapptrack/log.h"

#include "config.h"
#include "guard.h"

#include <ap_mpm.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_log.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

// Plain pointers into the process pool: no global object with a destructor.
StatusTable* g_status = nullptr;
InspectStore* g_inspect = nullptr;

constexpr const char* kStatusKey = "mapptrack-status-shm";
constexpr const char* kInspectKey = "mapptrack-inspect-shm";
constexpr unsigned kRows = 1024;

// A segment of the process pool: found again in a later generation by key.
apr_shm_t* find_segment(apr_pool_t* process_pool, const char* key) {
    void* data = nullptr;
    apr_pool_userdata_get(&data, key, process_pool);
    return static_cast<apr_shm_t*>(data);
}

apr_shm_t* make_segment(apr_pool_t* process_pool, const char* key, apr_size_t bytes, server_rec* s,
                        const char* what) {
    apr_shm_t* shm = nullptr;
    const apr_status_t rv = apr_shm_create(&shm, bytes, nullptr, process_pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "MT0401: no shared memory for %s (%" APR_SIZE_T_FMT " bytes); it is not kept", what,
                     bytes);
        return nullptr;
    }
    apr_pool_userdata_set(shm, key, apr_pool_cleanup_null, process_pool);
    return shm;
}

void drop_segment(apr_pool_t* process_pool, const char* key, apr_shm_t* shm) {
    apr_pool_userdata_set(nullptr, key, apr_pool_cleanup_null, process_pool);
    apr_shm_destroy(shm);
}

// Room for every child of this generation and of one still stopping.
unsigned child_slots() {
    int limit = 0;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS || limit < 1) limit = 16;
    return static_cast<unsigned>(limit) * 2 + 16;
}

bool attach_status(apr_pool_t* process_pool, server_rec* s) {
    apr_shm_t* shm = find_segment(process_pool, kStatusKey);
    std::optional<StatusTable> table;
    if (shm) table = StatusTable::attach(apr_shm_baseaddr_get(shm), apr_shm_size_get(shm));
    if (!table) {
        const unsigned children = child_slots();
        const std::size_t bytes = StatusTable::bytes_for(kRows, children);
        if (shm) drop_segment(process_pool, kStatusKey, shm);
        shm = make_segment(process_pool, kStatusKey, bytes, s, "the status figures");
        if (!shm) return false;
        table = StatusTable::create(apr_shm_baseaddr_get(shm), apr_shm_size_get(shm), kRows, children, now_ms());
        if (!table) return false;
    }
    g_status = new (apr_palloc(process_pool, sizeof(StatusTable))) StatusTable(*table);
    return true;
}

bool attach_inspect(apr_pool_t* process_pool, server_rec* s) {
    const unsigned hits = inspect_size(server_config(s));
    const std::size_t bytes = InspectStore::bytes_for(hits);
    apr_shm_t* shm = find_segment(process_pool, kInspectKey);
    std::optional<InspectStore> store;
    // A new MappTrackInspectSize makes a new ring (the old hits go).
    if (shm && apr_shm_size_get(shm) == bytes) {
        store = InspectStore::attach(apr_shm_baseaddr_get(shm), apr_shm_size_get(shm));
    }
    if (!store) {
        if (shm) drop_segment(process_pool, kInspectKey, shm);
        shm = make_segment(process_pool, kInspectKey, bytes, s, "the inspector's hits");
        if (!shm) return false;
        store = InspectStore::create(apr_shm_baseaddr_get(shm), apr_shm_size_get(shm), hits);
        if (!store) return false;
    }
    g_inspect = new (apr_palloc(process_pool, sizeof(InspectStore))) InspectStore(*store);
    return true;
}

}  // namespace

bool attach_shared_memory(apr_pool_t*, server_rec* s) {
    apr_pool_t* process_pool = s->process->pool;
    g_status = nullptr;
    g_inspect = nullptr;
    const bool status = attach_status(process_pool, s);
    const bool inspect = attach_inspect(process_pool, s);
    return status && inspect;
}

StatusTable* status_table() noexcept { return g_status; }
InspectStore* inspect_store() noexcept { return g_inspect; }

RowId status_row(const server_rec* s, const char* track_ids) noexcept {
    if (!g_status || !s) return 0;
    char vhost[160];
    const char* name = s->server_hostname ? s->server_hostname : "";
    if (s->port) {
        apr_snprintf(vhost, sizeof vhost, "%s:%u", name, static_cast<unsigned>(s->port));
    } else {
        apr_snprintf(vhost, sizeof vhost, "%s", name);
    }
    return g_status->row(vhost, track_ids ? track_ids : "");
}

void count(const server_rec* s, const char* track_ids, Count c, std::uint64_t n) noexcept {
    if (g_status) g_status->add(status_row(s, track_ids), c, n);
}

void count_outcome(const server_rec* s, const char* track_ids, const char* outcome) noexcept {
    if (!g_status || !outcome) return;
    if (const auto skip = skip_from_outcome(outcome)) g_status->add(status_row(s, track_ids), *skip);
}

}  // namespace mapptrack::httpd
