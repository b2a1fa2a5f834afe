// The disk spool (see spool.h). Segment files are named
// seg-<pid>-<start ms>-<sequence>.mts and locked (flock) by the process that
// owns them, so a segment is adopted only once its owner is gone.
#include "mapptrack/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace mapptrack {
namespace {

constexpr char kMagic[4] = {'M', 'T', 'S', '1'};
constexpr std::size_t kHeader = 12;
constexpr std::uint32_t kMaxPayload = 1u << 20;

std::uint32_t crc32(std::string_view data) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_str(std::string& out, const std::string& s) {
    put_u32(out, static_cast<std::uint32_t>(s.size()));
    out += s;
}

struct Reader {
    std::string_view data;
    bool ok = true;
    std::uint64_t take(int bytes) {
        if (data.size() < static_cast<std::size_t>(bytes)) {
            ok = false;
            return 0;
        }
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v |= std::uint64_t(static_cast<unsigned char>(data[i])) << (8 * i);
        data.remove_prefix(bytes);
        return v;
    }
    std::string str() {
        const std::uint64_t n = take(4);
        if (!ok || data.size() < n) {
            ok = false;
            return {};
        }
        std::string s(data.substr(0, n));
        data.remove_prefix(n);
        return s;
    }
};

bool read_file(int fd, std::string& out) {
    out.clear();
    char buffer[65536];
    off_t offset = 0;
    for (;;) {
        const ssize_t n = pread(fd, buffer, sizeof buffer, offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) return true;
        out.append(buffer, static_cast<std::size_t>(n));
        offset += n;
    }
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string own_prefix() {
    static const std::string prefix = [] {
        return "seg-" + std::to_string(getpid()) + "-" + std::to_string(now_ms()) + "-";
    }();
    return prefix;
}

}  // namespace

std::string encode_spool_record(const Delivery& d) {
    std::string payload;
    put_str(payload, d.endpoint);
    put_str(payload, d.line);
    put_str(payload, d.cookies);
    put_str(payload, d.options.proxy);
    put_u32(payload, d.options.timeout_ms);
    put_u32(payload, d.options.batch_size);
    put_u32(payload, d.options.batch_delay_ms);
    put_u64(payload, static_cast<std::uint64_t>(d.queued_ms));
    std::string record(kMagic, 4);
    put_u32(record, static_cast<std::uint32_t>(payload.size()));
    put_u32(record, crc32(payload));
    record += payload;
    return record;
}

std::vector<Delivery> decode_spool_records(std::string_view data, std::size_t* skipped_bytes) {
    std::vector<Delivery> out;
    std::size_t skipped = 0;
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::string_view rest = data.substr(pos);
        bool valid = rest.size() >= kHeader && rest.substr(0, 4) == std::string_view(kMagic, 4);
        std::uint32_t length = 0;
        if (valid) {
            Reader header{rest.substr(4, 8)};
            length = static_cast<std::uint32_t>(header.take(4));
            const auto crc = static_cast<std::uint32_t>(header.take(4));
            valid = length <= kMaxPayload && rest.size() >= kHeader + length &&
                    crc32(rest.substr(kHeader, length)) == crc;
        }
        Delivery d;
        if (valid) {
            Reader r{rest.substr(kHeader, length)};
            d.endpoint = r.str();
            d.line = r.str();
            d.cookies = r.str();
            d.options.proxy = r.str();
            d.options.timeout_ms = static_cast<unsigned>(r.take(4));
            d.options.batch_size = static_cast<unsigned>(r.take(4));
            d.options.batch_delay_ms = static_cast<unsigned>(r.take(4));
            d.queued_ms = static_cast<std::int64_t>(r.take(8));
            valid = r.ok && r.data.empty();
        }
        if (!valid) {  // resynchronise at the next magic
            const std::size_t next = data.find(std::string_view(kMagic, 4), pos + 1);
            const std::size_t to = next == std::string_view::npos ? data.size() : next;
            skipped += to - pos;
            pos = to;
            continue;
        }
        out.push_back(std::move(d));
        pos += kHeader + length;
    }
    if (skipped_bytes) *skipped_bytes = skipped;
    return out;
}

// TODO(spool hardening): placeholder until the checks land.
bool is_valid_spool_record(const Delivery&, std::string*) { return true; }

std::optional<std::string> prepare_spool_directory(const std::string& dir, unsigned owner, unsigned group) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return "cannot create it: " + std::string(std::strerror(errno));
    if (geteuid() == 0 && chown(dir.c_str(), owner, group) != 0) return "cannot chown it: " + std::string(std::strerror(errno));
    return std::nullopt;
}

Spool::Spool(const SpoolOptions& options, Logger log) : options_(options), log_(log) {
    if (options_.segment_bytes == 0) {
        // Small enough that dropping the oldest segment drops little.
        options_.segment_bytes = std::clamp<std::uint64_t>(options_.max_bytes / 16, 4 * 1024, 8 << 20);
    }
}

Spool* Spool::open(const SpoolOptions& options, Logger log, std::string* error) noexcept {
    try {
        if (mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
            if (error) *error = "cannot create " + options.dir + ": " + std::strerror(errno);
            return nullptr;
        }
        struct stat st;
        if (stat(options.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            if (error) *error = options.dir + " is not a directory";
            return nullptr;
        }
        if (access(options.dir.c_str(), W_OK | X_OK) != 0) {
            if (error) *error = "cannot write to " + options.dir + ": " + std::strerror(errno);
            return nullptr;
        }
        return new Spool(options, log);
    } catch (...) {
        if (error) *error = "out of memory";
        return nullptr;
    }
}

Spool::~Spool() {
    for (const Segment& s : sealed_) close(s.fd);
    if (current_) close(current_->fd);
}

bool Spool::open_segment_locked() {
    // A new file is visible before it is locked: another process looking for
    // orphaned segments may lock it first, find it empty and delete it. Then
    // it is not ours to write to (the lock fails, or the file is gone once we
    // hold it): take another name.
    for (int attempt = 0; attempt < 8; ++attempt) {
        const std::string path =
            options_.dir + "/" + own_prefix() + std::to_string(++sequence_) + ".mts";
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            return false;
        }
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0) {
            current_ = Segment{path, fd, 0, 0};
            return true;
        }
        close(fd);
    }
    errno = EBUSY;
    return false;
}

std::uint64_t Spool::total_bytes_locked() const {
    std::uint64_t total = foreign_bytes_ + (current_ ? current_->bytes : 0);
    for (const Segment& s : sealed_) total += s.bytes;
    return total;
}

// MappTrackSpoolMaxSize is for the directory: what the other processes hold
// counts too (looked up twice a second, and on every append near the limit).
void Spool::scan_foreign_bytes_locked(std::uint64_t incoming) {
    const std::int64_t now = now_ms();
    if (now < next_foreign_scan_ms_ && (total_bytes_locked() + incoming) * 4 < options_.max_bytes * 3) return;
    next_foreign_scan_ms_ = now + 500;
    std::uint64_t foreign = 0;
    if (DIR* dir = opendir(options_.dir.c_str())) {
        while (const dirent* entry = readdir(dir)) {
            const std::string name = entry->d_name;
            if (name.rfind("seg-", 0) != 0 || name.rfind(own_prefix(), 0) == 0) continue;
            struct stat st;
            if (stat((options_.dir + "/" + name).c_str(), &st) == 0) {
                foreign += static_cast<std::uint64_t>(st.st_size);
            }
        }
        closedir(dir);
    }
    foreign_bytes_ = foreign;
}

void Spool::make_room_locked(std::uint64_t incoming) {
    scan_foreign_bytes_locked(incoming);
    // Only this process's own segments can be dropped; the one being written
    // goes too when nothing older is left.
    if (sealed_.empty() && current_ && current_->records > 0 &&
        total_bytes_locked() + incoming > options_.max_bytes) {
        sealed_.push_back(*current_);
        current_.reset();
    }
    while (total_bytes_locked() + incoming > options_.max_bytes && !sealed_.empty()) {
        const Segment oldest = sealed_.front();
        sealed_.erase(sealed_.begin());
        unlink(oldest.path.c_str());
        close(oldest.fd);
        counters_.dropped_full.fetch_add(oldest.records, std::memory_order_relaxed);
        if (full_log_.allow(now_ms())) {
            log_(LogLevel::Error, "MT0204: spool " + options_.dir + " is full (MappTrackSpoolMaxSize " +
                                      std::to_string(options_.max_bytes) + " bytes): the oldest " +
                                      std::to_string(oldest.records) + " hit(s) were dropped; " +
                                      std::to_string(counters_.dropped_full.load()) + " so far");
        }
    }
}

std::size_t Spool::append(const std::vector<Delivery>& deliveries, int wait_ms) noexcept {
    if (deliveries.empty()) return 0;
    try {
        std::string data;
        for (const Delivery& d : deliveries) data += encode_spool_record(d);
        std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
        if (wait_ms < 0) {
            lock.lock();
        } else {
            const std::int64_t until = now_ms() + wait_ms;
            while (!lock.try_lock()) {
                if (now_ms() >= until) return 0;
                usleep(1000);
            }
        }
        make_room_locked(data.size());
        if (total_bytes_locked() + data.size() > options_.max_bytes) {
            counters_.dropped_full.fetch_add(deliveries.size(), std::memory_order_relaxed);
            if (full_log_.allow(now_ms())) {
                log_(LogLevel::Error, "MT0204: spool " + options_.dir + " is full: " +
                                          std::to_string(deliveries.size()) + " hit(s) dropped");
            }
            return 0;
        }
        if (!current_ && !open_segment_locked()) {
            log_(LogLevel::Error, "MT0205: cannot create a spool file in " + options_.dir + ": " +
                                      std::strerror(errno) + "; " + std::to_string(deliveries.size()) +
                                      " hit(s) lost");
            return 0;
        }
        if (!write_all(current_->fd, data)) {
            log_(LogLevel::Error, "MT0205: cannot write to " + current_->path + ": " + std::strerror(errno) +
                                      "; " + std::to_string(deliveries.size()) + " hit(s) lost");
            return 0;
        }
        current_->bytes += data.size();
        current_->records += deliveries.size();
        counters_.spooled.fetch_add(deliveries.size(), std::memory_order_relaxed);
        if (current_->bytes >= options_.segment_bytes) {
            sealed_.push_back(*current_);
            current_.reset();
        }
        pending_.store(true, std::memory_order_relaxed);
        return deliveries.size();
    } catch (...) {
        return 0;
    }
}

void Spool::seal() noexcept {
    // Called at process exit, maybe from a signal handler (prefork) that
    // interrupted a thread inside append(): never wait for the lock long. Not
    // sealing loses nothing: the records are on disk, and the file is adopted
    // once this process is gone.
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    const std::int64_t until = now_ms() + 200;
    while (!lock.try_lock()) {
        if (now_ms() >= until) return;
        usleep(1000);
    }
    if (current_ && current_->records > 0) {
        sealed_.push_back(*current_);
        current_.reset();
    }
}

std::optional<Spool::Taken> Spool::take() noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        std::optional<Segment> segment;
        if (sealed_.empty() && current_ && current_->records > 0) {
            sealed_.push_back(*current_);
            current_.reset();
        }
        if (!sealed_.empty()) {
            segment = sealed_.front();
            sealed_.erase(sealed_.begin());
        } else {
            // Segments left by processes that are gone: their lock is free.
            struct Candidate {
                std::string path;
                time_t mtime;
            };
            std::vector<Candidate> candidates;
            std::uint64_t foreign = 0;
            if (DIR* dir = opendir(options_.dir.c_str())) {
                while (const dirent* entry = readdir(dir)) {
                    const std::string name = entry->d_name;
                    if (name.rfind("seg-", 0) != 0 || name.size() < 5 ||
                        name.compare(name.size() - 4, 4, ".mts") != 0 || name.rfind(own_prefix(), 0) == 0) {
                        continue;
                    }
                    struct stat st;
                    const std::string path = options_.dir + "/" + name;
                    if (stat(path.c_str(), &st) != 0) continue;
                    foreign += static_cast<std::uint64_t>(st.st_size);
                    candidates.push_back({path, st.st_mtime});
                }
                closedir(dir);
            }
            foreign_bytes_ = foreign;
            std::sort(candidates.begin(), candidates.end(),
                      [](const Candidate& a, const Candidate& b) { return a.mtime < b.mtime || (a.mtime == b.mtime && a.path < b.path); });
            for (const Candidate& c : candidates) {
                const int fd = ::open(c.path.c_str(), O_RDWR | O_CLOEXEC);
                if (fd < 0) continue;
                if (flock(fd, LOCK_EX | LOCK_NB) != 0) {  // its owner is alive
                    close(fd);
                    continue;
                }
                struct stat st;
                if (fstat(fd, &st) != 0 || st.st_nlink == 0) {  // deleted meanwhile by its adopter
                    close(fd);
                    continue;
                }
                segment = Segment{c.path, fd, static_cast<std::uint64_t>(st.st_size), 0};
                foreign_bytes_ -= std::min<std::uint64_t>(foreign_bytes_, segment->bytes);
                break;
            }
        }
        if (!segment) {
            pending_.store(false, std::memory_order_relaxed);
            return std::nullopt;
        }
        std::string data;
        if (!read_file(segment->fd, data)) {
            log_(LogLevel::Error, "MT0206: cannot read spool file " + segment->path + ": " + std::strerror(errno));
            close(segment->fd);
            return std::nullopt;
        }
        std::size_t skipped = 0;
        Taken taken{segment->path, decode_spool_records(data, &skipped), segment->fd};
        if (skipped > 0) {
            counters_.corrupt_bytes.fetch_add(skipped, std::memory_order_relaxed);
            log_(LogLevel::Warn, "MT0207: spool file " + segment->path + ": skipped " + std::to_string(skipped) +
                                     " corrupt or truncated byte(s); " + std::to_string(taken.records.size()) +
                                     " record(s) read");
        }
        counters_.replayed.fetch_add(taken.records.size(), std::memory_order_relaxed);
        pending_.store(true, std::memory_order_relaxed);  // more may wait
        return taken;
    } catch (...) {
        return std::nullopt;
    }
}

void Spool::done(Taken&& taken, const std::vector<Delivery>& not_delivered) noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        if (not_delivered.empty()) {
            unlink(taken.path.c_str());
            close(taken.fd);
            return;
        }
        // Rewritten in place (the lock stays on this file) and kept first in line.
        std::string data;
        for (const Delivery& d : not_delivered) data += encode_spool_record(d);
        counters_.replayed.fetch_sub(std::min<std::uint64_t>(counters_.replayed.load(), not_delivered.size()),
                                     std::memory_order_relaxed);
        if (ftruncate(taken.fd, 0) != 0 || pwrite(taken.fd, data.data(), data.size(), 0) !=
                                               static_cast<ssize_t>(data.size())) {
            log_(LogLevel::Error, "MT0205: cannot rewrite spool file " + taken.path + ": " + std::strerror(errno));
        }
        sealed_.insert(sealed_.begin(), Segment{taken.path, taken.fd, data.size(), not_delivered.size()});
        pending_.store(true, std::memory_order_relaxed);
    } catch (...) {
    }
}

}  // namespace mapptrack
