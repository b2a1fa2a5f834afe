// The bounded delivery queue: O(groups) push under a short lock, batch-wise
// pops of whichever site's batch is ready first.
#include "mapptrack/queue.h"

#include <algorithm>
#include <limits>
#include <thread>

#include "mapptrack/batch.h"
#include "mapptrack/log.h"

namespace mapptrack {
namespace {

// A group this large cannot take another hit line (≤ 7 KB): send it now.
constexpr std::size_t kFullBody = kMaxBatchBody - 8 * 1024;

}  // namespace

// Hits that may share a request: one endpoint, proxy and batch setting.
struct DeliveryQueue::Group {
    std::deque<Delivery> items;
    std::deque<std::uint64_t> order;  // each item's place in the queue, for the oldest-first choice
    std::size_t bytes = 0;  // of the lines, joined
    std::size_t limit() const {
        const unsigned n = items.front().options.batch_size;
        return n ? n : 1;
    }
    bool matches(const Delivery& d) const {
        return may_share_request(items.front(), d);
    }
    std::int64_t deadline() const {
        return items.front().queued_ms + static_cast<std::int64_t>(items.front().options.batch_delay_ms);
    }
    bool full() const { return limit() == 1 || items.size() >= limit() || bytes >= kFullBody; }
};

DeliveryQueue::DeliveryQueue(std::size_t capacity, std::atomic<std::size_t>* shared)
    : capacity_(capacity ? capacity : 1), total_(shared ? shared : &own_total_) {}

DeliveryQueue::~DeliveryQueue() = default;

DeliveryQueue::PushResult DeliveryQueue::push(Delivery&& delivery) noexcept {
    try {
        std::unique_lock<std::mutex> lock(mutex_);
        if (closed_) return PushResult::Closed;
        if (total_->fetch_add(1, std::memory_order_relaxed) >= capacity_) {
            total_->fetch_sub(1, std::memory_order_relaxed);
            return PushResult::Full;
        }
        Group* group = nullptr;
        for (auto& g : groups_) {
            if (g->matches(delivery)) {
                group = g.get();
                break;
            }
        }
        try {
            if (!group) {
                groups_.push_back(std::make_unique<Group>());
                group = groups_.back().get();
            }
            group->bytes += (group->items.empty() ? 0 : 1) + delivery.line.size();
            group->order.push_back(++pushed_);
            try {
                group->items.push_back(std::move(delivery));
            } catch (...) {
                group->order.pop_back();
                throw;
            }
        } catch (...) {
            if (group && group->items.empty()) groups_.pop_back();
            total_->fetch_sub(1, std::memory_order_relaxed);
            return PushResult::Full;  // allocation failure: refuse the hit, never throw into httpd
        }
        count_.fetch_add(1, std::memory_order_relaxed);
        const bool wake = waiters_ > 0 && (group->full() || group->deadline() < wake_at_ms_);
        lock.unlock();
        if (wake) wake_.notify_all();
        return PushResult::Queued;
    } catch (...) {
        return PushResult::Full;
    }
}

DeliveryQueue::Group* DeliveryQueue::ready_group(std::int64_t now, std::int64_t* next_deadline) {
    Group* best = nullptr;
    const bool closed = closed_.load();
    for (auto& g : groups_) {
        if (closed || g->full() || g->deadline() <= now) {
            if (!best || g->order.front() < best->order.front()) best = g.get();
        } else {
            *next_deadline = std::min(*next_deadline, g->deadline());
        }
    }
    return best;
}

void DeliveryQueue::removed(std::size_t n) {
    count_.fetch_sub(n, std::memory_order_relaxed);
    total_->fetch_sub(n, std::memory_order_relaxed);
}

std::vector<Delivery> DeliveryQueue::take_batch(Group& group) {
    std::vector<Delivery> batch;
    const std::size_t limit = group.limit();
    batch.reserve(std::min(limit, group.items.size()));  // one allocation, not one per doubling
    std::size_t bytes = 0;
    // In order; the batch ends at the first hit that does not fit in 1 MiB.
    while (!group.items.empty() && batch.size() < limit) {
        const std::size_t line = group.items.front().line.size();
        if (!fits_in_batch(bytes, line, batch.empty())) break;
        bytes = body_with(bytes, line, batch.empty());
        batch.push_back(std::move(group.items.front()));
        group.items.pop_front();
        group.order.pop_front();
    }
    group.bytes = group.bytes > bytes + (group.items.empty() ? 0 : 1) ? group.bytes - bytes - 1 : 0;
    if (group.items.empty()) {
        groups_.erase(std::find_if(groups_.begin(), groups_.end(),
                                   [&](const std::unique_ptr<Group>& g) { return g.get() == &group; }));
    }
    removed(batch.size());
    return batch;
}

std::vector<Delivery> DeliveryQueue::pop_batch(std::chrono::milliseconds idle_wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto give_up = std::chrono::steady_clock::now() + idle_wait;
    for (;;) {
        const std::int64_t now = now_ms();
        std::int64_t next = std::numeric_limits<std::int64_t>::max();
        if (Group* group = ready_group(now, &next)) return take_batch(*group);
        if (closed_.load() && groups_.empty()) return {};
        auto until = give_up;
        if (next != std::numeric_limits<std::int64_t>::max()) {
            until = std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(next - now));
        }
        if (std::chrono::steady_clock::now() >= give_up) return {};
        ++waiters_;
        wake_at_ms_ = now + std::chrono::duration_cast<std::chrono::milliseconds>(
                                until - std::chrono::steady_clock::now()).count();
        wake_.wait_until(lock, until);
        --waiters_;
    }
}

std::vector<Delivery> DeliveryQueue::take_all(std::chrono::milliseconds patience) {
    std::vector<Delivery> all;
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    const auto until = std::chrono::steady_clock::now() + patience;
    while (!lock.try_lock()) {
        if (std::chrono::steady_clock::now() >= until) return all;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    try {
        all.reserve(count_.load());
        for (auto& g : groups_) {
            for (Delivery& d : g->items) all.push_back(std::move(d));
        }
    } catch (...) {
    }
    groups_.clear();
    removed(count_.load());
    return all;
}

void DeliveryQueue::close() noexcept {
    closed_.store(true);
    // Taking the lock once orders the flag before any waiter's next check.
    { std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock); }
    wake_.notify_all();
}

}  // namespace mapptrack
