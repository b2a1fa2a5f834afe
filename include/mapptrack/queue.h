// A bounded multi-producer queue of deliveries, grouped by site: hits that
// may share a request (same endpoint, proxy and batch settings) wait
// together, and one group's batch delay never holds up another group.
// Producers (request threads) never wait: a full queue refuses the newest hit.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "mapptrack/delivery.h"

namespace mapptrack {

class DeliveryQueue {
public:
    // `shared`, when given, counts the hits of every queue that shares it, and
    // `capacity` then bounds them together (MappTrackQueueSize is per child).
    explicit DeliveryQueue(std::size_t capacity, std::atomic<std::size_t>* shared = nullptr);
    ~DeliveryQueue();

    enum class PushResult { Queued, Full, Closed };
    PushResult push(Delivery&& delivery) noexcept;

    // The next batch that is ready: a group that reached its batch size (or
    // 1 MiB), whose oldest hit waited its batch delay, or any group once
    // closed; the oldest such group first. Waits up to `idle_wait` for one,
    // and returns an empty batch when none became ready.
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
    struct Group;
    Group* ready_group(std::int64_t now, std::int64_t* next_deadline);
    std::vector<Delivery> take_batch(Group& group);
    void removed(std::size_t n);

    const std::size_t capacity_;
    std::atomic<std::size_t> own_total_{0};
    std::atomic<std::size_t>* total_;  // own_total_ or the shared count
    mutable std::mutex mutex_;
    // Producers wake the consumer only when a group became ready or its
    // deadline is earlier than the consumer's: a page view usually costs no
    // context switch.
    std::condition_variable wake_;
    unsigned waiters_ = 0;
    std::int64_t wake_at_ms_ = 0;  // when the waiting consumer wakes anyway
    std::vector<std::unique_ptr<Group>> groups_;
    std::uint64_t pushed_ = 0;
    std::atomic<std::size_t> count_{0};
    std::atomic<bool> closed_{false};
};

}  // namespace mapptrack
