// How many request workers, server-wide, may wait on the track server at the
// same time (the relay, MappTrackMode sync). Beyond MappTrackMaxWaitingWorkers
// a request does not wait: it answers at once and queues the hit, so a hanging
// track server can never take all of MaxRequestWorkers.
#pragma once

#include <httpd.h>

namespace mapptrack::httpd {

// A held place among the waiting workers; released when it goes out of scope.
class WaitSlot {
public:
    WaitSlot() = default;
    explicit WaitSlot(int* counter) : counter_(counter) {}
    WaitSlot(WaitSlot&& other) noexcept : counter_(other.counter_) { other.counter_ = nullptr; }
    WaitSlot& operator=(WaitSlot&&) = delete;
    WaitSlot(const WaitSlot&) = delete;
    ~WaitSlot();
    explicit operator bool() const { return counter_ != nullptr; }

private:
    int* counter_ = nullptr;
};

// A place, or an empty slot when the limit is reached (then do not wait).
WaitSlot try_wait_slot() noexcept;

// post_config: the counter lives in anonymous shared memory of this
// generation, inherited by its children; the limit is resolved here.
apr_status_t create_wait_counter(apr_pool_t* pconf, server_rec* s);

// The limit in force (for messages).
int waiting_workers_limit() noexcept;

}  // namespace mapptrack::httpd
