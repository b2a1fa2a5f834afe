// Per-endpoint failure state (endpoint_health.h). One short lock per call:
// it is asked once per batch, never per hit.
#include "mapptrack/endpoint_health.h"

#include <algorithm>
#include <iterator>
#include <limits>

namespace mapptrack {
namespace {

// Relayed requests name any subset of the track IDs: bound the table.
constexpr std::size_t kMaxEndpoints = 4096;

template <typename Map>
void forget_healthy(Map& states) {
    if (states.size() <= kMaxEndpoints) return;
    for (auto it = states.begin(); it != states.end();) {
        it = it->second.failures == 0 ? states.erase(it) : std::next(it);
    }
}

}  // namespace

bool EndpointHealth::failing(std::string_view endpoint) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = states_.find(std::string(endpoint));
    return it != states_.end() && it->second.failures > 0;
}

unsigned EndpointHealth::failures(std::string_view endpoint) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = states_.find(std::string(endpoint));
    return it == states_.end() ? 0 : it->second.failures;
}

bool EndpointHealth::due(std::string_view endpoint, std::int64_t now_ms) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = states_.find(std::string(endpoint));
    return it == states_.end() || it->second.failures == 0 || now_ms >= it->second.due_ms;
}

std::int64_t EndpointHealth::next_due_ms() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::int64_t next = std::numeric_limits<std::int64_t>::max();
    for (const auto& [endpoint, state] : states_) {
        if (state.failures > 0) next = std::min(next, state.due_ms);
    }
    return next;
}

void EndpointHealth::on_delivered(std::string_view endpoint, std::int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    forget_healthy(states_);
    State& state = states_[std::string(endpoint)];
    state.failures = 0;
    state.due_ms = 0;
    state.unresolvable_since_ms = 0;
    state.delivered = true;
    last_delivery_ms_ = std::max(last_delivery_ms_, now_ms);
}

std::int64_t EndpointHealth::backoff_ms(unsigned failures) const {
    const std::int64_t cap = options_.backoff_cap.count();
    std::int64_t delay = options_.backoff_base.count() << std::min(failures ? failures - 1 : 0u, 20u);
    return std::max<std::int64_t>(1, std::min(delay, cap));
}

unsigned EndpointHealth::on_failed(std::string_view endpoint, OutboundResponse::Outcome outcome,
                                   std::int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    forget_healthy(states_);
    State& state = states_[std::string(endpoint)];
    ++state.failures;
    // Jitter: between half and all of the delay, so children spread out.
    jitter_ = jitter_ * 1664525u + 1013904223u;
    const std::int64_t delay = backoff_ms(state.failures);
    state.due_ms = now_ms + delay / 2 + static_cast<std::int64_t>((jitter_ >> 8) % (delay / 2 + 1));
    if (outcome == OutboundResponse::Outcome::Unresolvable) {
        if (state.unresolvable_since_ms == 0) state.unresolvable_since_ms = now_ms;
    } else {
        state.unresolvable_since_ms = 0;
    }
    return state.failures;
}

bool EndpointHealth::given_up(std::string_view endpoint, std::int64_t now_ms) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = states_.find(std::string(endpoint));
    if (it == states_.end() || it->second.unresolvable_since_ms == 0) return false;
    const std::int64_t since = it->second.unresolvable_since_ms;
    return now_ms - since >= options_.give_up_unresolvable.count() && last_delivery_ms_ > since;
}

bool EndpointHealth::ever_delivered(std::string_view endpoint) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = states_.find(std::string(endpoint));
    return it != states_.end() && it->second.delivered;
}

unsigned EndpointHealth::attempt_timeout_ms(std::string_view endpoint, unsigned base) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = states_.find(std::string(endpoint));
    return it == states_.end() ? base : std::max(base, it->second.timeout_ms);
}

void EndpointHealth::on_timed_out(std::string_view endpoint, unsigned used_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    State& state = states_[std::string(endpoint)];
    state.timeout_ms = std::min(kMaxAttemptTimeoutMs, std::max(used_ms, 1u) * 2);
}

void EndpointHealth::on_answered(std::string_view endpoint, std::int64_t round_trip_ms, unsigned used_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = states_.find(std::string(endpoint));
    if (it == states_.end() || it->second.timeout_ms == 0) return;
    if (round_trip_ms * 4 < static_cast<std::int64_t>(used_ms)) it->second.timeout_ms = used_ms / 2;
}

std::int64_t EndpointHealth::last_delivery_ms() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_delivery_ms_;
}

}  // namespace mapptrack
