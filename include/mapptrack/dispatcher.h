// Per-process delivery: a bounded queue served by background APR threads,
// each with its own transport. Started in child_init, stopped by a pool
// pre-cleanup that drains with a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "mapptrack/delivery.h"
#include "mapptrack/log.h"
#include "mapptrack/metrics.h"
#include "mapptrack/queue.h"
#include "mapptrack/spool.h"
#include "mapptrack/transport.h"

namespace mapptrack {

struct DispatcherOptions {
    unsigned threads = 2;
    std::size_t queue_capacity = 10000;
    unsigned retries = 5;                              // attempts after the first
    std::chrono::milliseconds backoff_base{200};       // doubled per retry, with jitter
    std::chrono::milliseconds backoff_cap{10000};
    std::chrono::milliseconds drain_deadline{5000};    // at stop
    Spool* spool = nullptr;  // not owned; nullptr: undeliverable hits are lost (counted)
    std::chrono::milliseconds probe_cap{10000};        // longest pause between probes while failing
};

// Builds one transport per thread; `abort` is set when the drain deadline passes.
using TransportFactory =
    std::function<std::unique_ptr<Transport>(const std::atomic<bool>* abort)>;

class Dispatcher {
public:
    // Starts the threads. nullptr (logged) if no thread could be started.
    static Dispatcher* start(const DispatcherOptions& options, TransportFactory factory,
                             Logger log) noexcept;

    // Never blocks on I/O while the queue has room; a full queue sends the
    // hit to the spool (a short append), or refuses it (counted) without one.
    DeliveryQueue::PushResult enqueue(Delivery&& delivery) noexcept;

    // Stops taking hits, delivers what is queued until the deadline, then
    // aborts transfers, spools what is left and joins. Deletes the dispatcher
    // and returns true, unless a thread did not end in time (then its memory
    // is left to the exiting process and false is returned).
    static bool stop(Dispatcher* dispatcher) noexcept;

    // A hard stop leaves less time than a graceful one (httpd warns, then
    // kills, children that take longer than 3 s to exit).
    void set_drain_deadline(std::chrono::milliseconds deadline) noexcept {
        drain_deadline_ms_.store(deadline.count());
    }

    const Metrics& metrics() const { return metrics_; }
    std::size_t queued_now() const;

private:
    struct Worker;
    Dispatcher(const DispatcherOptions& options, TransportFactory factory, Logger log);
    ~Dispatcher();
    void run(Worker& worker) noexcept;
    void deliver(Transport& transport, std::vector<Delivery>& batch);
    bool wait_backoff(unsigned attempt);
    bool to_spool(const std::vector<Delivery>& batch, int wait_ms = -1) noexcept;
    void start_failing() noexcept;
    void replay(Transport& transport);
    friend struct DispatcherAccess;

    DispatcherOptions options_;
    TransportFactory factory_;
    Logger log_;
    // One queue per thread (MappTrackQueueSize shared out): a visitor's hits
    // always take the same queue and thread.
    std::vector<std::unique_ptr<DeliveryQueue>> queues_;
    Metrics metrics_;
    std::atomic<std::int64_t> drain_deadline_ms_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> abort_{false};
    std::atomic<unsigned> running_{0};
    RateLimit failure_log_{60000};
    RateLimit full_log_{60000};
    std::atomic<bool> failing_{false};
    std::atomic<std::int64_t> next_probe_ms_{0};
    std::atomic<std::int64_t> probe_delay_ms_{0};
    std::atomic<bool> replaying_{false};
    std::atomic<std::int64_t> next_scan_ms_{0};
    struct Threads;
    std::unique_ptr<Threads> threads_;
};

}  // namespace mapptrack
