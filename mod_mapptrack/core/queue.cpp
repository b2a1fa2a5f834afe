// The bounded delivery queue: O(1) push under a short lock, batch-wise pops.
#include "mapptrack/queue.h"

#include <algorithm>
#include <thread>

#include "mapptrack/log.h"

namespace mapptrack {
namespace {

// A batch's body (its lines joined by '\n') stays under 1 MiB, whatever
// MappTrackBatchSize allows (1000 lines of up to 7 KB). The same limit holds
// for batches replayed from the spool (dispatcher.cpp).
constexpr std::size_t kMaxBatchBody = 1u << 20;

std::size_t body_bytes(const std::vector<Delivery>& batch) {
    std::size_t bytes = 0;
    for (const Delivery& d : batch) bytes += d.line.size() + 1;
    return bytes ? bytes - 1 : 0;
}

}  // namespace

DeliveryQueue::DeliveryQueue(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

DeliveryQueue::PushResult DeliveryQueue::push(Delivery&& delivery) noexcept {
    try {
        std::unique_lock<std::mutex> lock(mutex_);
        if (closed_) return PushResult::Closed;
        if (items_.size() >= capacity_) return PushResult::Full;
        items_.push_back(std::move(delivery));
        count_.store(items_.size(), std::memory_order_relaxed);
        const bool wake_idle = idle_waiters_ > 0;
        const bool wake_filler = !wake_idle && fillers_ > 0 && items_.size() >= fill_threshold_;
        lock.unlock();
        if (wake_idle) {
            not_empty_.notify_one();
        } else if (wake_filler) {
            batch_ready_.notify_all();
        }
        return PushResult::Queued;
    } catch (...) {  // allocation failure: refuse the hit, never throw into httpd
        return PushResult::Full;
    }
}

// Moves queued deliveries for the batch's endpoint into `batch`, in order,
// up to `limit` hits and a body under kMaxBatchBody. True when the batch is
// full: no further hit could join it.
bool DeliveryQueue::take_matching(std::vector<Delivery>& batch, std::size_t limit) {
    const std::string endpoint = batch.front().endpoint;  // a copy: push_back moves the vector
    std::size_t bytes = body_bytes(batch);
    for (auto it = items_.begin(); it != items_.end() && batch.size() < limit;) {
        // A hit configured as a single GET (batch size 1, with the visitor's
        // cookies) never joins another vhost's batch for the same endpoint.
        if (it->endpoint == endpoint && it->options.proxy == batch.front().options.proxy &&
            it->options.batch_size > 1) {
            // Stop at the first that does not fit: a visitor's hits stay in order.
            if (bytes + 1 + it->line.size() >= kMaxBatchBody) return true;
            bytes += 1 + it->line.size();
            batch.push_back(std::move(*it));
            it = items_.erase(it);
            count_.store(items_.size(), std::memory_order_relaxed);
        } else {
            ++it;
        }
    }
    return batch.size() >= limit;
}

std::vector<Delivery> DeliveryQueue::pop_batch(std::chrono::milliseconds idle_wait) {
    std::vector<Delivery> batch;
    std::unique_lock<std::mutex> lock(mutex_);
    ++idle_waiters_;
    const bool ready = not_empty_.wait_for(lock, idle_wait, [&] { return !items_.empty() || closed_; });
    --idle_waiters_;
    if (!ready || items_.empty()) return batch;
    batch.push_back(std::move(items_.front()));
    items_.pop_front();
    count_.store(items_.size(), std::memory_order_relaxed);
    const std::size_t limit = batch.front().options.batch_size ? batch.front().options.batch_size : 1;
    if (limit == 1) return batch;

    bool full = take_matching(batch, limit);
    const auto fill_deadline = std::chrono::steady_clock::now() +
        std::chrono::milliseconds(
            std::max<std::int64_t>(0, batch.front().queued_ms + batch.front().options.batch_delay_ms -
                                          now_ms()));
    while (!full && !closed_.load()) {
        const std::size_t missing = limit - batch.size();
        fill_threshold_ = fillers_ == 0 ? missing : std::min(fill_threshold_, missing);
        ++fillers_;
        const auto status = batch_ready_.wait_until(lock, fill_deadline);
        --fillers_;
        full = take_matching(batch, limit);
        if (status == std::cv_status::timeout) break;
    }
    // Others may be waiting for what this batch did not take.
    if (!items_.empty()) not_empty_.notify_one();
    return batch;
}

std::vector<Delivery> DeliveryQueue::take_all(std::chrono::milliseconds patience) {
    std::vector<Delivery> all;
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    const auto until = std::chrono::steady_clock::now() + patience;
    while (!lock.try_lock()) {
        if (std::chrono::steady_clock::now() >= until) return all;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    all.reserve(items_.size());
    for (Delivery& d : items_) all.push_back(std::move(d));
    items_.clear();
    count_.store(0, std::memory_order_relaxed);
    return all;
}

void DeliveryQueue::close() noexcept {
    closed_.store(true);
    // Taking the lock once orders the flag before any waiter's next check.
    { std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock); }
    not_empty_.notify_all();
    batch_ready_.notify_all();
}

}  // namespace mapptrack
