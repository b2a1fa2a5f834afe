// One attempt at a batch, and what a failure leads to: retries counted
// against MappTrackRetries, a refused batch split, failing endpoints' hits
// parked (spool, or the in-memory retry list) for the redelivery thread.
#include "mapptrack/dispatcher.h"
#include "mapptrack/batch.h"
#include "mapptrack/target.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mapptrack {

void Dispatcher::record_error(const Delivery& hit, const std::string& why) noexcept {
    if (!options_.status) return;
    try {
        options_.status->error(hit.options.status_row, hit.endpoint + ": " + why, now_ms());
    } catch (...) {
    }
}

std::vector<Delivery> Dispatcher::send(Transport& transport, std::vector<Delivery>&& batch, std::string* why) {
    if (batch.empty()) return {};
    const std::string endpoint = batch.front().endpoint;
    const std::uint64_t n = batch.size();
    OutboundRequest request = build_request(batch);
    const unsigned timeout = health_.attempt_timeout_ms(endpoint, request.timeout_ms);
    request.timeout_ms = timeout;
    const std::int64_t started = now_ms();
    const OutboundResponse response = transport.perform(request);
    if (response.outcome == OutboundResponse::Outcome::Answered) {
        health_.on_answered(endpoint, now_ms() - started, timeout);
    } else if (response.outcome == OutboundResponse::Outcome::TimedOut) {
        health_.on_timed_out(endpoint, timeout);
    }
    Metrics::add(metrics_.requests, 1);
    tally(batch.front(), Count::Requests);
    if (std::any_of(batch.begin(), batch.end(), [](const Delivery& d) { return d.attempts > 0; })) {
        Metrics::add(metrics_.retries, 1);
        for (const Delivery& d : batch) {
            if (d.attempts > 0) tally(d, Count::Retried);
        }
    }
    switch (classify(response)) {
        case Verdict::Delivered: {
            // "Works again" only after MT0101 said it failed for good.
            const bool was_failing = health_.failures(endpoint) > options_.retries;
            health_.on_delivered(endpoint, now_ms());
            Metrics::add(metrics_.delivered, n);
            if (options_.status) {
                const std::int64_t now = now_ms();
                for (const Delivery& d : batch) {
                    tally(d, Count::Sent);
                    if (d.from_spool) tally(d, Count::Replayed);
                    const std::int64_t waited = d.queued_ms > 0 && now > d.queued_ms ? now - d.queued_ms : 0;
                    options_.status->latency(d.options.status_row, static_cast<std::uint64_t>(waited) * 1000);
                }
            }
            if (options_.debug_log) {
                log_(LogLevel::Debug, "MT0112: " + std::to_string(n) + " hit(s) delivered to " + endpoint + " in " +
                                          std::to_string(now_ms() - started) + " ms (" + describe_outcome(response) +
                                          ")");
                for (const Delivery& d : batch) log_(LogLevel::Debug, "MT0113: sent " + endpoint_url(endpoint, d.line));
            }
            if (was_failing && recovery_log_.allow(now_ms())) {
                log_(LogLevel::Notice, "MT0102: delivery to " + endpoint + " works again");
            }
            return {};
        }
        case Verdict::Rejected:
            if (response.outcome == OutboundResponse::Outcome::Invalid) {
                Metrics::add(metrics_.invalid, n);
                tally(batch, Drop::Invalid);
                record_error(batch.front(), describe_outcome(response));
                if (invalid_log_.allow(now_ms())) {
                    log_(LogLevel::Warn, "MT0107: " + std::to_string(n) + " hit(s) for " + endpoint +
                                             " cannot be sent (" + describe_outcome(response) + "); they are dropped");
                }
                return {};
            }
            // One refused hit must not cost the others of its batch: halves
            // are sent on their own, down to the hit the track server refuses.
            if (n > 1 && health_.ever_delivered(endpoint)) {
                std::vector<Delivery> second(std::make_move_iterator(batch.begin() + n / 2),
                                             std::make_move_iterator(batch.end()));
                batch.resize(n / 2);
                std::vector<Delivery> again = send(transport, std::move(batch));
                std::vector<Delivery> more = send(transport, std::move(second));
                for (Delivery& d : more) again.push_back(std::move(d));
                return again;
            }
            Metrics::add(metrics_.rejected, n);
            tally(batch, Drop::Rejected);
            record_error(batch.front(), "refused with " + describe_outcome(response));
            if (options_.debug_log) {
                log_(LogLevel::Debug, "MT0114: " + std::to_string(n) + " hit(s) refused by " + endpoint + " in " +
                                          std::to_string(now_ms() - started) + " ms (" + describe_outcome(response) +
                                          ")");
            }
            if (refused_log_.allow(now_ms())) {
                log_(LogLevel::Warn, "MT0103: track server " + endpoint + " refused " + std::to_string(n) +
                                         " hit(s) with " + describe_outcome(response) +
                                         "; they are dropped (check MappTrackId and MappTrackDomain)");
            }
            return {};
        case Verdict::Retry:
            break;
    }
    health_.on_failed(endpoint, response.outcome, now_ms());
    if (why) *why = describe_outcome(response);
    record_error(batch.front(), describe_outcome(response));
    if (options_.debug_log) {
        log_(LogLevel::Debug, "MT0115: " + std::to_string(n) + " hit(s) for " + endpoint + " not delivered after " +
                                  std::to_string(now_ms() - started) + " ms (" + describe_outcome(response) +
                                  "); tried again later");
    }
    // A hit that may have reached the track server twice is not sent a third
    // time: a slow collector counts it at most twice.
    std::vector<Delivery> again;
    again.reserve(batch.size());
    std::uint64_t twice = 0;
    for (Delivery& d : batch) {
        ++d.attempts;
        if (response.maybe_received && ++d.maybe_received >= 2) {
            ++twice;
            tally(d, Drop::NotResent);
            continue;
        }
        again.push_back(std::move(d));
    }
    if (twice) {
        Metrics::add(metrics_.not_resent, twice);
        if (resent_log_.allow(now_ms())) {
            log_(LogLevel::Warn, "MT0111: " + std::to_string(twice) + " hit(s) for " + endpoint +
                                     " are not sent again: twice the track server did not answer in time (" +
                                     describe_outcome(response) +
                                     ") after receiving them, so it may count them "
                                     "already; " +
                                     std::to_string(metrics_.not_resent.load()) + " so far");
        }
    }
    return again;
}

std::vector<Delivery> Dispatcher::after_failure(std::vector<Delivery>&& failed, const std::string& why,
                                                bool in_memory) {
    const unsigned limit = options_.retries + 1;  // attempts in all
    std::size_t reached = 0;
    std::uint64_t lost = 0;
    std::vector<Delivery> waiting;
    waiting.reserve(failed.size());
    for (Delivery& d : failed) {
        if (d.attempts == limit) ++reached;
        if (in_memory && d.attempts >= limit) {
            ++lost;
            tally(d, abort_.load() || stopping_.load() ? Drop::LostAtStop : Drop::RetriesExhausted);
            continue;
        }
        waiting.push_back(std::move(d));
    }
    if (lost) Metrics::add(abort_.load() || stopping_.load() ? metrics_.lost_at_stop : metrics_.failed, lost);
    if (reached && failure_log_.allow(now_ms())) {
        log_(LogLevel::Error,
             "MT0101: delivery to " + failed.front().endpoint + " failed after " + std::to_string(limit) +
                 " attempt(s): " + why + "; " + std::to_string(reached) +
                 (in_memory ? std::string(" hit(s) lost") : " hit(s) spooled to " + options_.spool->dir()) + "; " +
                 std::to_string(metrics_.failed.load() + metrics_.lost_at_stop.load()) +
                 " lost in all in this process");
    }
    return waiting;
}

void Dispatcher::park(std::vector<Delivery>&& batch) noexcept {
    if (batch.empty()) return;
    const std::size_t n = batch.size();
    try {
        if (abort_.load()) {
            // Past the drain deadline: stop() spools what is parked.
        } else if (options_.spool) {
            if (to_spool(batch)) {
                tally(batch, Count::Spooled);
                std::lock_guard<std::mutex> lock(parked_mutex_);
                wake_redelivery_ = true;
                parked_wake_.notify_one();
                return;
            }
            Metrics::add(metrics_.failed, n);  // the spool is full or unwritable (it logs why)
            tally(batch, Drop::SpoolFull);
            return;
        }
        std::lock_guard<std::mutex> lock(parked_mutex_);
        if (parked_.size() + n > options_.queue_capacity) {
            Metrics::add(metrics_.failed, n);
            tally(batch, Drop::QueueFull);
            if (full_log_.allow(now_ms())) {
                log_(LogLevel::Warn, "MT0210: " + std::to_string(parked_.size()) +
                                         " hits wait for a failing track server and there is no spool: " +
                                         std::to_string(n) + " more dropped. Set MappTrackSpoolMaxSize");
            }
            return;
        }
        for (Delivery& d : batch) parked_.push_back(std::move(d));
        wake_redelivery_ = true;
        parked_wake_.notify_one();
    } catch (...) {
        Metrics::add(metrics_.failed, n);
        tally(batch, Drop::QueueFull);
    }
}

bool Dispatcher::to_spool(const std::vector<Delivery>& batch, int wait_ms) noexcept {
    return options_.spool && options_.spool->append(batch, wait_ms) == batch.size();
}

}  // namespace mapptrack
