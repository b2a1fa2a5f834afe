// Delivery threads: take batches from the queue and send each once
// (dispatcher_send.cpp); what fails waits for the redelivery thread
// (redelivery.cpp), so a failing endpoint never holds up another. Stops
// within a deadline at process end; what is left is drained
// (dispatcher_drain.cpp).
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
    d->drain_leftovers(deadline_ms);
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
