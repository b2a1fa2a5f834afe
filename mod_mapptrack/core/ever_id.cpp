// Ever-ID validation and generation (Mapp's format: prefix, Unix seconds, 8 random digits).
#include "mapptrack/ever_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <utility>

namespace mapptrack {
namespace {

// The suffixes issued in one second: an open-addressing set of 32-bit values
// that keeps its memory from one second to the next, so that issuing an ID
// allocates nothing once it has grown to the traffic (a node-based set
// allocated once per ID, under the lock).
class SuffixSet {
public:
    // False if `v` was in the set already.
    bool insert(std::uint32_t v) {
        if ((used_ + 1) * 2 > capacity_) grow();
        std::size_t i = slot_of(v);
        while (slots_[i] != kEmpty) {
            if (slots_[i] == v) return false;
            i = (i + 1) & (capacity_ - 1);
        }
        slots_[i] = v;
        ++used_;
        return true;
    }
    void clear() {
        if (used_ == 0) return;
        std::memset(slots_, 0xFF, capacity_ * sizeof *slots_);
        used_ = 0;
    }

private:
    static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;  // suffixes are below 10^8
    std::size_t slot_of(std::uint32_t v) const {
        const std::uint32_t h = v * 0x9E3779B1u;  // suffixes are random; this only spreads runs
        return (h ^ (h >> 16)) & (capacity_ - 1);
    }
    void grow() {
        const std::size_t capacity = capacity_ ? capacity_ * 2 : 1024;
        auto* slots = new std::uint32_t[capacity];  // throws before anything changed
        std::memset(slots, 0xFF, capacity * sizeof *slots);
        std::uint32_t* old = slots_;
        const std::size_t old_capacity = capacity_;
        slots_ = slots;
        capacity_ = capacity;
        for (std::size_t k = 0; k < old_capacity; ++k) {
            if (old[k] == kEmpty) continue;
            std::size_t i = slot_of(old[k]);
            while (slots_[i] != kEmpty) i = (i + 1) & (capacity_ - 1);
            slots_[i] = old[k];
        }
        delete[] old;
    }

    std::uint32_t* slots_ = nullptr;
    std::size_t capacity_ = 0;  // a power of two
    std::size_t used_ = 0;
};

// Suffixes issued in the latest two seconds, so that no ID repeats in this
// process even when threads with clocks a second apart interleave. The lock
// covers a set lookup only: the random draw (a syscall) happens before it.
struct IssuedThisSecond {
    std::mutex mutex;
    std::int64_t second = -1;
    SuffixSet* suffixes = new SuffixSet;
    SuffixSet* previous = new SuffixSet;  // second - 1
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

// True if `suffix` was not issued for `unix_seconds` yet (and now is).
bool claim(std::int64_t unix_seconds, std::uint32_t suffix) {
    IssuedThisSecond& state = issued();
    std::lock_guard<std::mutex> lock(state.mutex);
    if (unix_seconds > state.second) {
        if (unix_seconds == state.second + 1) {
            std::swap(state.previous, state.suffixes);
        } else {
            state.previous->clear();
        }
        state.suffixes->clear();
        state.second = unix_seconds;
    }
    SuffixSet& set = unix_seconds == state.second ? *state.suffixes : *state.previous;
    return set.insert(suffix);
}

// Writes `value` as exactly `width` decimal digits, zero-padded, ending at `end`.
void put_digits(char* end, std::uint64_t value, int width) {
    for (int k = 0; k < width; ++k) {
        *--end = static_cast<char>('0' + value % 10);
        value /= 10;
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
    std::uint32_t suffix = 0;
    for (;;) {  // a draw that repeats one issued in the same second is drawn again
        const auto drawn = random_below_1e8();
        if (!drawn) return std::nullopt;
        if (claim(unix_seconds, *drawn)) {
            suffix = *drawn;
            break;
        }
    }
    // "4" + 10 digits of seconds + 8 digits of suffix, without printf.
    std::string id(19, '4');
    put_digits(id.data() + 11, static_cast<std::uint64_t>(unix_seconds), 10);
    put_digits(id.data() + 19, suffix, 8);
    return id;
}

}  // namespace mapptrack
