// The redelivery thread: tries again what failed, endpoint by endpoint —
// hits parked in memory (no spool) and the spool's segments (spool_replay.cpp)
// — so that one failing endpoint, or one record that cannot be sent, never
// holds up the rest. Backoff and the circuit breaker: endpoint_health.cpp.
#include <apr_time.h>

#include <algorithm>
#include <limits>
#include <map>

#include "mapptrack/dispatcher.h"
#include "mapptrack/batch.h"

namespace mapptrack {

void Dispatcher::run_redelivery() noexcept {
    try {
        std::unique_ptr<Transport> transport = factory_(&abort_);
        while (!abort_.load()) {
            if (stopping_.load()) {
                // What waits is safe in the spool; without one, retries go on
                // until the drain deadline so that a short outage loses nothing.
                if (options_.spool) break;
                std::lock_guard<std::mutex> lock(parked_mutex_);
                if (parked_.empty() && delivering_.load() == 0) break;
            }
            retry_parked(*transport);
            replay_spool(*transport);
            publish_spool_gauges();
            const std::int64_t now = now_ms();
            const std::int64_t due = health_.next_due_ms();
            const std::int64_t wait = due <= now ? 1 : std::min<std::int64_t>(100, due - now);
            std::unique_lock<std::mutex> lock(parked_mutex_);
            parked_wake_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return wake_redelivery_; });
            wake_redelivery_ = false;
        }
    } catch (...) {
        log_(LogLevel::Error, "MT0005: the redelivery thread failed unexpectedly and stopped");
    }
    thread_done();
}

// Hits parked in memory, for endpoints whose backoff is over.
void Dispatcher::retry_parked(Transport& transport) {
    std::vector<Delivery> records;
    {
        std::lock_guard<std::mutex> lock(parked_mutex_);
        if (parked_.empty()) return;
        const std::int64_t now = now_ms();
        bool any_due = false;
        for (const Delivery& d : parked_) {
            if (health_.due(d.endpoint, now)) {
                any_due = true;
                break;
            }
        }
        if (!any_due) return;
        records.assign(std::make_move_iterator(parked_.begin()), std::make_move_iterator(parked_.end()));
        parked_.clear();
    }
    bool changed = false;
    std::vector<Delivery> kept = redeliver(transport, std::move(records), false, &changed);
    if (kept.empty()) return;
    std::lock_guard<std::mutex> lock(parked_mutex_);
    // Older than whatever was parked meanwhile: in front of it.
    parked_.insert(parked_.begin(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
}

std::vector<Delivery> Dispatcher::redeliver(Transport& transport, std::vector<Delivery>&& records,
                                            bool from_spool, bool* changed) {
    std::vector<Delivery> kept;
    std::vector<Delivery> live;
    live.reserve(records.size());
    for (Delivery& r : records) {
        if (from_spool && !validate_replayed(r)) {
            *changed = true;
            continue;
        }
        if (health_.given_up(r.endpoint, now_ms())) {
            Metrics::add(metrics_.given_up, 1);
            tally(r, Drop::Unresolvable);
            *changed = true;
            if (given_up_log_.allow(now_ms())) {
                log_(LogLevel::Error, "MT0108: the host of " + r.endpoint +
                                          " has not resolved for a long time while other track servers work; "
                                          "its hits are dropped. Check MappTrackDomain; " +
                                          std::to_string(metrics_.given_up.load()) + " dropped so far");
            }
            continue;
        }
        live.push_back(std::move(r));
    }
    records.clear();

    // Hits that failed this often are sent alone; if their endpoint then
    // delivers the next batch, they are the reason, and are set aside.
    const unsigned set_aside = std::max(3u, options_.retries + 2);
    std::map<std::string, bool> allowed;              // endpoint -> may be tried in this pass
    std::map<std::string, Delivery> suspects;         // endpoint -> the lone hit that just failed
    std::vector<bool> done(live.size(), false);
    for (std::size_t i = 0; i < live.size(); ++i) {
        if (done[i]) continue;
        const std::string endpoint = live[i].endpoint;
        auto a = allowed.find(endpoint);
        if (a == allowed.end()) a = allowed.emplace(endpoint, health_.due(endpoint, now_ms())).first;
        if (!a->second || abort_.load() || (from_spool && stopping_.load())) {
            kept.push_back(std::move(live[i]));
            done[i] = true;
            continue;
        }
        // A batch: this endpoint's next hits in order, up to the batch size
        // and 1 MiB; it ends at the first hit that cannot join it.
        std::vector<Delivery> batch;
        const Delivery& first = live[i];
        const bool alone = first.options.batch_size <= 1 || first.attempts + 1 >= set_aside;
        const std::size_t limit = alone ? 1 : first.options.batch_size;
        std::size_t bytes = 0;
        for (std::size_t j = i; j < live.size() && batch.size() < limit; ++j) {
            if (done[j] || live[j].endpoint != endpoint) continue;
            if (!batch.empty() && (live[j].options.batch_size <= 1 || live[j].attempts + 1 >= set_aside ||
                                   live[j].options.proxy != batch.front().options.proxy ||
                                   !fits_in_batch(bytes, live[j].line.size(), false))) {
                break;
            }
            bytes = body_with(bytes, live[j].line.size(), batch.empty());
            batch.push_back(std::move(live[j]));
            done[j] = true;
        }
        const bool lone_suspect = batch.size() == 1 && batch.front().attempts + 1 >= set_aside &&
                                  !suspects.count(endpoint);
        *changed = true;
        std::string why;
        std::vector<Delivery> again = send(transport, std::move(batch), &why);
        // Empty and still failing: what failed was dropped (sent twice already).
        if (again.empty() && !health_.failing(endpoint)) {
            const auto s = suspects.find(endpoint);
            if (s != suspects.end()) {
                // The endpoint works; this hit fails each time it is tried.
                Metrics::add(metrics_.invalid, 1);
                tally(s->second, Drop::Invalid);
                if (poison_log_.allow(now_ms())) {
                    log_(LogLevel::Warn, "MT0110: a hit for " + endpoint + " failed " +
                                             std::to_string(s->second.attempts) +
                                             " times while other hits there were delivered; it is set "
                                             "aside (dropped)");
                }
                suspects.erase(s);
            }
            continue;
        }
        again = after_failure(std::move(again), why, !from_spool);
        if (lone_suspect && !again.empty()) {
            suspects.emplace(endpoint, std::move(again.front()));
            continue;  // see whether the endpoint works without it
        }
        a->second = false;  // the rest of its hits wait for the next pass
        const auto s = suspects.find(endpoint);
        if (s != suspects.end()) {
            kept.push_back(std::move(s->second));
            suspects.erase(s);
        }
        for (Delivery& d : again) kept.push_back(std::move(d));
    }
    for (auto& [endpoint, d] : suspects) kept.push_back(std::move(d));
    // Per endpoint the order is kept; across endpoints it does not matter.
    return kept;
}

}  // namespace mapptrack
