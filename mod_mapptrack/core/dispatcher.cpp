// Delivery threads: take batches from the queue, send them, retry with
// backoff, and stop within a deadline when the process ends.
#include "mapptrack/dispatcher.h"

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
};

// Lets the C thread entry reach the private loop.
struct DispatcherAccess {
    static void* APR_THREAD_FUNC thread_main(apr_thread_t*, void* data) {
        auto* worker = static_cast<Dispatcher::Worker*>(data);
        worker->owner->run(*worker);
        return nullptr;
    }
};

namespace {

// A batch body stays under 1 MiB (as in queue.cpp), also when replayed.
constexpr std::size_t kMaxBatchBody = 1u << 20;

std::string describe(const OutboundResponse& r) {
    if (r.outcome == OutboundResponse::Outcome::Answered) return "HTTP " + std::to_string(r.status);
    return r.error.empty() ? std::string("no answer") : r.error;
}

OutboundRequest build_request(const std::vector<Delivery>& batch) {
    OutboundRequest request;
    const Delivery& first = batch.front();
    request.timeout_ms = first.options.timeout_ms;
    request.proxy = first.options.proxy;
    if (batch.size() == 1 && first.options.batch_size <= 1) {
        request.url = first.endpoint + "/" + first.line;
        if (!first.cookies.empty()) request.headers.push_back("Cookie: " + first.cookies);
        return request;
    }
    request.post = true;
    request.url = first.endpoint + "/batch";
    request.headers.push_back("Content-Type: text/plain");
    std::size_t size = 0;
    for (const Delivery& d : batch) size += d.line.size() + 1;
    request.body.reserve(size);
    for (const Delivery& d : batch) {
        if (!request.body.empty()) request.body.push_back('\n');
        request.body += d.line;
    }
    return request;
}

}  // namespace

Dispatcher::Dispatcher(const DispatcherOptions& options, TransportFactory factory, Logger log)
    : options_(options), factory_(std::move(factory)), log_(log),
      drain_deadline_ms_(options.drain_deadline.count()), threads_(std::make_unique<Threads>()) {
    const unsigned n = std::max(1u, options.threads);
    const std::size_t each = std::max<std::size_t>(1, options.queue_capacity / n);
    for (unsigned i = 0; i < n; ++i) queues_.push_back(std::make_unique<DeliveryQueue>(each));
}

std::size_t Dispatcher::queued_now() const {
    std::size_t n = 0;
    for (const auto& q : queues_) n += q->size();
    return n;
}

Dispatcher::~Dispatcher() {
    if (threads_ && threads_->pool) apr_pool_destroy(threads_->pool);
}

Dispatcher* Dispatcher::start(const DispatcherOptions& options, TransportFactory factory,
                              Logger log) noexcept {
    Dispatcher* d = nullptr;
    try {
        d = new Dispatcher(options, std::move(factory), log);
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
        for (unsigned i = 0; i < std::max(1u, options.threads); ++i) {
            auto worker = std::make_unique<Worker>();
            worker->owner = d;
            worker->index = i;
            d->running_.fetch_add(1);
            if (apr_thread_create(&worker->thread, nullptr, &DispatcherAccess::thread_main, worker.get(),
                                  d->threads_->pool) != APR_SUCCESS) {
                d->running_.fetch_sub(1);
                log(LogLevel::Error, "MT0002: cannot start a delivery thread");
                break;  // its queue would never drain
            }
            d->threads_->workers.push_back(std::move(worker));
        }
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        if (d->threads_->workers.size() != d->queues_.size()) {
            stop(d);
            return nullptr;
        }
        return d;
    } catch (...) {
        log(LogLevel::Error, "MT0003: out of memory starting the delivery threads");
        delete d;
        return nullptr;
    }
}

DeliveryQueue::PushResult Dispatcher::enqueue(Delivery&& delivery) noexcept {
    // push() leaves `delivery` intact when it refuses it.
    DeliveryQueue& queue = *queues_[delivery.visitor % queues_.size()];
    const auto result = queue.push(std::move(delivery));
    if (result == DeliveryQueue::PushResult::Queued) {
        Metrics::add(metrics_.queued, 1);
    } else if (result == DeliveryQueue::PushResult::Full && options_.spool) {
        try {
            if (options_.spool->append({delivery}) == 1) return DeliveryQueue::PushResult::Queued;
        } catch (...) {
        }
        Metrics::add(metrics_.dropped_queue_full, 1);
    } else if (result == DeliveryQueue::PushResult::Full) {
        Metrics::add(metrics_.dropped_queue_full, 1);
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
            if (batch.empty()) {
                if (stopping_.load() && queue.size() == 0) break;
                replay(*transport);
                continue;
            }
            // While the track server fails, hits wait in the spool; one batch
            // now and then probes whether it is back.
            if (failing_.load() && options_.spool && now_ms() < next_probe_ms_.load() && !stopping_.load()) {
                if (!to_spool(batch)) Metrics::add(metrics_.failed, batch.size());
                continue;
            }
            deliver(*transport, batch);
            if (queue.size() < queue.capacity() / 2) replay(*transport);
        }
    } catch (...) {
        log_(LogLevel::Error, "MT0004: a delivery thread failed unexpectedly and stopped");
    }
    running_.fetch_sub(1);
}

// Sleeps the backoff for `attempt` (0-based); false once the drain deadline has
// passed. While draining, retries go on: a short outage need not lose hits.
bool Dispatcher::wait_backoff(unsigned attempt) {
    thread_local std::minstd_rand random(static_cast<unsigned>(apr_time_now()) ^
                                         static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(&attempt)));
    const std::int64_t cap = options_.backoff_cap.count();
    std::int64_t delay = options_.backoff_base.count() << std::min(attempt, 20u);
    delay = std::min(delay, cap);
    // Jitter: between half and the full delay, so threads and children spread out.
    delay = delay / 2 + static_cast<std::int64_t>(random() % static_cast<unsigned>(delay / 2 + 1));
    const std::int64_t until = now_ms() + delay;
    while (now_ms() < until) {
        if (abort_.load()) return false;
        apr_sleep(apr_time_from_msec(std::min<std::int64_t>(20, until - now_ms() + 1)));
    }
    return true;
}

void Dispatcher::deliver(Transport& transport, std::vector<Delivery>& batch) {
    const OutboundRequest request = build_request(batch);
    const std::uint64_t n = batch.size();
    for (unsigned attempt = 0;; ++attempt) {
        if (abort_.load()) {
            if (!to_spool(batch)) Metrics::add(metrics_.lost_at_stop, n);
            return;
        }
        const OutboundResponse response = transport.perform(request);
        Metrics::add(metrics_.requests, 1);
        switch (classify(response)) {
            case Verdict::Delivered:
                Metrics::add(metrics_.delivered, n);
                probe_delay_ms_.store(0);
                if (failing_.exchange(false)) {
                    log_(LogLevel::Notice, "MT0102: delivery to " + batch.front().endpoint +
                                               " works again");
                }
                return;
            case Verdict::Rejected:
                Metrics::add(metrics_.rejected, n);
                if (failure_log_.allow(now_ms())) {
                    log_(LogLevel::Warn, "MT0103: track server " + batch.front().endpoint +
                                             " refused " + std::to_string(n) + " hit(s) with " +
                                             describe(response) +
                                             "; they are dropped (check MappTrackId and MappTrackDomain)");
                }
                return;
            case Verdict::Retry:
                break;
        }
        // A probe while failing gets one attempt: the rest waits in the spool.
        const unsigned retries = failing_.load() && options_.spool ? 0 : options_.retries;
        if (attempt >= retries || !wait_backoff(attempt)) {
            const bool spooled = to_spool(batch);
            if (!spooled) {
                Metrics::add(abort_.load() || stopping_.load() ? metrics_.lost_at_stop : metrics_.failed, n);
            }
            start_failing();
            if (failure_log_.allow(now_ms())) {
                log_(LogLevel::Error,
                     "MT0101: delivery to " + batch.front().endpoint + " failed after " +
                         std::to_string(attempt + 1) + " attempt(s): " + describe(response) + "; " +
                         std::to_string(n) + (spooled ? " hit(s) spooled to " + options_.spool->dir()
                                                      : std::string(" hit(s) lost")) +
                         "; " + std::to_string(metrics_.failed.load() + metrics_.lost_at_stop.load()) +
                         " lost in all in this process");
            }
            return;
        }
        Metrics::add(metrics_.retries, 1);
    }
}

bool Dispatcher::to_spool(const std::vector<Delivery>& batch, int wait_ms) noexcept {
    return options_.spool && options_.spool->append(batch, wait_ms) == batch.size();
}

// Probes back off from 1 s to probe_cap while the track server keeps failing.
void Dispatcher::start_failing() noexcept {
    failing_.store(true);
    const std::int64_t delay = std::min<std::int64_t>(
        options_.probe_cap.count(), std::max<std::int64_t>(1000, probe_delay_ms_.load() * 2));
    probe_delay_ms_.store(delay);
    next_probe_ms_.store(now_ms() + delay);
}

// Sends spooled hits, oldest segment first, one thread at a time (in order),
// only while deliveries work.
void Dispatcher::replay(Transport& transport) {
    Spool* spool = options_.spool;
    const std::int64_t now = now_ms();
    // While failing, a replay is the probe, when one is due.
    if (!spool || stopping_.load() || (failing_.load() && now < next_probe_ms_.load())) return;
    if (!spool->maybe_pending()) {
        // Segments of children that exited (graceful restart) appear later.
        if (now < next_scan_ms_.load()) return;
        spool->mark_pending();
    }
    if (replaying_.exchange(true)) return;
    next_scan_ms_.store(now + 5000);
    if (auto taken = spool->take()) {
        std::vector<Delivery>& records = taken->records;
        std::vector<Delivery> not_delivered;
        std::size_t i = 0;
        while (i < records.size()) {
            if (stopping_.load()) break;
            // A run of records for one endpoint, up to its batch size.
            std::vector<Delivery> batch;
            const std::size_t limit = std::max(1u, records[i].options.batch_size);
            std::size_t bytes = 0;
            while (i < records.size() && batch.size() < limit &&
                   (batch.empty() || (records[i].endpoint == batch.front().endpoint &&
                                      records[i].options.proxy == batch.front().options.proxy &&
                                      records[i].options.batch_size > 1 &&
                                      bytes + 1 + records[i].line.size() < kMaxBatchBody))) {
                bytes += (batch.empty() ? 0 : 1) + records[i].line.size();
                batch.push_back(std::move(records[i++]));
            }
            const OutboundResponse response = transport.perform(build_request(batch));
            Metrics::add(metrics_.requests, 1);
            const Verdict verdict = classify(response);
            if (verdict == Verdict::Delivered) {
                Metrics::add(metrics_.delivered, batch.size());
                probe_delay_ms_.store(0);
                if (failing_.exchange(false)) {
                    log_(LogLevel::Notice, "MT0102: delivery to " + batch.front().endpoint +
                                               " works again; replaying the spool");
                }
            } else if (verdict == Verdict::Rejected) {
                Metrics::add(metrics_.rejected, batch.size());
            } else {
                for (Delivery& d : batch) not_delivered.push_back(std::move(d));
                start_failing();
                break;
            }
        }
        for (; i < records.size(); ++i) not_delivered.push_back(std::move(records[i]));
        spool->done(std::move(*taken), not_delivered);
    }
    replaying_.store(false);
}

bool Dispatcher::stop(Dispatcher* d) noexcept {
    if (!d) return true;
    d->stopping_.store(true);
    for (auto& q : d->queues_) q->close();
    const auto wait_for_threads = [d](std::int64_t ms) {
        const std::int64_t until = now_ms() + ms;
        while (d->running_.load() > 0 && now_ms() < until) apr_sleep(apr_time_from_msec(10));
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
    } catch (...) {
    }
    const std::size_t unknown = d->queued_now();  // could not be taken (lock held)
    if (!left.empty() || unknown > 0) {
        const bool spooled = !left.empty() && d->to_spool(left, 200);
        const std::size_t lost = (spooled ? 0 : left.size()) + unknown;
        Metrics::add(d->metrics_.lost_at_stop, lost);
        d->log_(lost ? LogLevel::Warn : LogLevel::Info,
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
    for (auto& worker : d->threads_->workers) {
        apr_status_t rv;
        apr_thread_join(&rv, worker->thread);
    }
    delete d;
    return true;
}

}  // namespace mapptrack
