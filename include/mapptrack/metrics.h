// Delivery counters of one process. Relaxed atomics: they are statistics.
#pragma once

#include <atomic>
#include <cstdint>

namespace mapptrack {

struct Metrics {
    std::atomic<std::uint64_t> queued{0};            // hits accepted into the queue
    std::atomic<std::uint64_t> dropped_queue_full{0};
    std::atomic<std::uint64_t> delivered{0};         // hits the track server took (2xx)
    std::atomic<std::uint64_t> requests{0};          // HTTP requests made
    std::atomic<std::uint64_t> retries{0};           // repeated attempts
    std::atomic<std::uint64_t> rejected{0};          // hits dropped on a 4xx
    std::atomic<std::uint64_t> failed{0};            // hits given up after the last retry
    std::atomic<std::uint64_t> lost_at_stop{0};      // hits left when the drain deadline passed
    std::atomic<std::uint64_t> invalid{0};           // hits that can never be sent (malformed, refused record), dropped
    std::atomic<std::uint64_t> given_up{0};          // hits for a host that stopped resolving, dropped
    std::atomic<std::uint64_t> not_resent{0};        // hits the track server may have twice already, dropped
    std::atomic<std::uint64_t> spilled{0};           // hits a full queue sent to the spool

    static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
        counter.fetch_add(n, std::memory_order_relaxed);
    }
};

}  // namespace mapptrack
