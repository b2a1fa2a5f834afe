// The inspector's ring of hits in shared memory (inspect_store.h). Offsets
// only inside the block; each slot under a sequence lock.
#include "mapptrack/inspect_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

namespace mapptrack {
namespace {

constexpr std::uint64_t kMagic = 0x4d54494e53503031ull;  // "MTINSP01"
constexpr std::uint32_t kLayout = 1;
constexpr std::size_t kMaxIds = 127;
constexpr std::size_t kMaxMethod = 7;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "address-free atomics");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "address-free atomics");

struct Header {
    std::uint64_t magic;
    std::uint32_t layout;
    std::uint32_t capacity;
    std::uint64_t bytes;
    std::atomic<std::uint64_t> next;  // numbers handed out so far
};

struct Slot {
    std::atomic<std::uint32_t> seq;     // odd while written
    std::atomic<std::uint64_t> number;  // 0: empty
    std::int64_t received_ms;
    std::uint32_t line_len, cookie_len, ids_len, method_len;
    std::uint8_t truncated;
    char ids[kMaxIds];
    char method[kMaxMethod];
    char cookie[kMaxStoredCookie];
    char line[kMaxStoredLine];
};

constexpr std::size_t align(std::size_t n) { return (n + 63) & ~std::size_t(63); }
constexpr std::size_t kSlotBytes = align(sizeof(Slot));

Header* header(unsigned char* base) { return reinterpret_cast<Header*>(base); }
Slot* slot(unsigned char* base, std::size_t i) {
    return reinterpret_cast<Slot*>(base + align(sizeof(Header)) + i * kSlotBytes);
}

std::uint32_t copy_cut(char* out, std::string_view in, std::size_t max) {
    const std::size_t n = std::min(in.size(), max);
    if (n) std::memcpy(out, in.data(), n);  // an empty view may have no data
    return static_cast<std::uint32_t>(n);
}

}  // namespace

std::size_t InspectStore::bytes_for(unsigned hits) noexcept {
    return align(sizeof(Header)) + kSlotBytes * std::max(1u, hits);
}

std::optional<InspectStore> InspectStore::create(void* memory, std::size_t bytes, unsigned hits) noexcept {
    if (!memory || hits < 1 || bytes < bytes_for(hits)) return std::nullopt;
    auto* base = static_cast<unsigned char*>(memory);
    // Only the header and each slot's head: the lines stay untouched (and
    // an anonymous segment's pages unallocated) until a hit comes.
    std::memset(base, 0, align(sizeof(Header)));
    Header* h = new (base) Header{};
    h->layout = kLayout;
    h->capacity = hits;
    h->bytes = bytes;
    for (unsigned i = 0; i < hits; ++i) {
        Slot* s = slot(base, i);
        new (&s->seq) std::atomic<std::uint32_t>(0);
        new (&s->number) std::atomic<std::uint64_t>(0);
    }
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = kMagic;
    return InspectStore(memory);
}

std::optional<InspectStore> InspectStore::attach(void* memory, std::size_t bytes) noexcept {
    if (!memory || bytes < sizeof(Header)) return std::nullopt;
    const Header* h = header(static_cast<unsigned char*>(memory));
    if (h->magic != kMagic || h->layout != kLayout || h->capacity < 1) return std::nullopt;
    if (bytes_for(h->capacity) > bytes) return std::nullopt;
    return InspectStore(memory);
}

void InspectStore::add(std::string_view track_ids, std::string_view line, std::string_view cookie,
                       std::string_view method, std::int64_t received_ms) noexcept {
    Header* h = header(base_);
    const std::uint64_t number = h->next.fetch_add(1) + 1;
    Slot* s = slot(base_, (number - 1) % h->capacity);
    std::uint32_t seq = s->seq.load(std::memory_order_relaxed);
    // A writer still on this slot (a full lap ago): this hit is dropped.
    if ((seq & 1) || !s->seq.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire)) return;
    s->number.store(0, std::memory_order_relaxed);
    s->received_ms = received_ms;
    s->ids_len = copy_cut(s->ids, track_ids, kMaxIds);
    s->method_len = copy_cut(s->method, method, kMaxMethod);
    s->cookie_len = copy_cut(s->cookie, cookie, kMaxStoredCookie);
    s->line_len = copy_cut(s->line, line, kMaxStoredLine);
    s->truncated = line.size() > kMaxStoredLine ? 1 : 0;
    s->number.store(number, std::memory_order_relaxed);
    s->seq.store(seq + 2, std::memory_order_release);
}

std::vector<StoredHit> InspectStore::recent(std::size_t limit) const {
    Header* h = header(base_);
    std::vector<StoredHit> out;
    const std::uint64_t last = h->next.load();
    const std::uint64_t capacity = h->capacity;
    for (std::uint64_t n = last; n > 0 && last - n < capacity && out.size() < limit; --n) {
        Slot* s = slot(base_, (n - 1) % capacity);
        for (int attempt = 0; attempt < 100; ++attempt) {
            const std::uint32_t before = s->seq.load(std::memory_order_acquire);
            if (before & 1) continue;
            if (s->number.load(std::memory_order_relaxed) != n) break;  // overwritten, or never written
            StoredHit hit;
            hit.number = n;
            hit.received_ms = s->received_ms;
            hit.track_ids.assign(s->ids, std::min<std::size_t>(s->ids_len, kMaxIds));
            hit.method.assign(s->method, std::min<std::size_t>(s->method_len, kMaxMethod));
            hit.cookie.assign(s->cookie, std::min<std::size_t>(s->cookie_len, kMaxStoredCookie));
            hit.line.assign(s->line, std::min<std::size_t>(s->line_len, kMaxStoredLine));
            hit.truncated = s->truncated != 0;
            std::atomic_thread_fence(std::memory_order_acquire);
            if (s->seq.load(std::memory_order_relaxed) == before && s->number.load(std::memory_order_relaxed) == n) {
                out.push_back(std::move(hit));
                break;
            }
        }
    }
    return out;
}

void InspectStore::clear() noexcept {
    Header* h = header(base_);
    for (std::uint32_t i = 0; i < h->capacity; ++i) slot(base_, i)->number.store(0, std::memory_order_relaxed);
}

}  // namespace mapptrack
