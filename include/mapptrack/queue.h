// A bounded multi-producer, multi-consumer queue of deliveries. Producers
// (request threads) never wait: a full queue refuses the newest hit.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "mapptrack/delivery.h"

namespace mapptrack {

class DeliveryQueue {
public:
    explicit DeliveryQueue(std::size_t capacity);

    enum class PushResult { Queued, Full, Closed };
    PushResult push(Delivery&& delivery) noexcept;

    // Waits up to `idle_wait` for a first delivery; then gathers more for the
    // same endpoint, up to the first one's batch size, waiting at most its
    // batch delay (counted from when it was queued) for the batch to fill.
    // Returns an empty batch on timeout, or when closed and empty. Once
    // closed, never waits for a batch to fill.
    std::vector<Delivery> pop_batch(std::chrono::milliseconds idle_wait);

    // Everything queued, without waiting for the lock longer than `patience`
    // (at process exit the lock may belong to a thread a signal interrupted).
    std::vector<Delivery> take_all(std::chrono::milliseconds patience);

    // Wakes all waiters; later pushes are refused, pops drain what is left.
    // Never blocks: if the lock is held (by a thread a signal interrupted),
    // waiters still see the flag within their bounded waits.
    void close() noexcept;

    // Lock-free: safe where taking the lock could deadlock (a signal handler).
    std::size_t size() const { return count_.load(std::memory_order_relaxed); }
    std::size_t capacity() const { return capacity_; }

private:
    bool take_matching(std::vector<Delivery>& batch, std::size_t limit);

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    // Producers wake a consumer only when one is idle, or when a batch being
    // filled has enough: a page view costs no context switch otherwise.
    std::condition_variable not_empty_;    // idle consumers
    std::condition_variable batch_ready_;  // consumers filling a batch
    unsigned idle_waiters_ = 0;
    unsigned fillers_ = 0;
    std::size_t fill_threshold_ = 0;       // queue size that completes the smallest open batch
    std::deque<Delivery> items_;
    std::atomic<std::size_t> count_{0};
    std::atomic<bool> closed_{false};
};

}  // namespace mapptrack
