// Logging from the core goes through a sink injected by the host (httpd glue
// forwards to ap_log_error); the core never includes httpd headers.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace mapptrack {

enum class LogLevel { Error, Warn, Notice, Info, Debug };

// `file` and `line` are the call site's, so that httpd's log (ErrorLogFormat
// %F, or LogLevel debug) shows where a core message comes from.
using LogSink = void (*)(void* baton, LogLevel level, const std::string& message, const char* file,
                         int line) noexcept;

struct Logger {
    LogSink sink = nullptr;
    void* baton = nullptr;

    void operator()(LogLevel level, const std::string& message, const char* file = __builtin_FILE(),
                    int line = __builtin_LINE()) const noexcept;
};

// Lets a message through at most once per interval (lock-free, any thread).
class RateLimit {
public:
    explicit RateLimit(std::int64_t interval_ms) : interval_ms_(interval_ms) {}
    bool allow(std::int64_t now_ms) noexcept;

private:
    std::int64_t interval_ms_;
    std::atomic<std::int64_t> next_ms_{0};
};

std::int64_t now_ms() noexcept;  // wall clock, ms since the epoch

}  // namespace mapptrack
