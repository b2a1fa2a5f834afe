// Per-endpoint failure state (the circuit breaker): a track domain + IDs that
// fails is backed off and probed on its own, so it never holds up another.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mapptrack/transport.h"

namespace mapptrack {

struct EndpointHealthOptions {
    std::chrono::milliseconds backoff_base{200};  // first wait after a failure; doubled per failure
    std::chrono::milliseconds backoff_cap{10000};  // longest wait between attempts
    // A host that cannot be resolved for this long, while other endpoints
    // deliver, is given up: its hits are dropped instead of kept forever.
    // (When no endpoint delivers, the fault is more likely the server's own
    // DNS, and nothing is given up.)
    std::chrono::milliseconds give_up_unresolvable{std::chrono::minutes(10)};
};

class EndpointHealth {
public:
    explicit EndpointHealth(const EndpointHealthOptions& options) : options_(options) {}

    // True while the endpoint is failing: new hits for it wait (spool or
    // retry list) behind the ones already waiting, instead of being tried.
    bool failing(std::string_view endpoint) const;

    // Consecutive failed attempts (0: healthy).
    unsigned failures(std::string_view endpoint) const;

    // True when a failing endpoint may be tried again (its backoff is over).
    bool due(std::string_view endpoint, std::int64_t now_ms) const;

    // Earliest time a failing endpoint is due; INT64_MAX when none fails.
    std::int64_t next_due_ms() const;

    void on_delivered(std::string_view endpoint, std::int64_t now_ms);
    // A failed attempt (connect failure, timeout, 408/429/5xx): the endpoint
    // fails until a later attempt works. Returns the consecutive failures.
    unsigned on_failed(std::string_view endpoint, OutboundResponse::Outcome outcome,
                       std::int64_t now_ms);

    // True once the endpoint's host has failed to resolve for
    // give_up_unresolvable while some other endpoint delivered meanwhile.
    bool given_up(std::string_view endpoint, std::int64_t now_ms) const;

    // True when the endpoint has ever delivered (then a refused batch is
    // more likely one bad hit than a wrong track ID).
    bool ever_delivered(std::string_view endpoint) const;

    // The last time any endpoint delivered (0: never).
    std::int64_t last_delivery_ms() const;

    // How long an asynchronous attempt may wait: `base` (MappTrackTimeout),
    // or longer for a slow endpoint. Nobody waits for these attempts, and a
    // timed-out one may still be counted by the track server, so each timeout
    // doubles the wait (up to kMaxAttemptTimeoutMs) and it is halved again
    // only once answers come in under a quarter of it.
    unsigned attempt_timeout_ms(std::string_view endpoint, unsigned base) const;
    void on_timed_out(std::string_view endpoint, unsigned used_ms);
    void on_answered(std::string_view endpoint, std::int64_t round_trip_ms, unsigned used_ms);
    static constexpr unsigned kMaxAttemptTimeoutMs = 60000;

private:
    struct State {
        unsigned failures = 0;
        std::int64_t due_ms = 0;
        std::int64_t unresolvable_since_ms = 0;  // 0: resolving works
        bool delivered = false;
        unsigned timeout_ms = 0;  // 0: the configured one
    };
    std::int64_t backoff_ms(unsigned failures) const;

    EndpointHealthOptions options_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, State> states_;
    std::int64_t last_delivery_ms_ = 0;
    std::uint32_t jitter_ = 0x9E3779B9u;
};

}  // namespace mapptrack
