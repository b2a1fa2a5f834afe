// Delivery threads: take batches from the queue and send each once; what
// fails waits for the redelivery thread (redelivery.cpp), so a failing
// endpoint never holds up another. Stops within a deadline at process end.
#include "mapptrack/dispatcher.h"
#include "mapptrack/batch.h"
#include "mapptrack/target.h"

#include <apr_pools.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace mapptrack {

struct Dispatcher::Worker {
    Dispatcher* owner = nullptr;
    std::size_t index = 0;  // its queue
    apr_thread_t* thread = nullptr;
};

struct Dispatcher::Threads {
    apr_pool_t* pool = nullptr;  // unmanaged: outlives pchild if a thread hangs
    std::vector<std::unique_ptr<Worker>> workers;
    apr_thread_t* redelivery = nullptr;
};

// Lets the C thread entry reach the private loop.
struct DispatcherAccess {
    static void* APR_THREAD_FUNC thread_main(apr_thread_t*, void* data) {
        auto* worker = static_cast<Dispatcher::Worker*>(data);
        worker->owner->run(*worker);
        return nullptr;
    }
    static void* APR_THREAD_FUNC redelivery_main(apr_thread_t*, void* data) {
        static_cast<Dispatcher*>(data)->run_redelivery();
        return nullptr;
    }
};

namespace {


}  // namespace

Dispatcher::Dispatcher(const DispatcherOptions& options, TransportFactory factory, Logger log)
    : options_(options), factory_(std::move(factory)), log_(log),
      health_(EndpointHealthOptions{options.backoff_base, options.backoff_cap, options.give_up_unresolvable}),
      drain_deadline_ms_(options.drain_deadline.count()), threads_(std::make_unique<Threads>()) {
    const unsigned n = std::max(1u, options.threads);
    for (unsigned i = 0; i < n; ++i) {
        queues_.push_back(std::make_unique<DeliveryQueue>(options.queue_capacity, &queued_total_));
    }
}

std::size_t Dispatcher::queued_now() const {
    std::size_t n = 0;
    for (const auto& q : queues_) n += q->size();
    return n;
}

Dispatcher::~Dispatcher() {
    if (options_.status && child_ != kNoChild) options_.status->release(child_);
    if (threads_ && threads_->pool) apr_pool_destroy(threads_->pool);
}

void Dispatcher::record_error(const Delivery& hit, const std::string& why) noexcept {
    if (!options_.status) return;
    try {
        options_.status->error(hit.options.status_row, hit.endpoint + ": " + why, now_ms());
    } catch (...) {
    }
}

Dispatcher::Handle Dispatcher::start(const DispatcherOptions& options, TransportFactory factory,
                                     Logger log) noexcept {
    Dispatcher* d = nullptr;
    try {
        d = new Dispatcher(options, std::move(factory), log);
        if (options.status) d->child_ = options.status->child(static_cast<int>(getpid()));
        if (apr_pool_create_unmanaged_ex(&d->threads_->pool, nullptr, nullptr) != APR_SUCCESS) {
            log(LogLevel::Error, "MT0001: cannot create a memory pool for the delivery threads");
            delete d;
            return nullptr;
        }
        // Delivery threads must never run httpd's signal handlers (prefork
        // runs its exit path in them): they start with all signals blocked.
        sigset_t all, previous;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &previous);
        bool started = true;
        for (unsigned i = 0; i < std::max(1u, options.threads); ++i) {
            auto worker = std::make_unique<Worker>();
            worker->owner = d;
            worker->index = i;
            d->running_.fetch_add(1);
            d->delivering_.fetch_add(1);
            if (apr_thread_create(&worker->thread, nullptr, &DispatcherAccess::thread_main, worker.get(),
                                  d->threads_->pool) != APR_SUCCESS) {
                d->running_.fetch_sub(1);
                d->delivering_.fetch_sub(1);
                started = false;
                break;  // its queue would never drain
            }
            d->threads_->workers.push_back(std::move(worker));
        }
        if (started) {
            d->running_.fetch_add(1);
            if (apr_thread_create(&d->threads_->redelivery, nullptr, &DispatcherAccess::redelivery_main, d,
                                  d->threads_->pool) != APR_SUCCESS) {
                d->running_.fetch_sub(1);
                d->threads_->redelivery = nullptr;
                started = false;
            }
        }
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        if (!started) {
            log(LogLevel::Error, "MT0002: cannot start a delivery thread");
            stop(d);
            return nullptr;
        }
        return Handle(d);
    } catch (...) {
        log(LogLevel::Error, "MT0003: out of memory starting the delivery threads");
        delete d;
        return nullptr;
    }
}

DeliveryQueue::PushResult Dispatcher::enqueue(Delivery&& delivery) noexcept {
    // push() leaves `delivery` intact when it refuses it.
    DeliveryQueue& queue = *queues_[delivery.visitor % queues_.size()];
    const RowId row = delivery.options.status_row;
    const auto result = queue.push(std::move(delivery));
    if (result == DeliveryQueue::PushResult::Queued) {
        Metrics::add(metrics_.queued, 1);
        if (options_.status) options_.status->add(row, Count::Queued);
        publish_queue_depth();
    } else if (result == DeliveryQueue::PushResult::Full && options_.spool) {
        try {
            if (options_.spool->append({delivery}) == 1) {
                Metrics::add(metrics_.spilled, 1);
                tally(delivery, Count::Queued);
                tally(delivery, Count::Spooled);
                if (spill_log_.allow(now_ms())) {
                    log_(LogLevel::Warn,
                         "MT0209: delivery queue full (" + std::to_string(options_.queue_capacity) +
                             " hits): new hits go to the spool in " + options_.spool->dir() +
                             " and are sent from there; " + std::to_string(metrics_.spilled.load()) +
                             " so far. Is the track server slow? Raise MappTrackQueueSize or MappTrackThreads");
                }
                return DeliveryQueue::PushResult::Queued;
            }
        } catch (...) {
        }
        Metrics::add(metrics_.dropped_queue_full, 1);
    } else if (result == DeliveryQueue::PushResult::Full) {
        Metrics::add(metrics_.dropped_queue_full, 1);
        // Refused at the door: the page counts it (skipped:queue-full), it was never queued.
        if (full_log_.allow(now_ms())) {
            log_(LogLevel::Warn,
                 "MT0201: delivery queue full (" + std::to_string(options_.queue_capacity) +
                     " hits): new hits are dropped; " +
                     std::to_string(metrics_.dropped_queue_full.load()) +
                     " dropped so far. Is the track server slow? Raise MappTrackQueueSize or MappTrackThreads");
        }
    }
    return result;
}

void Dispatcher::run(Worker& worker) noexcept {
    DeliveryQueue& queue = *queues_[worker.index];
    try {
        std::unique_ptr<Transport> transport = factory_(&abort_);
        while (!abort_.load()) {
            std::vector<Delivery> batch = queue.pop_batch(std::chrono::milliseconds(100));
            if (!batch.empty()) publish_queue_depth();
            if (batch.empty()) {
                if (stopping_.load() && queue.size() == 0) break;
                continue;
            }
            const std::string& endpoint = batch.front().endpoint;
            if (health_.given_up(endpoint, now_ms())) {
                Metrics::add(metrics_.given_up, batch.size());
                tally(batch, Drop::Unresolvable);
                continue;  // counted; the redelivery thread logs it
            }
            // While an endpoint fails, its new hits wait behind the ones
            // already waiting (in order); other endpoints go on at once.
            if (health_.failing(endpoint)) {
                park(std::move(batch));
                continue;
            }
            std::string why;
            std::vector<Delivery> again = send(*transport, std::move(batch), &why);
            if (!again.empty()) park(after_failure(std::move(again), why, !options_.spool));
        }
    } catch (...) {
        log_(LogLevel::Error, "MT0004: a delivery thread failed unexpectedly and stopped");
    }
    delivering_.fetch_sub(1);
    thread_done();
}

void Dispatcher::thread_done() noexcept {
    {
        std::lock_guard<std::mutex> lock(stopped_mutex_);
        running_.fetch_sub(1);
    }
    stopped_.notify_all();
}

std::vector<Delivery> Dispatcher::send(Transport& transport, std::vector<Delivery>&& batch,
                                       std::string* why) {
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
                log_(LogLevel::Debug, "MT0112: " + std::to_string(n) + " hit(s) delivered to " + endpoint +
                                          " in " + std::to_string(now_ms() - started) + " ms (" +
                                          describe_outcome(response) + ")");
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
                                             " cannot be sent (" + describe_outcome(response) +
                                             "); they are dropped");
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
                log_(LogLevel::Debug, "MT0114: " + std::to_string(n) + " hit(s) refused by " + endpoint +
                                          " in " + std::to_string(now_ms() - started) + " ms (" +
                                          describe_outcome(response) + ")");
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
                                     describe_outcome(response) + ") after receiving them, so it may count them "
                                     "already; " + std::to_string(metrics_.not_resent.load()) + " so far");
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
                 (in_memory ? std::string(" hit(s) lost") : " hit(s) spooled to " + options_.spool->dir()) +
                 "; " + std::to_string(metrics_.failed.load() + metrics_.lost_at_stop.load()) +
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

bool Dispatcher::stop(Dispatcher* d) noexcept {
    if (!d) return true;
    d->stopping_.store(true);
    for (auto& q : d->queues_) q->close();
    {
        std::unique_lock<std::mutex> lock(d->parked_mutex_, std::try_to_lock);
        d->parked_wake_.notify_all();
    }
    const auto wait_for_threads = [d](std::int64_t ms) {
        std::unique_lock<std::mutex> lock(d->stopped_mutex_);
        d->stopped_.wait_for(lock, std::chrono::milliseconds(ms), [d] { return d->running_.load() == 0; });
    };
    const std::int64_t deadline_ms = d->drain_deadline_ms_.load();
    wait_for_threads(deadline_ms);
    if (d->running_.load() > 0) {
        d->abort_.store(true);  // in-flight transfers end at their next progress callback
        wait_for_threads(500);
    }
    std::vector<Delivery> left;
    try {
        for (auto& q : d->queues_) {
            std::vector<Delivery> some = q->take_all(std::chrono::milliseconds(100));
            for (Delivery& x : some) left.push_back(std::move(x));
        }
        std::unique_lock<std::mutex> lock(d->parked_mutex_, std::defer_lock);
        const std::int64_t until = now_ms() + 100;
        while (!lock.try_lock() && now_ms() < until) apr_sleep(apr_time_from_msec(1));
        if (lock.owns_lock()) {
            for (Delivery& x : d->parked_) left.push_back(std::move(x));
            d->parked_.clear();
        }
    } catch (...) {
    }
    const std::size_t unknown = d->queued_now();  // could not be taken (lock held)
    if (!left.empty() || unknown > 0) {
        const bool spooled = !left.empty() && d->to_spool(left, 200);
        const std::size_t lost = (spooled ? 0 : left.size()) + unknown;
        Metrics::add(d->metrics_.lost_at_stop, lost);
        if (spooled) {
            d->tally(left, Count::Spooled);
        } else {
            d->tally(left, Drop::LostAtStop);
        }
        if (d->options_.status && unknown) d->options_.status->add(0, Drop::LostAtStop, unknown);
        d->log_(LogLevel::Warn,
                "MT0202: process stopping: " + std::to_string(left.size() + unknown) +
                    " queued hit(s) not delivered within " + std::to_string(deadline_ms) + " ms; " +
                    (spooled ? std::to_string(left.size()) + " spooled for the next start" : std::string()) +
                    (lost ? std::string(spooled ? ", " : "") + std::to_string(lost) + " lost" : std::string()));
    }
    if (d->options_.spool) d->options_.spool->seal();
    if (d->running_.load() > 0) {
        // Joining could hang past httpd's kill deadline; the process is
        // exiting, so the threads' memory is left to it.
        d->log_(LogLevel::Warn, "MT0203: " + std::to_string(d->running_.load()) +
                                    " delivery thread(s) did not stop in time");
        return false;
    }
    apr_status_t rv;
    for (auto& worker : d->threads_->workers) apr_thread_join(&rv, worker->thread);
    if (d->threads_->redelivery) apr_thread_join(&rv, d->threads_->redelivery);
    delete d;
    return true;
}

}  // namespace mapptrack
