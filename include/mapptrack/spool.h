// The disk spool: where hits wait while the track server fails, when the
// queue is full, and across restarts. Append-only segment files per process,
// records framed with length and CRC so a torn or corrupted record is
// detected and skipped, never misread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mapptrack/defaults.h"
#include "mapptrack/delivery.h"
#include "mapptrack/log.h"

namespace mapptrack {

// One record: "MTS2" | payload length (u32 LE) | CRC-32 of payload (u32 LE) | payload,
// payload = endpoint, line, cookies (each u32 length + bytes), queued_ms (u64),
// visitor (u64), attempts (u32), maybe_received (u8; absent in records of
// earlier versions, read as 0). Where, how long and through which proxy it is
// sent is not stored: the current configuration decides that on replay.
std::string encode_spool_record(const Delivery& delivery);

// Decodes the records of a segment ("MTS1" records of earlier versions too;
// their proxy, timeout and batch fields are ignored). Corrupt or torn
// stretches are skipped to the next valid record; `skipped_bytes` says how
// much was skipped. Decoded records have default DeliveryOptions.
std::vector<Delivery> decode_spool_records(std::string_view data, std::size_t* skipped_bytes);

// A replayed record is only sent when it is well formed: the endpoint is
// `http(s)://host[:port][/path]/{ids}` (parse_track_domain, parse_track_ids),
// the line passes parse_hit_line, and the cookies are a clean Mapp cookie
// header (only Mapp names, no CR, LF or NUL). `*why` says what is wrong.
bool is_valid_spool_record(const Delivery& record, std::string* why);

// Prepares the spool directory at start (as root, before the children run as
// `owner`): creates it (mode 0700, owned by owner:group) when missing, never
// following a symlink (the last component must not be a symlink). An existing
// directory must be owned by `owner` (or be created by us) and must not be
// group- or world-writable. nullopt: usable; otherwise the reason, saying
// what to do ("chown www-data /var/…", "chmod 0700 …").
std::optional<std::string> prepare_spool_directory(const std::string& dir, unsigned owner,
                                                   unsigned group);

// What prepare_spool_directory would refuse, found without changing anything
// (`apachectl configtest`, and the first pass of a start, before httpd
// detaches): an existing path must be a directory, no symlink, owned by
// `owner` (as root; otherwise by us) and not group- or world-writable; a
// missing one needs a parent directory we may create it in. Only what creating
// it finds (disk full, quota, a file system refusing mkdir or chown) is left
// for the start. nullopt: prepare_spool_directory should succeed.
std::optional<std::string> check_spool_directory(const std::string& dir, unsigned owner);

// A segment file is read only when it is a regular file of the User's, at most
// this big: 4 segments plus the largest record, and never less than 16 MiB
// (appends are cut into segments, so a real one is never near it).
inline constexpr std::uint64_t kMinSegmentFileLimit = 16ull << 20;
std::uint64_t segment_file_limit(std::uint64_t segment_bytes) noexcept;

struct SpoolOptions {
    std::string dir;
    std::uint64_t max_bytes = defaults::kSpoolMaxBytes;  // all segments together
    std::uint64_t segment_bytes = 0;          // 0: max_bytes / 16, 4 KiB to 8 MiB
};

struct SpoolCounters {
    std::atomic<std::uint64_t> spooled{0};        // records written
    std::atomic<std::uint64_t> replayed{0};       // records read back for delivery
    std::atomic<std::uint64_t> dropped_full{0};   // records removed because the spool was full
    std::atomic<std::uint64_t> corrupt_bytes{0};  // bytes skipped while reading
    std::atomic<std::uint64_t> refused_files{0};  // segment-named entries not read (not a regular file of ours, too large)
};

class Spool {
public:
    // Opens (creating if needed) the directory. Empty, with `*error` set,
    // when it cannot be used.
    static std::unique_ptr<Spool> open(const SpoolOptions& options, Logger log, std::string* error) noexcept;
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Appends records (thread-safe). When the spool would exceed its size,
    // the oldest segments of this process are dropped and counted. Returns
    // how many were written. `wait_ms` < 0 waits for the lock as long as it
    // takes; otherwise gives up after that long (at process exit the lock may
    // belong to a thread a signal interrupted).
    std::size_t append(const std::vector<Delivery>& deliveries, int wait_ms = -1) noexcept;

    // Takes the oldest waiting segment — this process's finished segments
    // first, then any left by a process that is gone (its lock is free) —
    // and returns its records. The segment stays on disk, locked by this
    // process, until done() says whether delivery worked.
    struct Taken {
        std::string path;
        std::vector<Delivery> records;
        int fd = -1;
        std::uint64_t bytes = 0;  // of the file as read
        std::size_t count = 0;    // records read
        std::size_t position = 0; // where it stood among this process's segments (put back there)
    };
    std::optional<Taken> take() noexcept;
    // The oldest waiting segment for which `skip(path)` is false (the
    // redelivery thread passes over segments whose endpoints all still fail).
    std::optional<Taken> take(const std::function<bool(const std::string& path)>& skip) noexcept;

    // Puts a taken segment back unchanged (nothing in it was sent or dropped).
    void keep(Taken&& taken) noexcept;

    // Delivered: the segment is deleted. Not delivered: the records not sent
    // are appended again (in order) and the segment deleted.
    void done(Taken&& taken, const std::vector<Delivery>& not_delivered) noexcept;

    // True when something may be waiting (cheap; may be stale).
    bool maybe_pending() const noexcept { return pending_.load(std::memory_order_relaxed); }
    void mark_pending() noexcept { pending_.store(true, std::memory_order_relaxed); }

    // Closes the current segment so that it can be replayed.
    void seal() noexcept;

    // Bytes in this process's segments (appended, sealed, taken for replay).
    std::uint64_t own_bytes() noexcept;
    const SpoolCounters& counters() const { return counters_; }
    const std::string& dir() const { return options_.dir; }

private:
    struct Segment {
        std::string path;
        int fd;
        std::uint64_t bytes;
        std::uint64_t records;
        std::int64_t opened_ms = 0;
    };
    Spool(const SpoolOptions& options, Logger log);
    // One attempt of take(); `*unreadable`: the segment it chose could not be read.
    std::optional<Taken> take_one(const std::function<bool(const std::string& path)>& skip,
                                  bool* unreadable) noexcept;
    bool open_segment_locked();
    // An fd on a segment-named file when it may be read (see
    // segment_file_limit); -1 when it is gone, or refused (counted, logged).
    int open_segment_file_locked(const std::string& path, int flags, std::uint64_t* size);
    void refuse_locked(const std::string& path, std::uint64_t dev, std::uint64_t ino, const std::string& why);
    bool remember_refused_locked(std::uint64_t dev, std::uint64_t ino);
    bool was_refused_locked(std::uint64_t dev, std::uint64_t ino) const;
    void make_room_locked(std::uint64_t incoming);
    std::uint64_t total_bytes_locked() const;

    SpoolOptions options_;
    std::uint64_t file_limit_ = 0;
    Logger log_;
    std::mutex mutex_;
    std::vector<Segment> sealed_;      // this process's finished segments, oldest first
    std::optional<Segment> current_;   // being appended to
    std::uint64_t foreign_bytes_ = 0;  // segments of other processes, as last seen
    std::uint64_t taken_bytes_ = 0;    // segments taken for replay, not yet done() or keep()
    std::int64_t next_foreign_scan_ms_ = 0;
    int append_lock_fd_ = -1;  // <dir>/.append.lock: near the limit, appends of all processes take turns
    void scan_foreign_bytes_locked(std::uint64_t incoming);
    unsigned sequence_ = 0;
    std::atomic<bool> pending_{true};  // look for left-over segments at start
    SpoolCounters counters_;
    RateLimit full_log_{60000};
    RateLimit corrupt_log_{60000};
    RateLimit write_log_{60000};
    RateLimit read_log_{60000};
    RateLimit refused_log_{60000};
    // Files already refused (device, inode): counted once, however often seen,
    // and not tried again by this process.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> refused_seen_;
};

}  // namespace mapptrack
