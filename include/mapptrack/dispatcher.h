// Per-process delivery: a bounded queue served by background APR threads,
// each with its own transport, and one redelivery thread for what failed
// (retries, the spool). Started in child_init, stopped by a pool pre-cleanup
// that drains with a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mapptrack/defaults.h"
#include "mapptrack/delivery.h"
#include "mapptrack/endpoint_health.h"
#include "mapptrack/log.h"
#include "mapptrack/metrics.h"
#include "mapptrack/queue.h"
#include "mapptrack/spool.h"
#include "mapptrack/status.h"
#include "mapptrack/transport.h"

namespace mapptrack {

// The delivery options the current configuration has for an endpoint of a
// replayed spool record, or nullopt when no configuration sends there any
// more (the record is then dropped and counted, never sent).
using EndpointResolver = std::function<std::optional<DeliveryOptions>(std::string_view endpoint)>;

struct DispatcherOptions {
    unsigned threads = defaults::kThreads;
    std::size_t queue_capacity = defaults::kQueueSize;
    unsigned retries = defaults::kRetries;             // attempts after the first
    std::chrono::milliseconds backoff_base{200};       // doubled per failure, with jitter
    std::chrono::milliseconds backoff_cap{10000};      // longest pause between attempts
    std::chrono::milliseconds drain_deadline{5000};    // at stop
    std::chrono::milliseconds give_up_unresolvable{std::chrono::minutes(10)};
    Spool* spool = nullptr;  // not owned; nullptr: hits wait in memory, and are lost after `retries`
    EndpointResolver resolve;  // empty: every well-formed record is sent with default options
    // Server-wide figures (not owned); nullptr: only this process's Metrics.
    StatusTable* status = nullptr;
    // LogLevel mapptrack:debug: each hit as sent, each delivery's outcome and time.
    bool debug_log = false;
};

// Builds one transport per thread; `abort` is set when the drain deadline passes.
using TransportFactory =
    std::function<std::unique_ptr<Transport>(const std::atomic<bool>* abort)>;

class Dispatcher {
public:
    // Owning a dispatcher means stopping it: the handle's deleter is stop().
    struct Stopper {
        void operator()(Dispatcher* d) const noexcept { Dispatcher::stop(d); }
    };
    using Handle = std::unique_ptr<Dispatcher, Stopper>;

    // Starts the threads. Empty (logged) if no thread could be started.
    static Handle start(const DispatcherOptions& options, TransportFactory factory, Logger log) noexcept;

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
    struct Threads;
    Dispatcher(const DispatcherOptions& options, TransportFactory factory, Logger log);
    ~Dispatcher();
    friend struct DispatcherAccess;

    // dispatcher.cpp: the delivery threads.
    void run(Worker& worker) noexcept;

    // dispatcher_send.cpp: one attempt, and what a failure leads to.
    // Sends a batch once; returns the hits that need another attempt (none
    // when delivered or dropped for good). A refused batch of an endpoint
    // that has delivered before is split, so one bad hit costs only itself.
    std::vector<Delivery> send(Transport& transport, std::vector<Delivery>&& batch,
                               std::string* why = nullptr);
    // After a failed attempt: logs when hits reach MappTrackRetries, and
    // without a spool (`in_memory`) gives those up. Returns what waits.
    std::vector<Delivery> after_failure(std::vector<Delivery>&& failed, const std::string& why,
                                        bool in_memory);
    // Hits of a failing endpoint wait: in the spool, or without one in the
    // retry list. Never blocks on the track server.
    void park(std::vector<Delivery>&& batch) noexcept;
    bool to_spool(const std::vector<Delivery>& batch, int wait_ms = -1) noexcept;

    // dispatcher_drain.cpp: at stop, what is left goes to the spool or is
    // counted as lost (MT0202).
    void drain_leftovers(std::int64_t deadline_ms) noexcept;

    // redelivery.cpp: the redelivery thread (retries); spool_replay.cpp: replay.
    void run_redelivery() noexcept;
    void retry_parked(Transport& transport);
    void replay_spool(Transport& transport);
    // Tries again what waits, endpoint by endpoint: a failing endpoint's hits
    // stay (in order), the others go on. Returns the hits still waiting;
    // `changed` says whether anything was sent or dropped.
    std::vector<Delivery> redeliver(Transport& transport, std::vector<Delivery>&& records,
                                    bool from_spool, bool* changed);
    bool validate_replayed(Delivery& record);

    // The server-wide figures, counted in each hit's own row.
    template <typename What>
    void tally(const std::vector<Delivery>& hits, What what) noexcept {
        if (options_.status) for (const Delivery& d : hits) options_.status->add(d.options.status_row, what);
    }
    template <typename What>
    void tally(const Delivery& hit, What what) noexcept {
        if (options_.status) options_.status->add(hit.options.status_row, what);
    }
    void publish_queue_depth() noexcept {
        if (options_.status) options_.status->set_queue_depth(child_, queued_total_.load(std::memory_order_relaxed));
    }
    void record_error(const Delivery& hit, const std::string& why) noexcept;
    // Redelivery thread: this child's spool bytes, and segments the spool
    // dropped when full (counted in row 0: their hits' rows are not read).
    void publish_spool_gauges() noexcept;

    DispatcherOptions options_;
    TransportFactory factory_;
    Logger log_;
    // One queue per thread, bounded together by MappTrackQueueSize: a
    // visitor's hits always take the same queue and thread.
    std::atomic<std::size_t> queued_total_{0};  // over all queues: MappTrackQueueSize
    std::vector<std::unique_ptr<DeliveryQueue>> queues_;
    Metrics metrics_;
    EndpointHealth health_;
    std::atomic<std::int64_t> drain_deadline_ms_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> abort_{false};
    std::atomic<unsigned> running_{0};
    // A thread's last act: stop() waits on this, not by polling.
    std::mutex stopped_mutex_;
    std::condition_variable stopped_;
    void thread_done() noexcept;
    std::atomic<unsigned> delivering_{0};  // delivery threads still running
    RateLimit failure_log_{60000};
    RateLimit recovery_log_{60000};
    RateLimit full_log_{60000};
    RateLimit refused_log_{60000};
    RateLimit invalid_log_{60000};
    RateLimit given_up_log_{60000};
    RateLimit record_log_{60000};
    RateLimit poison_log_{60000};
    RateLimit resent_log_{60000};
    RateLimit spill_log_{60000};
    // Without a spool, hits of failing endpoints wait here (bounded by the
    // queue capacity); the redelivery thread tries them again.
    std::mutex parked_mutex_;
    std::condition_variable parked_wake_;
    std::deque<Delivery> parked_;
    bool wake_redelivery_ = false;
    // Redelivery thread only: endpoints of the spool segments it kept, so a
    // segment whose endpoints all still fail is not read again.
    std::unordered_map<std::string, std::set<std::string>> segment_endpoints_;
    std::int64_t next_scan_ms_ = 0;
    std::unique_ptr<Threads> threads_;
    ChildId child_ = kNoChild;                // this process's gauges in options_.status
    std::uint64_t spool_dropped_seen_ = 0;    // redelivery thread: the spool's dropped_full, as last counted
};

}  // namespace mapptrack
