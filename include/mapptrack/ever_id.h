// Mapp ever-IDs (visitor IDs): validation and generation of server-set IDs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mapptrack {

// Exactly 19 ASCII digits.
bool is_valid_ever_id(std::string_view id);

// `4` + 10-digit Unix seconds + 8 random digits from the kernel's CSPRNG.
// No ID repeats within a process (a draw that repeats one issued in the same
// second is drawn again). Thread-safe. nullopt only if the kernel has no
// randomness to give.
std::optional<std::string> generate_ever_id(std::int64_t unix_seconds);

}  // namespace mapptrack
