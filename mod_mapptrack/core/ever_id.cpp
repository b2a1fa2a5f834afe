// Ever-ID validation and generation (Mapp's format: prefix, Unix seconds, 8 random digits).
#include "mapptrack/ever_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <unordered_set>

namespace mapptrack {
namespace {

// Suffixes issued in the latest two seconds, so that no ID repeats in this
// process even when threads with clocks a second apart interleave.
struct IssuedThisSecond {
    std::mutex mutex;
    std::int64_t second = -1;
    std::unordered_set<std::uint32_t> suffixes;
    std::unordered_set<std::uint32_t> previous;  // second - 1
};

IssuedThisSecond& issued() {
    // Leaked on purpose: no global object with a destructor (exit order).
    static auto* state = new IssuedThisSecond;
    return *state;
}

std::optional<std::uint32_t> random_below_1e8() {
    constexpr std::uint32_t kLimit = 4200000000u;  // 42 * 10^8: rejection keeps it uniform
    for (;;) {
        std::uint32_t value;
        const ssize_t got = getrandom(&value, sizeof value, 0);
        if (got != static_cast<ssize_t>(sizeof value)) {
            if (got < 0 && errno == EINTR) continue;
            return std::nullopt;
        }
        if (value < kLimit) return value % 100000000u;
    }
}

}  // namespace

bool is_valid_ever_id(std::string_view id) {
    if (id.size() != 19) return false;
    for (char c : id) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::optional<std::string> generate_ever_id(std::int64_t unix_seconds) {
    if (unix_seconds < 0 || unix_seconds > 9999999999LL) return std::nullopt;
    IssuedThisSecond& state = issued();
    std::uint32_t suffix = 0;
    {
        std::lock_guard<std::mutex> lock(state.mutex);
        if (unix_seconds > state.second) {
            if (unix_seconds == state.second + 1) {
                state.previous.swap(state.suffixes);
            } else {
                state.previous.clear();
            }
            state.suffixes.clear();
            state.second = unix_seconds;
        }
        auto& issued_set = unix_seconds == state.second ? state.suffixes : state.previous;
        for (;;) {
            const auto drawn = random_below_1e8();
            if (!drawn) return std::nullopt;
            if (issued_set.insert(*drawn).second) {
                suffix = *drawn;
                break;
            }
        }
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "4%010lld%08u", static_cast<long long>(unix_seconds),
                  static_cast<unsigned>(suffix));
    return std::string(buf);
}

}  // namespace mapptrack
