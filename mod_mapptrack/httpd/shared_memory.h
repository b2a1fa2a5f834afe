// The server-wide figures and the inspector's hits live in anonymous shared
// memory made by the parent in post_config. The segments hang off the
// process pool, so graceful restarts keep them (and old-generation children
// keep writing into the same figures); a full stop ends them.
#pragma once

#include "mapptrack/inspect_store.h"
#include "mapptrack/status.h"

#include <httpd.h>

namespace mapptrack::httpd {

// post_config, second pass: finds the segments of an earlier generation or
// makes them. Logs and returns false when shared memory cannot be had (the
// module then tracks without figures).
bool attach_shared_memory(apr_pool_t* pconf, server_rec* s);

StatusTable* status_table() noexcept;    // nullptr without shared memory
InspectStore* inspect_store() noexcept;  // nullptr without shared memory

// The row for a server and a track-ID list ("host:port" as the vhost).
RowId status_row(const server_rec* s, const char* track_ids) noexcept;

// Counting shorthands for the glue; no-ops without shared memory.
void count(const server_rec* s, const char* track_ids, Count c, std::uint64_t n = 1) noexcept;
void count_outcome(const server_rec* s, const char* track_ids, const char* outcome) noexcept;

}  // namespace mapptrack::httpd
