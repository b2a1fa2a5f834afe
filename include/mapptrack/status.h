// Server-wide figures: one table in a block of shared memory that every
// child process of the server writes into (lock-free: atomics that are
// address-free across processes) and any child reads for the status page.
// The host makes the block (httpd: an anonymous apr_shm segment in the
// parent, kept across graceful restarts); the table only lays it out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

// Counted per row (VirtualHost and track IDs).
enum class Count : unsigned {
    Pages,           // requests judged pages (tracked, or skipped for a reason other than not-page/unconfigured)
    Queued,          // hits accepted for delivery (queue, or spool when the queue was full)
    Sent,            // hits the track server took (2xx), from any path
    Retried,         // hits sent again after a failed attempt
    Spooled,         // hits written to the spool
    Replayed,        // hits read back from the spool for delivery
    Requests,        // HTTP requests made to the track server
    RelayRequests,   // requests the mapptrack-proxy handler served
    RelayFallbacks,  // of those, answered with the module's own GIF (track server failed)
    kCount
};

// Why hits were dropped (never delivered).
enum class Drop : unsigned {
    QueueFull,         // queue full and no spool took the hit
    SpoolFull,         // the spool was full or unwritable
    Rejected,          // the track server refused them (4xx)
    LostAtStop,        // still in memory when the drain deadline passed
    Invalid,           // can never be sent (malformed, refused spool record)
    Unresolvable,      // the track domain stopped resolving for too long / no configuration sends there
    NotResent,         // the track server may have them twice already
    RetriesExhausted,  // MappTrackRetries used up without a spool
    kCount
};

// Why pages were skipped: the MAPPTRACK=skipped:<reason> outcomes.
enum class Skip : unsigned {
    NotPage,
    Prefetch,
    Optout,
    Unconfigured,
    QueueFull,
    Stopping,
    NoDeliveryThreads,
    TrackServerFailed,
    InvalidRequest,
    kCount
};

// Stable snake_case names, used in JSON keys and Prometheus labels:
// "pages", "queued", …; "queue_full", …; "not_page", "prefetch", …
const char* name(Count c) noexcept;
const char* name(Drop d) noexcept;
const char* name(Skip s) noexcept;
// "skipped:not-page" → Skip::NotPage; nullopt for anything else.
std::optional<Skip> skip_from_outcome(std::string_view outcome) noexcept;

// Upper bounds (seconds) of the delivery latency histogram: the time from a
// hit being queued to the track server's 2xx. One more bucket: +Inf.
inline constexpr double kLatencyBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                            1,     2.5,  5,     10,    30,  60,   300};
inline constexpr std::size_t kLatencyBuckets = sizeof(kLatencyBounds) / sizeof(kLatencyBounds[0]) + 1;

// Row 0 collects what no row could be claimed for (the table is full):
// vhost "(other)", track IDs "".
using RowId = std::uint32_t;
// A child's slot for its gauges; kNoChild when none could be claimed.
using ChildId = std::uint32_t;
inline constexpr ChildId kNoChild = 0xffffffffu;

inline constexpr std::size_t kMaxKey = 127;        // vhost and track IDs are cut to this many bytes
inline constexpr std::size_t kMaxErrorText = 255;  // the last error's text is cut to this

struct StatusRow {
    std::string vhost;
    std::string track_ids;
    std::uint64_t counts[static_cast<unsigned>(Count::kCount)] = {};
    std::uint64_t drops[static_cast<unsigned>(Drop::kCount)] = {};
    std::uint64_t skips[static_cast<unsigned>(Skip::kCount)] = {};
    std::uint64_t latency_buckets[kLatencyBuckets] = {};  // per bucket, not cumulative
    std::uint64_t latency_count = 0;
    std::uint64_t latency_sum_us = 0;
    std::string last_error;       // empty: none yet
    std::int64_t last_error_ms = 0;  // wall clock, ms since the epoch
};

struct ChildGauges {
    int pid = 0;
    std::uint64_t queue_depth = 0;  // hits in this child's queue
    std::uint64_t spool_bytes = 0;  // bytes of this child's spool segments
};

struct StatusSnapshot {
    std::int64_t since_ms = 0;  // when the table was made (the last full start)
    std::vector<StatusRow> rows;        // claimed rows, in claim order; row 0 only when it counted anything
    std::vector<ChildGauges> children;  // live children only
};

// A handle on the table in `memory`; cheap to copy. All members are
// noexcept and safe from any thread of any process that maps the block.
class StatusTable {
public:
    static std::size_t bytes_for(unsigned rows, unsigned children) noexcept;
    // Lays out an empty table (the block need not be zeroed). nullopt if
    // `bytes` is smaller than bytes_for(rows, children).
    static std::optional<StatusTable> create(void* memory, std::size_t bytes, unsigned rows,
                                             unsigned children, std::int64_t now_ms) noexcept;
    // A table create() made in this block (after fork, or in a new
    // generation). nullopt if the block holds no such table.
    static std::optional<StatusTable> attach(void* memory, std::size_t bytes) noexcept;

    // Finds or claims the row for (vhost, track IDs); row 0 when full.
    RowId row(std::string_view vhost, std::string_view track_ids) noexcept;

    void add(RowId row, Count c, std::uint64_t n = 1) noexcept;
    void add(RowId row, Drop d, std::uint64_t n = 1) noexcept;
    void add(RowId row, Skip s, std::uint64_t n = 1) noexcept;
    void latency(RowId row, std::uint64_t micros) noexcept;
    void error(RowId row, std::string_view message, std::int64_t when_ms) noexcept;

    // Gauges: a child claims a slot for its pid (reusing one whose process
    // is gone) and releases it when it exits.
    ChildId child(int pid) noexcept;
    void release(ChildId child) noexcept;
    void set_queue_depth(ChildId child, std::uint64_t hits) noexcept;
    void set_spool_bytes(ChildId child, std::uint64_t bytes) noexcept;

    // A consistent-enough copy (each counter read once; the last error read
    // whole). Children whose process is gone are left out.
    StatusSnapshot snapshot() const;

private:
    explicit StatusTable(void* memory) : base_(static_cast<unsigned char*>(memory)) {}
    unsigned char* base_;
};

}  // namespace mapptrack
