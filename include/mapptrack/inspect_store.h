// The inspector's memory: the last N hits received, in a block of shared
// memory that every child writes into and reads (a ring; a slot being
// written is skipped by readers). The host makes the block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

struct StoredHit {
    std::uint64_t number = 0;     // 1, 2, … in arrival order
    std::int64_t received_ms = 0;
    std::string track_ids;
    std::string line;             // cut at kMaxStoredLine (then `truncated`)
    std::string cookie;
    std::string method;           // "GET" or "POST" (from a batch)
    bool truncated = false;
};

inline constexpr std::size_t kMaxStoredLine = 16384;
inline constexpr std::size_t kMaxStoredCookie = 2048;

class InspectStore {
public:
    static std::size_t bytes_for(unsigned hits) noexcept;
    static std::optional<InspectStore> create(void* memory, std::size_t bytes, unsigned hits) noexcept;
    static std::optional<InspectStore> attach(void* memory, std::size_t bytes) noexcept;

    void add(std::string_view track_ids, std::string_view line, std::string_view cookie,
             std::string_view method, std::int64_t received_ms) noexcept;
    // Newest first, at most `limit`.
    std::vector<StoredHit> recent(std::size_t limit) const;
    void clear() noexcept;

private:
    explicit InspectStore(void* memory) : base_(static_cast<unsigned char*>(memory)) {}
    unsigned char* base_;
};

}  // namespace mapptrack
