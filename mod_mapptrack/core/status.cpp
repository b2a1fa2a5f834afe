// The server-wide figures' table (status.h). Layout of the block, offsets
// only (each process may map it elsewhere): header, rows, child slots.
#include "mapptrack/status.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>

#include <signal.h>
#include <sys/types.h>

namespace mapptrack {
namespace {

constexpr std::uint64_t kMagic = 0x4d54535441543031ull;  // "MTSTAT01"
constexpr std::uint32_t kLayout = 1;
constexpr unsigned kCounts = static_cast<unsigned>(Count::kCount);
constexpr unsigned kDrops = static_cast<unsigned>(Drop::kCount);
constexpr unsigned kSkips = static_cast<unsigned>(Skip::kCount);

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "counters must be address-free");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "states must be address-free");
static_assert(std::atomic<std::int32_t>::is_always_lock_free, "pids must be address-free");
static_assert(std::atomic<std::int64_t>::is_always_lock_free, "times must be address-free");

enum RowState : std::uint32_t { kFree = 0, kClaiming = 1, kReady = 2 };

struct Header {
    std::uint64_t magic;
    std::uint32_t layout;
    std::uint32_t rows;
    std::uint32_t children;
    std::uint32_t pad;
    std::uint64_t bytes;
    std::int64_t since_ms;
    std::atomic<std::uint32_t> claimed;  // claim order counter
};

struct Row {
    std::atomic<std::uint32_t> state;
    std::atomic<std::uint32_t> order;  // when it was claimed (1, 2, …)
    char vhost[kMaxKey + 1];
    char track_ids[kMaxKey + 1];
    std::atomic<std::uint64_t> counts[kCounts];
    std::atomic<std::uint64_t> drops[kDrops];
    std::atomic<std::uint64_t> skips[kSkips];
    std::atomic<std::uint64_t> buckets[kLatencyBuckets];
    std::atomic<std::uint64_t> latency_count;
    std::atomic<std::uint64_t> latency_sum_us;
    // The last error, under a sequence lock: odd while being written.
    std::atomic<std::uint32_t> error_seq;
    std::atomic<std::int64_t> error_ms;
    std::atomic<std::uint32_t> error_len;
    char error[kMaxErrorText + 1];
};

struct Child {
    std::atomic<std::int32_t> pid;
    std::atomic<std::uint64_t> queue_depth;
    std::atomic<std::uint64_t> spool_bytes;
};

constexpr std::size_t align(std::size_t n) { return (n + 63) & ~std::size_t(63); }

Header* header(unsigned char* base) { return reinterpret_cast<Header*>(base); }
Row* rows(unsigned char* base) { return reinterpret_cast<Row*>(base + align(sizeof(Header))); }
Child* children(unsigned char* base) {
    return reinterpret_cast<Child*>(base + align(sizeof(Header)) + align(sizeof(Row) * header(base)->rows));
}

std::uint64_t hash(std::string_view a, std::string_view b) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : a) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::string_view cut(std::string_view s) { return s.substr(0, std::min(s.size(), kMaxKey)); }

void set_key(char* out, std::string_view s) {
    if (!s.empty()) std::memcpy(out, s.data(), s.size());
    out[s.size()] = '\0';
}

bool same_keys(const Row& row, std::string_view vhost, std::string_view ids) {
    return std::string_view(row.vhost) == vhost && std::string_view(row.track_ids) == ids;
}

bool process_gone(int pid) { return pid > 0 && ::kill(pid, 0) == -1 && errno == ESRCH; }

}  // namespace

const char* name(Count c) noexcept {
    switch (c) {
        case Count::Pages: return "pages";
        case Count::Queued: return "queued";
        case Count::Sent: return "sent";
        case Count::Retried: return "retried";
        case Count::Spooled: return "spooled";
        case Count::Replayed: return "replayed";
        case Count::Requests: return "requests";
        case Count::RelayRequests: return "relay_requests";
        case Count::RelayFallbacks: return "relay_fallbacks";
        case Count::kCount: break;
    }
    return "unknown";
}

const char* name(Drop d) noexcept {
    switch (d) {
        case Drop::QueueFull: return "queue_full";
        case Drop::SpoolFull: return "spool_full";
        case Drop::Rejected: return "rejected";
        case Drop::LostAtStop: return "lost_at_stop";
        case Drop::Invalid: return "invalid";
        case Drop::Unresolvable: return "unresolvable";
        case Drop::NotResent: return "not_resent";
        case Drop::RetriesExhausted: return "retries_exhausted";
        case Drop::kCount: break;
    }
    return "unknown";
}

const char* name(Skip s) noexcept {
    switch (s) {
        case Skip::NotPage: return "not_page";
        case Skip::Prefetch: return "prefetch";
        case Skip::Optout: return "optout";
        case Skip::Unconfigured: return "unconfigured";
        case Skip::QueueFull: return "queue_full";
        case Skip::Stopping: return "stopping";
        case Skip::NoDeliveryThreads: return "no_delivery_threads";
        case Skip::TrackServerFailed: return "track_server_failed";
        case Skip::InvalidRequest: return "invalid_request";
        case Skip::kCount: break;
    }
    return "unknown";
}

std::optional<Skip> skip_from_outcome(std::string_view outcome) noexcept {
    constexpr std::string_view prefix = "skipped:";
    if (outcome.substr(0, prefix.size()) != prefix) return std::nullopt;
    std::string_view reason = outcome.substr(prefix.size());
    for (unsigned i = 0; i < kSkips; ++i) {
        const std::string_view n = name(static_cast<Skip>(i));
        if (n.size() != reason.size()) continue;
        bool same = true;
        for (std::size_t k = 0; k < n.size() && same; ++k) {
            same = n[k] == '_' ? reason[k] == '-' : n[k] == reason[k];  // outcomes spell names with '-'
        }
        if (same) return static_cast<Skip>(i);
    }
    return std::nullopt;
}

std::size_t StatusTable::bytes_for(unsigned rows, unsigned children) noexcept {
    return align(sizeof(Header)) + align(sizeof(Row) * rows) + align(sizeof(Child) * children);
}

std::optional<StatusTable> StatusTable::create(void* memory, std::size_t bytes, unsigned row_count,
                                               unsigned child_count, std::int64_t now_ms) noexcept {
    if (!memory || row_count < 2 || bytes < bytes_for(row_count, child_count)) return std::nullopt;
    auto* base = static_cast<unsigned char*>(memory);
    std::memset(base, 0, bytes_for(row_count, child_count));
    Header* h = new (base) Header{};
    h->layout = kLayout;
    h->rows = row_count;
    h->children = child_count;
    h->bytes = bytes;
    h->since_ms = now_ms;
    Row* r = rows(base);
    for (unsigned i = 0; i < row_count; ++i) new (&r[i]) Row{};
    Child* c = children(base);
    for (unsigned i = 0; i < child_count; ++i) new (&c[i]) Child{};
    set_key(r[0].vhost, "(other)");
    r[0].order.store(0);
    r[0].state.store(kReady);
    // Last: a block is a table only once all of it is laid out.
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = kMagic;
    return StatusTable(memory);
}

std::optional<StatusTable> StatusTable::attach(void* memory, std::size_t bytes) noexcept {
    if (!memory || bytes < sizeof(Header)) return std::nullopt;
    const Header* h = header(static_cast<unsigned char*>(memory));
    if (h->magic != kMagic || h->layout != kLayout || h->rows < 2) return std::nullopt;
    if (bytes_for(h->rows, h->children) > bytes) return std::nullopt;
    return StatusTable(memory);
}

RowId StatusTable::row(std::string_view vhost_in, std::string_view ids_in) noexcept {
    const std::string_view vhost = cut(vhost_in);
    const std::string_view ids = cut(ids_in);
    Header* h = header(base_);
    Row* r = rows(base_);
    const unsigned slots = h->rows - 1;  // row 0 is "(other)"
    const std::uint64_t start = hash(vhost, ids) % slots;
    for (unsigned probe = 0; probe < slots; ++probe) {
        Row& row = r[1 + (start + probe) % slots];
        std::uint32_t state = row.state.load(std::memory_order_acquire);
        if (state == kFree) {
            std::uint32_t expected = kFree;
            if (row.state.compare_exchange_strong(expected, kClaiming, std::memory_order_acq_rel)) {
                set_key(row.vhost, vhost);
                set_key(row.track_ids, ids);
                row.order.store(h->claimed.fetch_add(1) + 1, std::memory_order_relaxed);
                row.state.store(kReady, std::memory_order_release);
                return 1 + static_cast<RowId>((start + probe) % slots);
            }
            state = expected;
        }
        // Another process is writing this row's keys: they are short, so
        // wait for them (bounded: a writer killed midway leaves the row unused).
        for (int spin = 0; state == kClaiming && spin < 100000; ++spin) {
            state = row.state.load(std::memory_order_acquire);
        }
        if (state == kReady && same_keys(row, vhost, ids)) return 1 + static_cast<RowId>((start + probe) % slots);
    }
    return 0;
}

void StatusTable::add(RowId row, Count c, std::uint64_t n) noexcept {
    if (row >= header(base_)->rows || static_cast<unsigned>(c) >= kCounts) return;
    rows(base_)[row].counts[static_cast<unsigned>(c)].fetch_add(n, std::memory_order_relaxed);
}

void StatusTable::add(RowId row, Drop d, std::uint64_t n) noexcept {
    if (row >= header(base_)->rows || static_cast<unsigned>(d) >= kDrops) return;
    rows(base_)[row].drops[static_cast<unsigned>(d)].fetch_add(n, std::memory_order_relaxed);
}

void StatusTable::add(RowId row, Skip s, std::uint64_t n) noexcept {
    if (row >= header(base_)->rows || static_cast<unsigned>(s) >= kSkips) return;
    rows(base_)[row].skips[static_cast<unsigned>(s)].fetch_add(n, std::memory_order_relaxed);
}

void StatusTable::latency(RowId row, std::uint64_t micros) noexcept {
    if (row >= header(base_)->rows) return;
    Row& r = rows(base_)[row];
    std::size_t bucket = kLatencyBuckets - 1;
    const double seconds = static_cast<double>(micros) / 1e6;
    for (std::size_t i = 0; i + 1 < kLatencyBuckets; ++i) {
        if (seconds <= kLatencyBounds[i]) {
            bucket = i;
            break;
        }
    }
    r.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    r.latency_count.fetch_add(1, std::memory_order_relaxed);
    r.latency_sum_us.fetch_add(micros, std::memory_order_relaxed);
}

void StatusTable::error(RowId row, std::string_view message, std::int64_t when_ms) noexcept {
    if (row >= header(base_)->rows) return;
    Row& r = rows(base_)[row];
    std::uint32_t seq = r.error_seq.load(std::memory_order_relaxed);
    // Another writer holds it: this one is not the last error anyway.
    if ((seq & 1) || !r.error_seq.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire)) return;
    const std::size_t n = std::min(message.size(), kMaxErrorText);
    if (n) std::memcpy(r.error, message.data(), n);
    r.error[n] = '\0';
    r.error_len.store(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
    r.error_ms.store(when_ms, std::memory_order_relaxed);
    r.error_seq.store(seq + 2, std::memory_order_release);
}

ChildId StatusTable::child(int pid) noexcept {
    Header* h = header(base_);
    Child* c = children(base_);
    for (unsigned i = 0; i < h->children; ++i) {
        std::int32_t expected = 0;
        if (c[i].pid.compare_exchange_strong(expected, pid)) return i;
    }
    for (unsigned i = 0; i < h->children; ++i) {  // a slot of a child that died without releasing it
        std::int32_t old = c[i].pid.load();
        if (process_gone(old) && c[i].pid.compare_exchange_strong(old, pid)) {
            c[i].queue_depth.store(0);
            c[i].spool_bytes.store(0);
            return i;
        }
    }
    return kNoChild;
}

void StatusTable::release(ChildId id) noexcept {
    if (id >= header(base_)->children) return;
    Child& c = children(base_)[id];
    c.queue_depth.store(0);
    c.spool_bytes.store(0);
    c.pid.store(0);
}

void StatusTable::set_queue_depth(ChildId id, std::uint64_t hits) noexcept {
    if (id < header(base_)->children) children(base_)[id].queue_depth.store(hits, std::memory_order_relaxed);
}

void StatusTable::set_spool_bytes(ChildId id, std::uint64_t bytes) noexcept {
    if (id < header(base_)->children) children(base_)[id].spool_bytes.store(bytes, std::memory_order_relaxed);
}

StatusSnapshot StatusTable::snapshot() const {
    const Header* h = header(base_);
    StatusSnapshot out;
    out.since_ms = h->since_ms;
    Row* r = rows(base_);
    std::vector<std::pair<std::uint32_t, StatusRow>> found;
    for (unsigned i = 0; i < h->rows; ++i) {
        Row& row = r[i];
        if (row.state.load(std::memory_order_acquire) != kReady) continue;
        StatusRow s;
        s.vhost = row.vhost;
        s.track_ids = row.track_ids;
        bool any = false;
        for (unsigned k = 0; k < kCounts; ++k) any |= (s.counts[k] = row.counts[k].load(std::memory_order_relaxed)) != 0;
        for (unsigned k = 0; k < kDrops; ++k) any |= (s.drops[k] = row.drops[k].load(std::memory_order_relaxed)) != 0;
        for (unsigned k = 0; k < kSkips; ++k) any |= (s.skips[k] = row.skips[k].load(std::memory_order_relaxed)) != 0;
        for (std::size_t k = 0; k < kLatencyBuckets; ++k) s.latency_buckets[k] = row.buckets[k].load(std::memory_order_relaxed);
        s.latency_count = row.latency_count.load(std::memory_order_relaxed);
        s.latency_sum_us = row.latency_sum_us.load(std::memory_order_relaxed);
        for (int attempt = 0; attempt < 100; ++attempt) {
            const std::uint32_t before = row.error_seq.load(std::memory_order_acquire);
            if (before & 1) continue;
            const std::uint32_t n = std::min<std::uint32_t>(row.error_len.load(std::memory_order_relaxed),
                                                            static_cast<std::uint32_t>(kMaxErrorText));
            std::string text(row.error, n);
            const std::int64_t when = row.error_ms.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (row.error_seq.load(std::memory_order_relaxed) == before) {
                s.last_error = std::move(text);
                s.last_error_ms = when;
                break;
            }
        }
        any |= !s.last_error.empty() || s.latency_count != 0;
        if (i == 0 && !any) continue;  // "(other)" only when it counted something
        found.emplace_back(i == 0 ? 0 : row.order.load(std::memory_order_relaxed), std::move(s));
    }
    std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [order, s] : found) out.rows.push_back(std::move(s));
    const Child* c = children(base_);
    for (unsigned i = 0; i < h->children; ++i) {
        const int pid = c[i].pid.load();
        if (pid <= 0 || process_gone(pid)) continue;
        out.children.push_back(ChildGauges{pid, c[i].queue_depth.load(), c[i].spool_bytes.load()});
    }
    return out;
}

}  // namespace mapptrack
