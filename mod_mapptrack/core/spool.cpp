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
#include <iterator>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mapptrack/cookies.h"
#include "mapptrack/hit_line.h"
#include "mapptrack/target.h"

namespace mapptrack {
namespace {

// "MTS1": earlier versions, which stored proxy, timeout and batch options too.
constexpr std::string_view kMagicPrefix = "MTS";
constexpr char kVersion1 = '1';
constexpr char kVersion2 = '2';
constexpr std::size_t kHeader = 12;
constexpr std::uint32_t kMaxPayload = 1u << 20;

bool is_magic(std::string_view data) {
    return data.size() >= 4 && data.substr(0, 3) == kMagicPrefix && (data[3] == kVersion1 || data[3] == kVersion2);
}

std::size_t next_magic(std::string_view data, std::size_t from) {
    for (std::size_t at = data.find(kMagicPrefix, from); at != std::string_view::npos;
         at = data.find(kMagicPrefix, at + 1)) {
        if (is_magic(data.substr(at))) return at;
    }
    return std::string_view::npos;
}

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

// A file that grew past `limit` while it was read is not read further.
bool read_file(int fd, std::uint64_t limit, std::string& out) {
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
        if (out.size() + static_cast<std::size_t>(n) > limit) {
            errno = EFBIG;
            return false;
        }
        out.append(buffer, static_cast<std::size_t>(n));
        offset += n;
    }
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// What is wrong with an opened spool directory, if anything.
constexpr const char* kSymlinkDir = "it is a symbolic link; point MappTrackSpoolDir at a real directory";

// `dir`, as lstat() saw it in `st`, opened as a directory without following a
// symlink; -1 with the reason in `problem` when it is none.
int open_real_directory(const std::string& dir, const struct stat& st, std::string* problem) {
    if (S_ISLNK(st.st_mode)) {
        *problem = kSymlinkDir;
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        *problem = "it is not a directory";
        return -1;
    }
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *problem = errno == ELOOP     ? std::string(kSymlinkDir)
                   : errno == ENOTDIR ? std::string("it is not a directory")
                                      : "cannot open it: " + std::string(std::strerror(errno));
    }
    return fd;
}

std::optional<std::string> check_directory(int fd, const std::string& dir, uid_t owner) {
    struct stat st;
    if (fstat(fd, &st) != 0) return "cannot stat it: " + std::string(std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return "it is not a directory";
    if (st.st_uid != owner) {
        return "it is owned by uid " + std::to_string(st.st_uid) + ", not by User (uid " + std::to_string(owner) +
               "): chown " + std::to_string(owner) + " " + dir + ", or point MappTrackSpoolDir elsewhere";
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        return "it is group- or world-writable (mode " + octal_mode(st.st_mode) + "), so others could plant "
               "or remove hits there: chmod 0700 " + dir;
    }
    return std::nullopt;
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
    put_u64(payload, static_cast<std::uint64_t>(d.queued_ms));
    put_u64(payload, d.visitor);
    put_u32(payload, d.attempts);
    // Records written before this byte existed end after `attempts`.
    payload.push_back(static_cast<char>(std::min(d.maybe_received, 0xFFu)));
    std::string record(kMagicPrefix);
    record.push_back(kVersion2);
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
        bool valid = rest.size() >= kHeader && is_magic(rest);
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
            if (rest[3] == kVersion1) {
                // Where and how it was to be sent is the current configuration's
                // business now, not the file's.
                r.str();    // proxy
                r.take(4);  // timeout
                r.take(4);  // batch size
                r.take(4);  // batch delay
                d.queued_ms = static_cast<std::int64_t>(r.take(8));
            } else {
                d.queued_ms = static_cast<std::int64_t>(r.take(8));
                d.visitor = r.take(8);
                d.attempts = static_cast<unsigned>(r.take(4));
                if (r.data.size() == 1) d.maybe_received = static_cast<unsigned>(r.take(1));
            }
            valid = r.ok && r.data.empty();
        }
        if (!valid) {  // resynchronise at the next magic
            const std::size_t next = next_magic(data, pos + 1);
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

bool is_valid_spool_record(const Delivery& record, std::string* why) {
    const auto bad = [&](std::string reason) {
        if (why) *why = std::move(reason);
        return false;
    };
    try {
        const std::size_t slash = record.endpoint.rfind('/');
        if (slash == std::string::npos) return bad("the endpoint is not {track domain}/{track ids}");
        std::string error;
        const auto domain = parse_track_domain(std::string_view(record.endpoint).substr(0, slash), &error);
        if (!domain) return bad("the endpoint's track domain is not valid: " + error);
        // libcurl removes dot segments ("/x/../111" goes to "/111"), and %2e may
        // be read as a dot: neither can be part of an endpoint the module wrote.
        for (std::size_t at = 0; at < domain->path.size();) {
            const std::size_t end = std::min(domain->path.find('/', at + 1), domain->path.size());
            const std::string_view segment = std::string_view(domain->path).substr(at + 1, end - at - 1);
            if (segment.empty() || segment == "." || segment == ".." || segment.find('%') != std::string_view::npos) {
                return bad("the endpoint's path has an empty, dot or escaped segment");
            }
            at = end;
        }
        const auto ids = parse_track_ids(std::string_view(record.endpoint).substr(slash + 1), &error);
        if (!ids) return bad("the endpoint's track IDs are not valid: " + error);
        // Only the exact form the module writes: a parser that normalises
        // (case, default port, dot segments) must not turn one endpoint into another.
        if (make_endpoint(*domain, *ids) != record.endpoint) return bad("the endpoint is not in its canonical form");
        if (!parse_hit_line(record.line)) return bad("the line is not a Mapp hit line");
        if (!record.cookies.empty()) {
            if (record.cookies.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
                return bad("the cookies hold CR, LF or NUL");
            }
            if (mapp_cookie_header(parse_cookie_header(record.cookies)) != record.cookies) {
                return bad("the cookies are not a clean Mapp cookie header");
            }
        }
        return true;
    } catch (...) {
        return bad("out of memory");
    }
}

std::uint64_t segment_file_limit(std::uint64_t segment_bytes) noexcept {
    if (segment_bytes > (UINT64_MAX - kMaxPayload - kHeader) / 4) return UINT64_MAX;
    return std::max(4 * segment_bytes + kMaxPayload + kHeader, kMinSegmentFileLimit);
}

std::optional<std::string> prepare_spool_directory(const std::string& dir, unsigned owner, unsigned group) {
    try {
        if (dir.empty()) return std::string("it is empty");
        // Only root can give the directory away; otherwise the children run as we do.
        const bool root = geteuid() == 0;
        const uid_t must_own = root ? static_cast<uid_t>(owner) : geteuid();
        bool created = false;
        struct stat st;
        if (lstat(dir.c_str(), &st) != 0) {
            if (errno != ENOENT) return "cannot stat it: " + std::string(std::strerror(errno));
            if (mkdir(dir.c_str(), 0700) == 0) {
                created = true;
            } else if (errno != EEXIST) {
                return "cannot create it: " + std::string(std::strerror(errno)) +
                       "; create it (mode 0700, owned by User) or point MappTrackSpoolDir elsewhere";
            }
            if (lstat(dir.c_str(), &st) != 0) return "cannot stat it: " + std::string(std::strerror(errno));
        }
        // From here on only the descriptor counts: the name may be swapped meanwhile.
        std::string why;
        const int fd = open_real_directory(dir, st, &why);
        if (fd < 0) return why;
        std::optional<std::string> problem;
        struct stat opened;
        if (fstat(fd, &opened) != 0) {
            problem = "cannot stat it: " + std::string(std::strerror(errno));
        } else if (created && (opened.st_dev != st.st_dev || opened.st_ino != st.st_ino ||
                               opened.st_uid != geteuid())) {
            problem = "it was replaced while it was being created; try again";
        } else if (created) {
            if (fchmod(fd, 0700) != 0) {
                problem = "cannot chmod it: " + std::string(std::strerror(errno));
            } else if (root && fchown(fd, static_cast<uid_t>(owner), static_cast<gid_t>(group)) != 0) {
                problem = "cannot chown it: " + std::string(std::strerror(errno));
            }
        }
        if (!problem) problem = check_directory(fd, dir, must_own);
        close(fd);
        return problem;
    } catch (...) {
        return std::string("out of memory");
    }
}

std::optional<std::string> check_spool_directory(const std::string& dir, unsigned owner) {
    try {
        if (dir.empty()) return std::string("it is empty");
        const bool root = geteuid() == 0;
        const uid_t must_own = root ? static_cast<uid_t>(owner) : geteuid();
        struct stat st;
        if (lstat(dir.c_str(), &st) != 0) {
            // ENOTDIR: a part of the path is a file.
            if (errno != ENOENT && errno != ENOTDIR) return "cannot stat it: " + std::string(std::strerror(errno));
            // prepare_spool_directory makes it with one mkdir: the parent must exist.
            std::string parent = dir;
            while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
            const std::size_t slash = parent.rfind('/');
            parent = slash == std::string::npos ? "." : slash == 0 ? "/" : parent.substr(0, slash);
            const std::string what_to_do = "; create it (mode 0700, owned by User) or point MappTrackSpoolDir elsewhere";
            struct stat up;
            if (stat(parent.c_str(), &up) != 0) {
                return "its parent is not an existing directory (" + parent + ": " + std::strerror(errno) + ")" +
                       what_to_do;
            }
            if (!S_ISDIR(up.st_mode)) {
                return "its parent is not an existing directory (" + parent + " is not a directory)" + what_to_do;
            }
            // Root may write anywhere but on a read-only file system; others need
            // the permission (as the effective user, who would run mkdir).
            if (faccessat(AT_FDCWD, parent.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
                return "cannot create it: " + std::string(std::strerror(errno)) + what_to_do;
            }
            return std::nullopt;
        }
        std::string why;
        const int fd = open_real_directory(dir, st, &why);
        if (fd < 0) return why;
        std::optional<std::string> problem = check_directory(fd, dir, must_own);
        close(fd);
        return problem;
    } catch (...) {
        return std::string("out of memory");
    }
}

Spool::Spool(const SpoolOptions& options, Logger log) : options_(options), log_(log) {
    if (options_.segment_bytes == 0) {
        // Small enough that dropping the oldest segment drops little.
        options_.segment_bytes = std::clamp<std::uint64_t>(options_.max_bytes / 16, 4 * 1024, 8 << 20);
    }
    file_limit_ = segment_file_limit(options_.segment_bytes);
}

std::unique_ptr<Spool> Spool::open(const SpoolOptions& options, Logger log, std::string* error) noexcept {
    try {
        // The same checks as at start, now as the User the children run as:
        // the directory may have been swapped or opened up since.
        if (const auto problem = prepare_spool_directory(options.dir, geteuid(), getegid())) {
            if (error) *error = options.dir + ": " + *problem;
            return nullptr;
        }
        if (access(options.dir.c_str(), W_OK | X_OK) != 0) {
            if (error) *error = "cannot write to " + options.dir + ": " + std::strerror(errno);
            return nullptr;
        }
        return std::unique_ptr<Spool>(new Spool(options, log));
    } catch (...) {
        if (error) *error = "out of memory";
        return nullptr;
    }
}

Spool::~Spool() {
    if (append_lock_fd_ >= 0) close(append_lock_fd_);
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
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            return false;
        }
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0 && S_ISREG(st.st_mode) &&
            st.st_uid == geteuid()) {
            current_ = Segment{path, fd, 0, 0, now_ms()};
            return true;
        }
        close(fd);
    }
    errno = EBUSY;
    return false;
}

int Spool::open_segment_file_locked(const std::string& path, int flags, std::uint64_t* size) {
    // lstat first: a FIFO or a device is never opened (that alone may block
    // or have effects), a symlink is never followed.
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return -1;  // gone: adopted and deleted meanwhile
    const auto refuse = [&](const struct stat& what, const std::string& why) {
        refuse_locked(path, static_cast<std::uint64_t>(what.st_dev), static_cast<std::uint64_t>(what.st_ino), why);
        return -1;
    };
    const auto problem = [&](const struct stat& what) -> std::string {
        if (S_ISLNK(what.st_mode)) return "it is a symbolic link";
        if (!S_ISREG(what.st_mode)) return "it is not a regular file";
        if (what.st_uid != geteuid()) {
            return "it is owned by uid " + std::to_string(what.st_uid) + ", not by uid " + std::to_string(geteuid());
        }
        if (static_cast<std::uint64_t>(what.st_size) > file_limit_) {
            return "it holds " + std::to_string(what.st_size) + " bytes, more than a segment can (" +
                   std::to_string(file_limit_) + ")";
        }
        return {};
    };
    if (std::string why = problem(st); !why.empty()) return refuse(st, why);
    const int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP) return refuse(st, "it is a symbolic link");
        // Gone meanwhile is normal; anything else (EACCES, EIO) is said once
        // per file, and the file is not tried again by this process, unless
        // the cause passes (out of descriptors or memory).
        if (errno != ENOENT) {
            const int error = errno;
            const std::string reason = std::strerror(error);
            const bool passes = error == EMFILE || error == ENFILE || error == ENOMEM || error == EINTR;
            if ((passes || remember_refused_locked(static_cast<std::uint64_t>(st.st_dev),
                                                   static_cast<std::uint64_t>(st.st_ino))) &&
                read_log_.allow(now_ms())) {
                log_(LogLevel::Error, "MT0206: cannot open spool file " + path + ": " + reason +
                                          "; it is skipped and left for the next start (check its mode and the disk)");
            }
        }
        return -1;
    }
    struct stat opened;
    if (fstat(fd, &opened) != 0) {
        close(fd);
        return -1;
    }
    // Swapped between lstat and open: judge what was opened.
    std::string why = problem(opened);
    if (why.empty() && (opened.st_dev != st.st_dev || opened.st_ino != st.st_ino)) why = "it was replaced while opened";
    if (!why.empty()) {
        close(fd);
        return refuse(opened, why);
    }
    if (size) *size = static_cast<std::uint64_t>(opened.st_size);
    return fd;
}

bool Spool::was_refused_locked(std::uint64_t dev, std::uint64_t ino) const {
    return std::find(refused_seen_.begin(), refused_seen_.end(), std::make_pair(dev, ino)) != refused_seen_.end();
}

bool Spool::remember_refused_locked(std::uint64_t dev, std::uint64_t ino) {
    if (was_refused_locked(dev, ino)) return false;
    if (refused_seen_.size() >= 1024) refused_seen_.erase(refused_seen_.begin());  // bounded; may count one twice
    refused_seen_.emplace_back(dev, ino);
    counters_.refused_files.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void Spool::refuse_locked(const std::string& path, std::uint64_t dev, std::uint64_t ino, const std::string& why) {
    if (remember_refused_locked(dev, ino) && refused_log_.allow(now_ms())) {
        log_(LogLevel::Error, "MT0208: " + path + " is named like a spool file but is not read: " + why +
                                  " (only regular files of the server's User, at most " +
                                  std::to_string(file_limit_) + " bytes); it is left alone; " +
                                  std::to_string(counters_.refused_files.load()) + " such file(s) so far");
    }
}

std::uint64_t Spool::own_bytes() noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        return total_bytes_locked() - foreign_bytes_;
    } catch (...) {
        return 0;
    }
}

std::uint64_t Spool::total_bytes_locked() const {
    std::uint64_t total = foreign_bytes_ + taken_bytes_ + (current_ ? current_->bytes : 0);
    for (const Segment& s : sealed_) total += s.bytes;
    return total;
}

// MappTrackSpoolMaxSize is for the directory: what the other processes hold
// counts too (looked up again when 20 ms old, and on every append near the
// limit): under load another child can fill the directory within a second.
void Spool::scan_foreign_bytes_locked(std::uint64_t incoming) {
    const std::int64_t now = now_ms();
    if (now < next_foreign_scan_ms_ && (total_bytes_locked() + incoming) * 2 < options_.max_bytes) return;
    next_foreign_scan_ms_ = now + 20;
    std::uint64_t foreign = 0;
    if (DIR* dir = opendir(options_.dir.c_str())) {
        while (const dirent* entry = readdir(dir)) {
            const std::string name = entry->d_name;
            if (name.rfind("seg-", 0) != 0 || name.rfind(own_prefix(), 0) == 0) continue;
            // Only what may be replayed counts; take() reports the rest.
            struct stat st;
            if (lstat((options_.dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                st.st_uid == geteuid() && static_cast<std::uint64_t>(st.st_size) <= file_limit_) {
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
        std::vector<std::size_t> ends;  // where each record ends in `data`
        ends.reserve(deliveries.size());
        for (const Delivery& d : deliveries) {
            data += encode_spool_record(d);
            ends.push_back(data.size());
        }
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
        // Near the limit every process must see what the others wrote: the
        // look at their segments and the write happen under a lock of the
        // whole directory (at most 100 ms waited for; then as before).
        struct DirLock {
            int fd = -1;
            ~DirLock() {
                if (fd >= 0) flock(fd, LOCK_UN);
            }
        } dir_lock;
        scan_foreign_bytes_locked(data.size());
        if ((total_bytes_locked() + data.size()) * 2 >= options_.max_bytes) {
            if (append_lock_fd_ < 0) {
                append_lock_fd_ = ::open((options_.dir + "/.append.lock").c_str(),
                                         O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
            }
            const std::int64_t until = now_ms() + std::min(100, wait_ms < 0 ? 100 : wait_ms);
            while (append_lock_fd_ >= 0 && flock(append_lock_fd_, LOCK_EX | LOCK_NB) != 0 && now_ms() < until) {
                usleep(500);
            }
            if (append_lock_fd_ >= 0 && flock(append_lock_fd_, LOCK_EX | LOCK_NB) == 0) dir_lock.fd = append_lock_fd_;
            next_foreign_scan_ms_ = 0;  // look again, now that the others are still
        }
        make_room_locked(data.size());
        if (total_bytes_locked() + data.size() > options_.max_bytes) {
            counters_.dropped_full.fetch_add(deliveries.size(), std::memory_order_relaxed);
            if (full_log_.allow(now_ms())) {
                log_(LogLevel::Error, "MT0211: spool " + options_.dir + " is full: " +
                                          std::to_string(deliveries.size()) + " hit(s) dropped");
            }
            return 0;
        }
        // Cut into segments as it goes: a segment stays near its size however
        // large the append (at stop, a whole queue), so that every real segment
        // is well under segment_file_limit.
        std::size_t written = 0;
        std::size_t at = 0;
        while (written < deliveries.size()) {
            if (!current_ && !open_segment_locked()) {
                if (write_log_.allow(now_ms())) {
                    log_(LogLevel::Error, "MT0205: cannot create a spool file in " + options_.dir + ": " +
                                              std::strerror(errno) + "; " +
                                              std::to_string(deliveries.size() - written) + " hit(s) lost");
                }
                break;
            }
            std::size_t n = 0;
            std::size_t bytes = 0;
            while (written + n < deliveries.size() &&
                   (n == 0 || current_->bytes + bytes < options_.segment_bytes)) {
                bytes += ends[written + n] - (at + bytes);
                ++n;
            }
            if (!write_all(current_->fd, std::string_view(data).substr(at, bytes))) {
                if (write_log_.allow(now_ms())) {
                    log_(LogLevel::Error, "MT0212: cannot write to " + current_->path + ": " + std::strerror(errno) +
                                              "; " + std::to_string(deliveries.size() - written) + " hit(s) lost");
                }
                break;
            }
            at += bytes;
            written += n;
            current_->bytes += bytes;
            current_->records += n;
            counters_.spooled.fetch_add(n, std::memory_order_relaxed);
            if (current_->bytes >= options_.segment_bytes) {
                sealed_.push_back(*current_);
                current_.reset();
            }
        }
        if (written > 0) pending_.store(true, std::memory_order_relaxed);
        return written;
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

std::optional<Spool::Taken> Spool::take() noexcept { return take({}); }

std::optional<Spool::Taken> Spool::take(const std::function<bool(const std::string& path)>& skip) noexcept {
    // A segment that cannot be read is passed over (logged, remembered) and
    // the next one taken: one bad file must not hold up the replay of the rest.
    // Bounded: each try removes a segment from the running.
    for (int tries = 0; tries < 64; ++tries) {
        bool unreadable = false;
        std::optional<Taken> taken = take_one(skip, &unreadable);
        if (taken || !unreadable) return taken;
    }
    return std::nullopt;
}

std::optional<Spool::Taken> Spool::take_one(const std::function<bool(const std::string& path)>& skip,
                                            bool* unreadable) noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        std::optional<Segment> segment;
        bool skipped_any = false;
        const auto skipped = [&](const std::string& path) {
            const bool yes = skip && skip(path);
            skipped_any = skipped_any || yes;
            return yes;
        };
        auto eligible = std::find_if(sealed_.begin(), sealed_.end(),
                                     [&](const Segment& s) { return !skipped(s.path); });
        // The segment being written is sealed for replay when nothing else
        // waits, or once it is a second old: not one tiny file per pass while
        // an endpoint fails.
        if (eligible == sealed_.end() && current_ && current_->records > 0 &&
            (sealed_.empty() || now_ms() - current_->opened_ms >= 1000)) {
            sealed_.push_back(*current_);
            current_.reset();
            eligible = std::prev(sealed_.end());
        }
        std::size_t position = 0;
        if (eligible != sealed_.end()) {
            segment = *eligible;
            position = static_cast<std::size_t>(eligible - sealed_.begin());
            sealed_.erase(eligible);
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
                    if (lstat(path.c_str(), &st) != 0 || was_refused_locked(static_cast<std::uint64_t>(st.st_dev),
                                                                            static_cast<std::uint64_t>(st.st_ino))) {
                        continue;
                    }
                    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
                        static_cast<std::uint64_t>(st.st_size) > file_limit_) {
                        open_segment_file_locked(path, O_RDWR, nullptr);  // refused, counted and logged there
                        continue;
                    }
                    foreign += static_cast<std::uint64_t>(st.st_size);
                    candidates.push_back({path, st.st_mtime});
                }
                closedir(dir);
            }
            foreign_bytes_ = foreign;
            std::sort(candidates.begin(), candidates.end(),
                      [](const Candidate& a, const Candidate& b) { return a.mtime < b.mtime || (a.mtime == b.mtime && a.path < b.path); });
            for (const Candidate& c : candidates) {
                if (skipped(c.path)) continue;
                const int fd = open_segment_file_locked(c.path, O_RDWR, nullptr);
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
            // Passed-over segments still wait: the caller comes back for them.
            if (!skipped_any) pending_.store(false, std::memory_order_relaxed);
            return std::nullopt;
        }
        std::string data;
        if (!read_file(segment->fd, file_limit_, data)) {
            // Left on disk for the next start or the operator, and not tried
            // again here: a file that cannot be read must not be read in a loop.
            const std::string reason = std::strerror(errno);
            struct stat st;
            if (fstat(segment->fd, &st) == 0) {
                remember_refused_locked(static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino));
            }
            if (read_log_.allow(now_ms())) {
                log_(LogLevel::Error, "MT0214: cannot read spool file " + segment->path + ": " + reason +
                                          "; it is skipped and left for the next start");
            }
            close(segment->fd);
            *unreadable = true;
            return std::nullopt;
        }
        std::size_t corrupt = 0;
        Taken taken{segment->path, decode_spool_records(data, &corrupt), segment->fd};
        taken.bytes = data.size();
        taken.count = taken.records.size();
        taken.position = position;
        taken_bytes_ += taken.bytes;  // still on disk while it is replayed
        if (corrupt > 0) {
            counters_.corrupt_bytes.fetch_add(corrupt, std::memory_order_relaxed);
            if (corrupt_log_.allow(now_ms())) {
                log_(LogLevel::Warn, "MT0207: spool file " + segment->path + ": skipped " + std::to_string(corrupt) +
                                         " corrupt or truncated byte(s); " + std::to_string(taken.records.size()) +
                                         " record(s) read; " + std::to_string(counters_.corrupt_bytes.load()) +
                                         " byte(s) so far");
            }
        }
        counters_.replayed.fetch_add(taken.records.size(), std::memory_order_relaxed);
        pending_.store(true, std::memory_order_relaxed);  // more may wait
        return taken;
    } catch (...) {
        return std::nullopt;
    }
}

void Spool::keep(Taken&& taken) noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        taken_bytes_ -= std::min(taken_bytes_, taken.bytes);
        counters_.replayed.fetch_sub(std::min<std::uint64_t>(counters_.replayed.load(), taken.count),
                                     std::memory_order_relaxed);
        sealed_.insert(sealed_.begin() + static_cast<std::ptrdiff_t>(std::min(taken.position, sealed_.size())),
                       Segment{taken.path, taken.fd, taken.bytes, taken.count});
        pending_.store(true, std::memory_order_relaxed);
    } catch (...) {
        close(taken.fd);  // its records stay on disk, adopted once this process is gone
    }
}

void Spool::done(Taken&& taken, const std::vector<Delivery>& not_delivered) noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        taken_bytes_ -= std::min(taken_bytes_, taken.bytes);
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
            if (write_log_.allow(now_ms())) {
                log_(LogLevel::Error, "MT0213: cannot rewrite spool file " + taken.path + ": " + std::strerror(errno));
            }
        }
        // Back where it stood: the segments after it are younger.
        sealed_.insert(sealed_.begin() + static_cast<std::ptrdiff_t>(std::min(taken.position, sealed_.size())),
                       Segment{taken.path, taken.fd, data.size(), not_delivered.size()});
        pending_.store(true, std::memory_order_relaxed);
    } catch (...) {
    }
}

}  // namespace mapptrack
