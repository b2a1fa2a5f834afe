// The injected log sink and a lock-free rate limit for repeated messages.
#include "mapptrack/log.h"

#include <chrono>

namespace mapptrack {

void Logger::operator()(LogLevel level, const std::string& message, const char* file, int line) const noexcept {
    if (sink) sink(baton, level, message, file, line);
}

bool RateLimit::allow(std::int64_t now) noexcept {
    std::int64_t next = next_ms_.load(std::memory_order_relaxed);
    if (now < next) return false;
    return next_ms_.compare_exchange_strong(next, now + interval_ms_, std::memory_order_relaxed);
}

std::int64_t now_ms() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace mapptrack
