// The server-wide count of workers waiting on the track server (wait_limit.h).
#include "wait_limit.h"

#include "config.h"

#include <ap_mpm.h>
#include <http_log.h>
#include <apr_shm.h>

APLOG_USE_MODULE(mapptrack);

namespace mapptrack::httpd {
namespace {

// Set in the parent before the children fork; read-only afterwards. A plain
// int in shared memory, changed only with atomic builtins (every process).
int* g_waiting = nullptr;
int g_limit = 0;

}  // namespace

WaitSlot::~WaitSlot() {
    if (counter_) __atomic_sub_fetch(counter_, 1, __ATOMIC_RELAXED);
}

WaitSlot try_wait_slot() noexcept {
    if (!g_waiting) return WaitSlot();  // no counter (it could not be made): never wait
    if (__atomic_add_fetch(g_waiting, 1, __ATOMIC_RELAXED) > g_limit) {
        __atomic_sub_fetch(g_waiting, 1, __ATOMIC_RELAXED);
        return WaitSlot();
    }
    return WaitSlot(g_waiting);
}

int waiting_workers_limit() noexcept { return g_limit; }

apr_status_t create_wait_counter(apr_pool_t* pconf, server_rec* s) {
    g_waiting = nullptr;
    int limit = max_waiting_workers(server_config(s));
    if (limit == kUnset) {
        // A quarter of MaxRequestWorkers: most workers stay free for pages.
        int daemons = 0, threads = 0;
        if (ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons) != APR_SUCCESS || daemons < 1) daemons = 1;
        if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1) threads = 1;
        limit = daemons * threads / 4;
        if (limit < 1) limit = 1;
    }
    g_limit = limit;
    apr_shm_t* shm = nullptr;
    const apr_status_t rv = apr_shm_create(&shm, sizeof(int), nullptr, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "MT0018: no shared memory for the count of waiting workers; the relay and "
                     "sync mode will not wait on the track server (hits are queued)");
        return rv;
    }
    g_waiting = static_cast<int*>(apr_shm_baseaddr_get(shm));
    *g_waiting = 0;
    return APR_SUCCESS;
}

}  // namespace mapptrack::httpd
