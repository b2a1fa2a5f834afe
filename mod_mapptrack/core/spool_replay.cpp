// Spool replay on the redelivery thread: segments oldest first, each record
// checked against the current configuration before it is sent; a segment
// whose endpoints all still fail is passed over without being read again.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "mapptrack/dispatcher.h"

namespace mapptrack {
namespace {

constexpr int kSegmentsPerPass = 64;

}  // namespace

// Spool segments, oldest first. A segment whose hits all belong to endpoints
// that still fail is passed over without being read again.
void Dispatcher::replay_spool(Transport& transport) {
    Spool* spool = options_.spool;
    if (!spool || stopping_.load()) return;
    const std::int64_t now = now_ms();
    if (!spool->maybe_pending()) {
        // Segments of children that exited (graceful restart) appear later;
        // kept segments become due when their endpoints do.
        if (now < next_scan_ms_) return;
        spool->mark_pending();
    }
    next_scan_ms_ = now + 5000;
    std::set<std::string> visited;
    const auto skip = [&](const std::string& path) {
        if (visited.count(path)) return true;
        const auto it = segment_endpoints_.find(path);
        if (it == segment_endpoints_.end()) return false;
        return std::all_of(it->second.begin(), it->second.end(), [&](const std::string& endpoint) {
            return health_.failing(endpoint) && !health_.due(endpoint, now);
        });
    };
    bool kept_any = false;
    for (int n = 0; n < kSegmentsPerPass && !stopping_.load() && !abort_.load(); ++n) {
        std::optional<Spool::Taken> taken = spool->take(skip);
        if (!taken) break;
        const std::string path = taken->path;
        visited.insert(path);
        bool changed = false;
        std::vector<Delivery> kept = redeliver(transport, std::move(taken->records), true, &changed);
        if (kept.empty()) {
            spool->done(std::move(*taken), {});
            segment_endpoints_.erase(path);
            continue;
        }
        kept_any = true;
        std::set<std::string>& endpoints = segment_endpoints_[path];
        endpoints.clear();
        for (const Delivery& d : kept) endpoints.insert(d.endpoint);
        if (changed) {
            spool->done(std::move(*taken), kept);
        } else {
            spool->keep(std::move(*taken));
        }
    }
    if (kept_any) {
        next_scan_ms_ = std::min(next_scan_ms_, health_.next_due_ms());
        if (segment_endpoints_.size() > 100000) segment_endpoints_.clear();  // forgets, never loses
    }
}

bool Dispatcher::validate_replayed(Delivery& record) {
    std::string why;
    if (!is_valid_spool_record(record, &why)) {
        Metrics::add(metrics_.invalid, 1);
        tally(record, Drop::Invalid);  // row 0: no configuration is known for it
        if (record_log_.allow(now_ms())) {
            log_(LogLevel::Warn, "MT0109: a spool record was dropped, not sent: " + why + "; " +
                                     std::to_string(metrics_.invalid.load()) + " dropped so far");
        }
        return false;
    }
    if (options_.resolve) {
        std::optional<DeliveryOptions> resolved = options_.resolve(record.endpoint);
        if (!resolved) {
            Metrics::add(metrics_.invalid, 1);
            tally(record, Drop::Unresolvable);  // row 0
            if (record_log_.allow(now_ms())) {
                log_(LogLevel::Warn, "MT0117: a spool record was dropped, not sent: no configuration tracks to " +
                                         record.endpoint + " any more; " + std::to_string(metrics_.invalid.load()) +
                                         " dropped so far");
            }
            return false;
        }
        record.options = std::move(*resolved);
    }
    record.from_spool = true;
    if (record.options.batch_size > 1) record.cookies.clear();  // only single GETs send them
    return true;
}

void Dispatcher::publish_spool_gauges() noexcept {
    if (!options_.status || !options_.spool) return;
    options_.status->set_spool_bytes(child_, options_.spool->own_bytes());
    const std::uint64_t dropped = options_.spool->counters().dropped_full.load(std::memory_order_relaxed);
    if (dropped > spool_dropped_seen_) {
        options_.status->add(0, Drop::SpoolFull, dropped - spool_dropped_seen_);
        spool_dropped_seen_ = dropped;
    }
}

}  // namespace mapptrack
