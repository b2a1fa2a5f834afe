// The drain at stop: what the delivery threads could not deliver before the
// deadline (queued, or parked without a spool) goes to the spool for the
// next start, or is counted and logged as lost. Never waits on a lock for
// long: a thread that hangs may hold one.
#include <apr_time.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "mapptrack/dispatcher.h"

namespace mapptrack {

void Dispatcher::drain_leftovers(std::int64_t deadline_ms) noexcept {
    std::vector<Delivery> left;
    try {
        for (auto& q : queues_) {
            std::vector<Delivery> some = q->take_all(std::chrono::milliseconds(100));
            for (Delivery& x : some) left.push_back(std::move(x));
        }
        std::unique_lock<std::mutex> lock(parked_mutex_, std::defer_lock);
        const std::int64_t until = now_ms() + 100;
        while (!lock.try_lock() && now_ms() < until) apr_sleep(apr_time_from_msec(1));
        if (lock.owns_lock()) {
            for (Delivery& x : parked_) left.push_back(std::move(x));
            parked_.clear();
        }
    } catch (...) {
    }
    const std::size_t unknown = queued_now();  // could not be taken (lock held)
    if (!left.empty() || unknown > 0) {
        const bool spooled = !left.empty() && to_spool(left, 200);
        const std::size_t lost = (spooled ? 0 : left.size()) + unknown;
        Metrics::add(metrics_.lost_at_stop, lost);
        if (spooled) {
            tally(left, Count::Spooled);
        } else {
            tally(left, Drop::LostAtStop);
        }
        if (options_.status && unknown) options_.status->add(0, Drop::LostAtStop, unknown);
        try {
            log_(LogLevel::Warn,
                 "MT0202: process stopping: " + std::to_string(left.size() + unknown) +
                     " queued hit(s) not delivered within " + std::to_string(deadline_ms) + " ms; " +
                     (spooled ? std::to_string(left.size()) + " spooled for the next start" : std::string()) +
                     (lost ? std::string(spooled ? ", " : "") + std::to_string(lost) + " lost" : std::string()));
        } catch (...) {
        }
    }
}

}  // namespace mapptrack
