// The disk spool (spool.h, docs/delivery.md): record framing and its round trip
// (MTS2, and MTS1 of earlier versions), skipping corrupt, torn and garbage
// bytes, the checks a replayed record must pass, segment rotation, the size
// limit dropping the oldest segments, take()/done() with partial delivery
// keeping the order, adoption of another process's segment only once its lock
// is free, and a spool that trusts neither its directory nor the files in it.
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <atomic>
#include <chrono>
#include <thread>

#include "mapptrack/delivery.h"
#include "mapptrack/dispatcher.h"
#include "mapptrack/hit_line.h"
#include "mapptrack/log.h"
#include "mapptrack/spool.h"
#include "mapptrack/transport.h"

#include <CppUTest/TestHarness.h>

using mapptrack::decode_spool_records;
using mapptrack::Delivery;
using mapptrack::encode_spool_record;
using mapptrack::is_valid_spool_record;
using mapptrack::Logger;
using mapptrack::LogLevel;
using mapptrack::prepare_spool_directory;
using mapptrack::Spool;
using mapptrack::SpoolOptions;

namespace {

const char* const kEndpoint = "http://track.test/111,222";

Delivery record(int n, std::size_t pad = 0)
{
    Delivery d;
    d.endpoint = kEndpoint;
    d.line = "wt?p=300,0,0,0,0,0,17000000" + std::to_string(100000 + n) + ",0&X-WT-RQ=n" +
             std::to_string(n) + std::string(pad, 'x') + "&eor=1";
    d.cookies = "wteid_111=4" + std::to_string(n);
    d.options.timeout_ms = 1500;
    d.options.batch_size = 50;
    d.options.batch_delay_ms = 200;
    d.queued_ms = 1700000000000 + n;
    return d;
}

std::vector<Delivery> records(int from, int to, std::size_t pad = 0)
{
    std::vector<Delivery> out;
    for (int n = from; n < to; ++n)
        out.push_back(record(n, pad));
    return out;
}

// "n3,n4,…": which records, in which order.
std::string names(const std::vector<Delivery>& v)
{
    std::string out;
    for (const Delivery& d : v) {
        const std::size_t at = d.line.find("X-WT-RQ=") + 8;
        out += (out.empty() ? "" : ",") + d.line.substr(at, d.line.find_first_of("x&", at) - at);
    }
    return out;
}

std::string names(int from, int to)
{
    return names(records(from, to));
}

std::string encode_all(const std::vector<Delivery>& v)
{
    std::string out;
    for (const Delivery& d : v)
        out += encode_spool_record(d);
    return out;
}

// An independent CRC-32 (IEEE, as zlib computes it) to check the framing.
std::uint32_t reference_crc32(const std::string& data)
{
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : data) {
        c ^= b;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

std::uint32_t u32_at(const std::string& s, std::size_t at)
{
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= std::uint32_t(static_cast<unsigned char>(s[at + i])) << (8 * i);
    return v;
}

struct LogRecord {
    std::mutex mutex;
    std::vector<std::string> messages;

    std::size_t count(const std::string& id)
    {
        std::lock_guard<std::mutex> lock(mutex);
        return static_cast<std::size_t>(std::count_if(messages.begin(), messages.end(), [&](const std::string& m) {
            return m.rfind(id, 0) == 0;
        }));
    }
    std::string all()
    {
        std::lock_guard<std::mutex> lock(mutex);
        std::string out;
        for (const std::string& m : messages)
            out += m + "\n";
        return out;
    }
};

void record_log(void* baton, LogLevel, const std::string& message, const char*, int) noexcept
{
    auto* log = static_cast<LogRecord*>(baton);
    try {
        std::lock_guard<std::mutex> lock(log->mutex);
        log->messages.push_back(message);
    } catch (...) {
    }
}

std::vector<std::string> files_in(const std::string& dir)
{
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (const dirent* e = readdir(d)) {
            if (e->d_name[0] != '.')
                out.push_back(e->d_name);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::uint64_t bytes_in(const std::string& dir)
{
    std::uint64_t total = 0;
    for (const std::string& name : files_in(dir)) {
        struct stat st;
        if (stat((dir + "/" + name).c_str(), &st) == 0)
            total += static_cast<std::uint64_t>(st.st_size);
    }
    return total;
}

void write_file(const std::string& path, const std::string& data, time_t mtime = 0)
{
    FILE* f = std::fopen(path.c_str(), "wb");
    CHECK(f != nullptr);
    CHECK_EQUAL(data.size(), std::fwrite(data.data(), 1, data.size(), f));
    std::fclose(f);
    if (mtime) {
        struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
        utimes(path.c_str(), tv);
    }
}

bool exists(const std::string& path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

std::string make_temp_dir()
{
    char tmpl[] = "/tmp/mapptrack-spool-test-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    return dir ? dir : "";
}

void remove_dir(const std::string& dir)
{
    for (const std::string& name : files_in(dir)) {
        const std::string path = dir + "/" + name;
        struct stat st;
        if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            remove_dir(path);
        else
            unlink(path.c_str());
    }
    rmdir(dir.c_str());
}

void put_u32(std::string& out, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_str(std::string& out, const std::string& s)
{
    put_u32(out, static_cast<std::uint32_t>(s.size()));
    out += s;
}

// A record as versions before MTS2 wrote it: with proxy, timeout and batch options.
std::string version1_record(const Delivery& d, const std::string& proxy, std::uint32_t timeout_ms,
                            std::uint32_t batch_size, std::uint32_t batch_delay_ms)
{
    std::string payload;
    put_str(payload, d.endpoint);
    put_str(payload, d.line);
    put_str(payload, d.cookies);
    put_str(payload, proxy);
    put_u32(payload, timeout_ms);
    put_u32(payload, batch_size);
    put_u32(payload, batch_delay_ms);
    put_u32(payload, static_cast<std::uint32_t>(d.queued_ms & 0xFFFFFFFF));
    put_u32(payload, static_cast<std::uint32_t>(static_cast<std::uint64_t>(d.queued_ms) >> 32));
    std::string r = "MTS1";
    put_u32(r, static_cast<std::uint32_t>(payload.size()));
    put_u32(r, reference_crc32(payload));
    return r + payload;
}

// The spool names its segments after the process once (a static string):
// made here, before any test, so that CppUTest does not count it as a leak.
const bool kWarmedUp = [] {
    const std::string dir = make_temp_dir();
    SpoolOptions options;
    options.dir = dir;
    std::string error;
    if (Spool* spool = Spool::open(options, Logger{}, &error).release()) {
        spool->append(records(0, 1));
        delete spool;
    }
    remove_dir(dir);
    return true;
}();

}  // namespace

TEST_GROUP(SpoolRecord){};

TEST(SpoolRecord, FramingIsMagicLengthCrcPayload)
{
    Delivery d = record(1);
    d.visitor = 0x0102030405060708ull;
    d.attempts = 3;
    d.maybe_received = 1;
    const std::string r = encode_spool_record(d);
    CHECK_EQUAL(std::string("MTS2"), r.substr(0, 4));
    const std::uint32_t length = u32_at(r, 4);
    CHECK_EQUAL(r.size() - 12, length);
    CHECK_EQUAL(reference_crc32(r.substr(12)), u32_at(r, 8));
    // Payload: endpoint, line, cookies (u32 LE length + bytes each), queued
    // ms (u64 LE), visitor (u64 LE), attempts (u32 LE), maybe received (u8);
    // nothing else.
    const std::string payload = r.substr(12);
    CHECK_EQUAL(std::strlen(kEndpoint), u32_at(payload, 0));
    CHECK_EQUAL(std::string(kEndpoint), payload.substr(4, std::strlen(kEndpoint)));
    CHECK_EQUAL(4 + d.endpoint.size() + 4 + d.line.size() + 4 + d.cookies.size() + 8 + 8 + 4 + 1, payload.size());
    const std::size_t tail = payload.size() - 21;
    const std::uint64_t queued = u32_at(payload, tail) | (std::uint64_t(u32_at(payload, tail + 4)) << 32);
    CHECK_EQUAL(1700000000001ull, queued);
    CHECK_EQUAL(0x05060708u, u32_at(payload, tail + 8));
    CHECK_EQUAL(0x01020304u, u32_at(payload, tail + 12));
    CHECK_EQUAL(3u, u32_at(payload, tail + 16));
    CHECK_EQUAL(1, payload[tail + 20]);
}

TEST(SpoolRecord, ARecordWithoutTheMaybeReceivedByteIsStillRead)
{
    Delivery d = record(1);
    d.attempts = 2;
    std::string r = encode_spool_record(d);
    // As written before the byte existed: payload one shorter, CRC over it.
    r.pop_back();
    const std::string payload = r.substr(12);
    const std::uint32_t length = static_cast<std::uint32_t>(payload.size());
    const std::uint32_t crc = reference_crc32(payload);
    for (int i = 0; i < 4; ++i) {
        r[4 + i] = static_cast<char>((length >> (8 * i)) & 0xFF);
        r[8 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    }
    std::size_t skipped = 99;
    const std::vector<Delivery> out = decode_spool_records(r, &skipped);
    CHECK_EQUAL(0u, skipped);
    CHECK_EQUAL(1u, out.size());
    CHECK_EQUAL(2u, out[0].attempts);
    CHECK_EQUAL(0u, out[0].maybe_received);
}

TEST(SpoolRecord, EveryStoredFieldSurvivesTheRoundTrip)
{
    Delivery d = record(7, 3000);
    d.queued_ms = 0x7FFFFFFFFFFFll;
    d.visitor = 0xFEDCBA9876543210ull;
    d.attempts = 4000000000u;
    d.maybe_received = 1;
    Delivery empty;  // all strings empty, numbers as defaulted
    empty.queued_ms = 0;
    std::size_t skipped = 99;
    const std::vector<Delivery> out =
        decode_spool_records(encode_spool_record(d) + encode_spool_record(empty), &skipped);
    CHECK_EQUAL(0u, skipped);
    CHECK_EQUAL(2u, out.size());
    CHECK_EQUAL(d.endpoint, out[0].endpoint);
    CHECK_EQUAL(d.line, out[0].line);
    CHECK_EQUAL(d.cookies, out[0].cookies);
    CHECK_EQUAL(d.queued_ms, out[0].queued_ms);
    CHECK_EQUAL(d.visitor, out[0].visitor);
    CHECK_EQUAL(d.attempts, out[0].attempts);
    CHECK_EQUAL(1u, out[0].maybe_received);
    CHECK_EQUAL(std::string(), out[1].endpoint);
    CHECK_EQUAL(std::string(), out[1].line);
    CHECK_EQUAL(0u, out[1].visitor);
    CHECK_EQUAL(0u, out[1].attempts);
}

TEST(SpoolRecord, ProxyTimeoutAndBatchOptionsAreNotStored)
{
    // Where and how a hit goes is the current configuration's business: a
    // planted or stale record must not choose a proxy or hold a thread.
    Delivery d = record(1);
    d.options.proxy = "http://evil.test:3128";
    d.options.timeout_ms = 0;
    d.options.batch_size = 1;
    d.options.batch_delay_ms = 999999;
    const std::string r = encode_spool_record(d);
    CHECK(r.find("evil.test") == std::string::npos);
    std::size_t skipped = 1;
    const auto out = decode_spool_records(r, &skipped);
    CHECK_EQUAL(1u, out.size());
    const mapptrack::DeliveryOptions defaults;
    CHECK_EQUAL(defaults.proxy, out[0].options.proxy);
    CHECK_EQUAL(defaults.timeout_ms, out[0].options.timeout_ms);
    CHECK_EQUAL(defaults.batch_size, out[0].options.batch_size);
    CHECK_EQUAL(defaults.batch_delay_ms, out[0].options.batch_delay_ms);
}

TEST(SpoolRecord, Version1RecordsOfEarlierReleasesAreStillReadWithoutTheirOptions)
{
    Delivery d = record(5);
    const std::string v1 = version1_record(d, "http://evil.test:3128", 0, 1, 7);
    CHECK_EQUAL(std::string("MTS1"), v1.substr(0, 4));
    std::size_t skipped = 1;
    const auto out =
        decode_spool_records(encode_spool_record(record(4)) + v1 + encode_spool_record(record(6)), &skipped);
    CHECK_EQUAL(0u, skipped);
    CHECK_EQUAL(std::string("n4,n5,n6"), names(out));
    CHECK_EQUAL(d.endpoint, out[1].endpoint);
    CHECK_EQUAL(d.line, out[1].line);
    CHECK_EQUAL(d.cookies, out[1].cookies);
    CHECK_EQUAL(d.queued_ms, out[1].queued_ms);
    const mapptrack::DeliveryOptions defaults;
    CHECK_EQUAL(defaults.proxy, out[1].options.proxy);
    CHECK_EQUAL(defaults.timeout_ms, out[1].options.timeout_ms);
    CHECK_EQUAL(defaults.batch_size, out[1].options.batch_size);
    CHECK_EQUAL(0u, out[1].attempts);
}

TEST(SpoolRecord, RecordsOfBothVersionsSurviveGarbageAroundThem)
{
    const std::string garbage1 = "MTS3\x10\x00\x00\x00not a version we know";
    const std::string garbage2 = std::string("MTS2\x05\x00\x00\x00\x00\x00\x00\x00", 12) + "MTS";
    const std::string v1 = version1_record(record(1), "", 2000, 50, 200);
    std::size_t skipped = 0;
    const auto out = decode_spool_records(garbage1 + encode_spool_record(record(0)) + garbage2 + v1 + garbage1 +
                                              encode_spool_record(record(2)) + garbage2,
                                          &skipped);
    CHECK_EQUAL(names(0, 3), names(out));
    CHECK_EQUAL(2 * garbage1.size() + 2 * garbage2.size(), skipped);
}

TEST(SpoolRecord, ManyRecordsComeBackInOrder)
{
    std::size_t skipped = 1;
    CHECK_EQUAL(names(0, 100), names(decode_spool_records(encode_all(records(0, 100)), &skipped)));
    CHECK_EQUAL(0u, skipped);
    CHECK_EQUAL(0u, decode_spool_records("", &skipped).size());
    CHECK_EQUAL(0u, skipped);
}

TEST_GROUP(SpoolCorruption){};

TEST(SpoolCorruption, FlippedPayloadByteSkipsThatRecordOnly)
{
    const std::string r1 = encode_spool_record(record(1));
    std::string r2 = encode_spool_record(record(2));
    const std::string r3 = encode_spool_record(record(3));
    r2[r2.size() / 2] ^= 0x20;
    std::size_t skipped = 0;
    const auto out = decode_spool_records(r1 + r2 + r3, &skipped);
    CHECK_EQUAL(std::string("n1,n3"), names(out));
    CHECK_EQUAL(r2.size(), skipped);
}

TEST(SpoolCorruption, GarbageBeforeBetweenAndAfterIsSkipped)
{
    const std::string garbage1 = "\x00\x01garbage\xff\xfe MTS no magic here";
    const std::string garbage2(777, '\xAA');
    const std::string garbage3 = "MTS1";  // a bare magic with no header
    std::size_t skipped = 0;
    const auto out = decode_spool_records(garbage1 + encode_all(records(0, 3)) + garbage2 +
                                              encode_all(records(3, 5)) + garbage3,
                                          &skipped);
    CHECK_EQUAL(names(0, 5), names(out));
    CHECK_EQUAL(garbage1.size() + garbage2.size() + garbage3.size(), skipped);
}

TEST(SpoolCorruption, GarbageContainingTheMagicIsSkipped)
{
    const std::string garbage = "MTS1\xff\xff\xff\x7f" "abcdMTS1MTS1\x05\x00\x00\x00\x00\x00\x00\x00zz";
    std::size_t skipped = 0;
    const auto out = decode_spool_records(encode_all(records(0, 2)) + garbage + encode_all(records(2, 4)), &skipped);
    CHECK_EQUAL(names(0, 4), names(out));
    CHECK_EQUAL(garbage.size(), skipped);
}

TEST(SpoolCorruption, TruncatedLastRecordIsSkipped)
{
    const std::string good = encode_all(records(0, 4));
    const std::string torn = encode_spool_record(record(4));
    for (std::size_t cut : {std::size_t(1), std::size_t(5), std::size_t(11), std::size_t(12), torn.size() - 1}) {
        std::size_t skipped = 0;
        const auto out = decode_spool_records(good + torn.substr(0, cut), &skipped);
        CHECK_EQUAL(names(0, 4), names(out));
        CHECK_EQUAL(cut, skipped);
    }
}

TEST(SpoolCorruption, TruncatedRecordInTheMiddleIsSkipped)
{
    const std::string torn = encode_spool_record(record(9)).substr(0, 40);
    std::size_t skipped = 0;
    const auto out = decode_spool_records(encode_all(records(0, 2)) + torn + encode_all(records(2, 4)), &skipped);
    CHECK_EQUAL(names(0, 4), names(out));
    CHECK_EQUAL(torn.size(), skipped);
}

TEST(SpoolCorruption, ImplausibleLengthIsSkipped)
{
    std::string r = encode_spool_record(record(1));
    r[7] = 0x7F;  // length ~2 GiB
    std::size_t skipped = 0;
    const auto out = decode_spool_records(r + encode_spool_record(record(2)), &skipped);
    CHECK_EQUAL(std::string("n2"), names(out));
    CHECK_EQUAL(r.size(), skipped);
}

TEST(SpoolCorruption, ValidCrcOverAMalformedPayloadIsSkipped)
{
    // A well-framed record whose payload does not parse (a string length
    // running past the end, or bytes left over) is rejected, not misread.
    for (const char* magic : {"MTS1", "MTS2"}) {
        for (const std::string& payload :
             {std::string("\xff\xff\x00\x00short"),
              encode_spool_record(record(1)).substr(12) + "x"}) {
            std::string r = magic;
            for (std::uint32_t v : {static_cast<std::uint32_t>(payload.size()), reference_crc32(payload)})
                for (int i = 0; i < 4; ++i)
                    r.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
            r += payload;
            std::size_t skipped = 0;
            const auto out = decode_spool_records(r + encode_spool_record(record(3)), &skipped);
            CHECK_EQUAL(std::string("n3"), names(out));
            CHECK_EQUAL(r.size(), skipped);
        }
    }
}

TEST_GROUP(Spool)
{
    std::string dir;
    LogRecord log;
    Spool* spool = nullptr;

    void setup() override
    {
        dir = make_temp_dir();
        CHECK(!dir.empty());
    }
    void teardown() override
    {
        delete spool;
        remove_dir(dir);
    }
    Spool* open(std::uint64_t max_bytes = 1 << 20, std::uint64_t segment_bytes = 0)
    {
        SpoolOptions options;
        options.dir = dir;
        options.max_bytes = max_bytes;
        options.segment_bytes = segment_bytes;
        std::string error;
        Spool* s = Spool::open(options, Logger{&record_log, &log}, &error).release();
        CHECK_TEXT(s != nullptr, error.c_str());
        return s;
    }
    // Takes every waiting segment, delivering all; returns the records in order.
    std::vector<Delivery> take_everything(Spool* s)
    {
        std::vector<Delivery> out;
        while (auto taken = s->take()) {
            for (Delivery& d : taken->records)
                out.push_back(std::move(d));
            s->done(std::move(*taken), {});
        }
        return out;
    }
};

TEST(Spool, OpenCreatesTheDirectory)
{
    SpoolOptions options;
    options.dir = dir + "/sub";
    std::string error;
    std::unique_ptr<Spool> s(Spool::open(options, Logger{}, &error));
    CHECK_TEXT(s != nullptr, error.c_str());
    struct stat st;
    CHECK(stat(options.dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_EQUAL(0700u, st.st_mode & 0777u);
    CHECK_EQUAL(options.dir, s->dir());
    s.reset();
    rmdir(options.dir.c_str());
}

TEST(Spool, OpenFailsUnderARegularFileOrMissingParent)
{
    write_file(dir + "/file", "x");
    SpoolOptions options;
    std::string error;
    options.dir = dir + "/file/spool";
    POINTERS_EQUAL(nullptr, Spool::open(options, Logger{}, &error).get());
    CHECK(error.find(options.dir) != std::string::npos);
    options.dir = dir + "/file";
    error.clear();
    POINTERS_EQUAL(nullptr, Spool::open(options, Logger{}, &error).get());
    CHECK(error.find("not a directory") != std::string::npos);
    options.dir = dir + "/missing/spool";
    error.clear();
    POINTERS_EQUAL(nullptr, Spool::open(options, Logger{}, &error).get());
    CHECK(error.find("cannot create") != std::string::npos);
}

TEST(Spool, AppendedRecordsComeBackInOrderAndTheSegmentIsDeleted)
{
    spool = open();
    CHECK_EQUAL(3u, spool->append(records(0, 3)));
    CHECK_EQUAL(2u, spool->append(records(3, 5)));
    CHECK_EQUAL(1u, files_in(dir).size());
    CHECK(files_in(dir)[0].rfind("seg-" + std::to_string(getpid()) + "-", 0) == 0);
    auto taken = spool->take();
    CHECK(taken.has_value());
    CHECK_EQUAL(names(0, 5), names(taken->records));
    CHECK(exists(taken->path));
    const std::string path = taken->path;
    spool->done(std::move(*taken), {});
    CHECK(!exists(path));
    CHECK(!spool->take().has_value());
    CHECK(!spool->maybe_pending());
    CHECK_EQUAL(5u, spool->counters().spooled.load());
    CHECK_EQUAL(5u, spool->counters().replayed.load());
    CHECK_EQUAL(0u, spool->counters().corrupt_bytes.load());
    CHECK_EQUAL(0u, log.messages.size());
}

TEST(Spool, SegmentsRotateAtTheirSize)
{
    spool = open(1 << 20, 2048);
    const std::size_t one = encode_spool_record(record(0, 200)).size();
    for (int n = 0; n < 40; ++n)
        CHECK_EQUAL(1u, spool->append({record(n, 200)}));
    const auto files = files_in(dir);
    CHECK(files.size() >= 40 * one / (2048 + one));
    CHECK(files.size() <= 40 * one / 2048 + 1);
    for (const std::string& name : files) {
        struct stat st;
        CHECK(stat((dir + "/" + name).c_str(), &st) == 0);
        CHECK(static_cast<std::size_t>(st.st_size) < 2048 + one);
    }
    // Oldest segment first, records in order across segments.
    std::vector<Delivery> all = take_everything(spool);
    CHECK_EQUAL(names(records(0, 40, 200)), names(all));
    CHECK_EQUAL(0u, files_in(dir).size());
}

TEST(Spool, SizeLimitDropsTheOldestSegmentsAndLogsOnce)
{
    spool = open(8192, 2048);
    const int n = 200;
    for (int i = 0; i < n; ++i)
        spool->append({record(i, 100)});
    CHECK(bytes_in(dir) <= 8192);
    const std::uint64_t dropped = spool->counters().dropped_full.load();
    CHECK(dropped > 0);
    CHECK_EQUAL(1u, log.count("MT0204"));  // at most once a minute
    CHECK_TEXT(log.all().find("MappTrackSpoolMaxSize 8192") != std::string::npos, log.all().c_str());
    // What is left is the newest records, in order, and nothing is missing
    // between what was dropped and what was kept.
    const std::vector<Delivery> left = take_everything(spool);
    CHECK_EQUAL(static_cast<std::size_t>(n) - dropped, left.size());
    CHECK_EQUAL(names(records(static_cast<int>(dropped), n, 100)), names(left));
}

TEST(Spool, RecordsLargerThanTheWholeSpoolAreDroppedAndCounted)
{
    spool = open(1024, 1024);
    CHECK_EQUAL(0u, spool->append({record(1, 2000)}));
    CHECK_EQUAL(1u, spool->counters().dropped_full.load());
    CHECK_EQUAL(1u, log.count("MT0211"));
    CHECK(!spool->take().has_value());
}

TEST(Spool, PartialDeliveryKeepsTheRestFirstInLineAndInOrder)
{
    spool = open();
    spool->append(records(0, 10));
    auto taken = spool->take();
    CHECK(taken.has_value());
    CHECK_EQUAL(names(0, 10), names(taken->records));
    const std::string path = taken->path;
    // Records 0-3 were delivered; 4-9 were not.
    std::vector<Delivery> rest(taken->records.begin() + 4, taken->records.end());
    spool->append(records(10, 12));  // arrive while the segment is out
    spool->done(std::move(*taken), rest);
    CHECK(exists(path));
    CHECK(spool->maybe_pending());
    CHECK_EQUAL(4u, spool->counters().replayed.load());  // only what was delivered
    auto again = spool->take();
    CHECK(again.has_value());
    CHECK_EQUAL(path, again->path);
    CHECK_EQUAL(names(4, 10), names(again->records));
    // Not delivered again: nothing lost, still first.
    std::vector<Delivery> all = again->records;
    spool->done(std::move(*again), all);
    CHECK_EQUAL(names(4, 12), names(take_everything(spool)));
    CHECK_EQUAL(0u, files_in(dir).size());
}

TEST(Spool, SealMakesTheCurrentSegmentReplayable)
{
    spool = open();
    spool->append(records(0, 2));
    spool->seal();
    spool->append(records(2, 3));
    CHECK_EQUAL(2u, files_in(dir).size());
    auto first = spool->take();
    CHECK_EQUAL(names(0, 2), names(first->records));
    spool->done(std::move(*first), {});
    auto second = spool->take();
    CHECK_EQUAL(names(2, 3), names(second->records));
    spool->done(std::move(*second), {});
}

TEST(Spool, AdoptsTheSegmentOfAProcessThatIsGone)
{
    const std::string foreign = dir + "/seg-1-1000-1.mts";
    write_file(foreign, encode_all(records(0, 5)));
    spool = open();
    auto taken = spool->take();
    CHECK(taken.has_value());
    CHECK_EQUAL(foreign, taken->path);
    CHECK_EQUAL(names(0, 5), names(taken->records));
    spool->done(std::move(*taken), {});
    CHECK(!exists(foreign));
    CHECK(!spool->take().has_value());
}

TEST(Spool, DoesNotAdoptASegmentWhoseOwnerHoldsTheLock)
{
    const std::string foreign = dir + "/seg-1-1000-2.mts";
    write_file(foreign, encode_all(records(0, 3)));
    const int fd = ::open(foreign.c_str(), O_RDWR);
    CHECK(fd >= 0);
    CHECK_EQUAL(0, flock(fd, LOCK_EX | LOCK_NB));  // "the owner is alive"
    spool = open();
    CHECK(!spool->take().has_value());
    CHECK(exists(foreign));
    CHECK_EQUAL(encode_all(records(0, 3)).size(), static_cast<std::size_t>(bytes_in(dir)));
    close(fd);  // the owner is gone
    auto taken = spool->take();
    CHECK(taken.has_value());
    CHECK_EQUAL(names(0, 3), names(taken->records));
    spool->done(std::move(*taken), {});
    CHECK(!exists(foreign));
}

TEST(Spool, ASegmentBeingReplayedIsNotAdoptedTwice)
{
    const std::string foreign = dir + "/seg-1-1000-3.mts";
    write_file(foreign, encode_all(records(0, 3)));
    spool = open();
    auto taken = spool->take();
    CHECK(taken.has_value());
    Spool* other = open();  // another process would see it the same way
    CHECK(!other->take().has_value());
    spool->done(std::move(*taken), {});
    delete other;
}

TEST(Spool, OwnSegmentsFirstThenForeignOnesOldestFirst)
{
    write_file(dir + "/seg-2-5000-1.mts", encode_all(records(20, 22)), 1600000200);
    write_file(dir + "/seg-1-9000-1.mts", encode_all(records(10, 12)), 1600000100);
    spool = open();
    spool->append(records(0, 2));
    CHECK_EQUAL(names(0, 2) + "," + names(10, 12) + "," + names(20, 22), names(take_everything(spool)));
}

TEST(Spool, ForeignSegmentNotDeliveredStaysFirstInLine)
{
    const std::string foreign = dir + "/seg-1-1000-4.mts";
    write_file(foreign, encode_all(records(0, 4)));
    spool = open();
    auto taken = spool->take();
    CHECK_EQUAL(foreign, taken->path);
    std::vector<Delivery> rest(taken->records.begin() + 1, taken->records.end());
    spool->done(std::move(*taken), rest);
    spool->append(records(4, 5));
    CHECK_EQUAL(names(1, 5), names(take_everything(spool)));
}

TEST(Spool, CorruptAndTruncatedBytesInAnAdoptedSegmentAreSkippedAndLogged)
{
    const std::string garbage = "this is not a record\x01\x02\x03";
    const std::string torn = encode_spool_record(record(9)).substr(0, 30);
    write_file(dir + "/seg-1-1000-5.mts",
               encode_all(records(0, 2)) + garbage + encode_all(records(2, 4)) + torn);
    spool = open();
    const std::vector<Delivery> all = take_everything(spool);
    CHECK_EQUAL(names(0, 4), names(all));
    CHECK_EQUAL(garbage.size() + torn.size(), spool->counters().corrupt_bytes.load());
    CHECK_EQUAL(1u, log.count("MT0207"));
    CHECK_TEXT(log.all().find("skipped " + std::to_string(garbage.size() + torn.size())) != std::string::npos,
               log.all().c_str());
    CHECK_EQUAL(0u, files_in(dir).size());
}

TEST(Spool, OtherFilesInTheDirectoryAreLeftAlone)
{
    write_file(dir + "/notes.txt", encode_all(records(0, 1)));
    write_file(dir + "/seg-1-1000-6.tmp", encode_all(records(0, 1)));
    spool = open();
    CHECK(!spool->take().has_value());
    CHECK_EQUAL(2u, files_in(dir).size());
}

// The dispatcher replays the spool through its transport: batches of one
// endpoint up to the records' batch size and under 1 MiB of body, in order.
namespace {

struct Recorder {
    std::mutex mutex;
    std::vector<mapptrack::OutboundRequest> requests;
};

class RecordingTransport : public mapptrack::Transport {
public:
    explicit RecordingTransport(std::shared_ptr<Recorder> recorder) : recorder_(std::move(recorder)) {}
    mapptrack::OutboundResponse perform(const mapptrack::OutboundRequest& request) override
    {
        {
            std::lock_guard<std::mutex> lock(recorder_->mutex);
            recorder_->requests.push_back(request);
        }
        mapptrack::OutboundResponse r;
        r.outcome = mapptrack::OutboundResponse::Outcome::Answered;
        r.status = 200;
        return r;
    }

private:
    std::shared_ptr<Recorder> recorder_;
};

}  // namespace

TEST(Spool, ReplayedBatchesStayUnderOneMebibyteInOrder)
{
    spool = open(64 << 20);
    std::vector<Delivery> long_ones = records(0, 400, 6300);
    for (Delivery& d : long_ones)
        d.options.batch_size = 1000;
    spool->append(long_ones);
    auto recorder = std::make_shared<Recorder>();
    mapptrack::DispatcherOptions options;
    options.threads = 1;
    options.spool = spool;
    options.drain_deadline = std::chrono::milliseconds(2000);
    mapptrack::Dispatcher::Handle d = mapptrack::Dispatcher::start(
        options,
        [recorder](const std::atomic<bool>*) -> std::unique_ptr<mapptrack::Transport> {
            return std::make_unique<RecordingTransport>(recorder);
        },
        Logger{&record_log, &log});
    CHECK(d != nullptr);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::size_t lines = 0;
    while (std::chrono::steady_clock::now() < until) {
        {
            std::lock_guard<std::mutex> lock(recorder->mutex);
            lines = 0;
            for (const auto& r : recorder->requests)
                lines += static_cast<std::size_t>(std::count(r.body.begin(), r.body.end(), '\n')) + 1;
        }
        if (lines >= 400)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(mapptrack::Dispatcher::stop(d.release()));
    CHECK_EQUAL(400u, lines);
    std::string all;
    for (const auto& r : recorder->requests) {
        CHECK(r.post);
        CHECK(r.body.size() < (std::size_t(1) << 20));
        all += (all.empty() ? "" : "\n") + r.body;
    }
    CHECK(recorder->requests.size() >= 3);
    std::string expected;
    for (const Delivery& d2 : records(0, 400, 6300))
        expected += (expected.empty() ? "" : "\n") + d2.line;
    CHECK(expected == all);
    CHECK_EQUAL(0u, files_in(dir).size());
}

// A new segment is visible before its owner locks it. Another process looking
// for orphaned segments (here a thread with its own open file descriptions,
// which flock() treats like another process) may lock it first, find it empty
// and delete it: the owner must then write to another file, not lose hits.
TEST(Spool, ANewSegmentTakenByAnotherProcessBeforeItIsLockedLosesNothing)
{
    spool = open(1 << 20, 1);  // every append seals its segment: a new file each time
    std::atomic<bool> stop{false};
    std::atomic<long> adopted{0};
    std::atomic<long> adopted_empty{0};
    std::thread adopter([&] {
        while (!stop.load()) {
            for (const std::string& name : files_in(dir)) {
                const std::string path = dir + "/" + name;
                const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
                if (fd < 0)
                    continue;
                struct stat st;
                if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0) {
                    std::string data(static_cast<std::size_t>(st.st_size), '\0');
                    if (pread(fd, &data[0], data.size(), 0) == st.st_size) {
                        std::size_t skipped = 0;
                        const long n = static_cast<long>(decode_spool_records(data, &skipped).size());
                        adopted += n;
                        adopted_empty += n == 0;
                    }
                    unlink(path.c_str());
                }
                close(fd);
            }
        }
    });
    long appended = 0;
    long taken_back = 0;
    for (int i = 0; i < 10000; ++i) {
        appended += static_cast<long>(spool->append({record(i)}));
        if (auto taken = spool->take()) {
            taken_back += static_cast<long>(taken->records.size());
            spool->done(std::move(*taken), {});
        }
    }
    stop = true;
    adopter.join();
    for (const Delivery& d : take_everything(spool)) {
        (void)d;
        ++taken_back;
    }
    CHECK_EQUAL_TEXT(0u, log.count("MT0205") + log.count("MT0212"), log.all().c_str());
    CHECK_EQUAL(10000L, appended);
    // The owner's locked segments are never adopted; every record comes back once.
    CHECK_EQUAL(0L, adopted.load());
    CHECK_EQUAL(appended, taken_back);
}

TEST(Spool, ReplayedRecordsTakeNoProxyOrTimeoutFromTheFile)
{
    // Options set on a record before it was spooled do not come back with it
    // (MTS2 does not store them): a planted or stale record cannot pick a
    // proxy or hold a delivery thread with a timeout of its own.
    spool = open();
    std::vector<Delivery> planted = records(0, 4);
    for (Delivery& p : planted) {
        p.options.proxy = "http://evil.test:3128";
        p.options.timeout_ms = 0;
    }
    spool->append(planted);
    auto recorder = std::make_shared<Recorder>();
    mapptrack::DispatcherOptions options;
    options.threads = 1;
    options.spool = spool;
    mapptrack::Dispatcher::Handle d = mapptrack::Dispatcher::start(
        options,
        [recorder](const std::atomic<bool>*) -> std::unique_ptr<mapptrack::Transport> {
            return std::make_unique<RecordingTransport>(recorder);
        },
        Logger{&record_log, &log});
    CHECK(d != nullptr);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until && !files_in(dir).empty())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(mapptrack::Dispatcher::stop(d.release()));
    CHECK(!recorder->requests.empty());
    for (const auto& r : recorder->requests) {
        CHECK(r.proxy.find("evil") == std::string::npos);
        CHECK(r.timeout_ms > 0);
    }
}

// -- what a replayed record must be -----------------------------------------------

TEST_GROUP(SpoolRecordValidation){};

TEST(SpoolRecordValidation, RecordsAsTheModuleWritesThemAreValid)
{
    std::string why;
    CHECK_TEXT(is_valid_spool_record(record(1), &why), why.c_str());
    Delivery d = record(2);
    d.cookies.clear();
    d.line = "?p=300,0&eor=1";
    CHECK_TEXT(is_valid_spool_record(d, &why), why.c_str());
    for (const char* endpoint : {"https://track.test:8443/base/path/111,222", "http://127.0.0.1:4711/111",
                                 "https://[::1]:8443/12345678901234567890"}) {
        d.endpoint = endpoint;
        CHECK_TEXT(is_valid_spool_record(d, &why), (std::string(endpoint) + ": " + why).c_str());
    }
    d.cookies = "wteid_111=4000000000000000001; wt3_eid=%3B111%7C4000000000000000001";
    CHECK_TEXT(is_valid_spool_record(d, &why), why.c_str());
}

TEST(SpoolRecordValidation, ForeignLookingEndpointsAreRefused)
{
    for (const char* endpoint :
         {"http://evil/x/../111", "http://127.0.0.1:1/111?x", "http://user@track.test/111",
          "http://user:pass@track.test/111", "http://track.test/11a", "http://track.test/111,abc",
          "http://track.test/", "http://track.test", "track.test/111", "", "/111",
          "http://track.test/111#x", "ftp://track.test/111", "http://track.test/111/",
          "HTTP://track.test/111",        // would be normalised to another string
          "http://TRACK.test/111",        //
          "http://track.test:80/111",     //
          "http://track.test/a//111", "http://track.test/111,,222", "http://track.test /111",
          "http://track.test/\r\n111", "gopher://127.0.0.1:25/111"}) {
        Delivery d = record(1);
        d.endpoint = endpoint;
        std::string why;
        CHECK_TEXT(!is_valid_spool_record(d, &why), endpoint);
        CHECK_TEXT(!why.empty(), endpoint);
    }
}

TEST(SpoolRecordValidation, LinesThatAreNotMappHitLinesAreRefused)
{
    for (const std::string& line :
         {std::string("wt?p=300,a b&eor=1"), std::string("../../../private/admin?cmd=1"), std::string(""),
          std::string("wt"), std::string("wt?p=1\r\nX-Evil: 1"), std::string("wt?p=1&x=\n"),
          std::string("wt?p=1%zz"), std::string("admin?cmd=1"), std::string("wt?p=1#frag"),
          std::string("wt?p=1\0x", 8), std::string("wt?p=") + std::string(mapptrack::kMaxForeignLineBytes, 'a')}) {
        Delivery d = record(1);
        d.line = line;
        std::string why;
        CHECK_TEXT(!is_valid_spool_record(d, &why), line.substr(0, 60).c_str());
        CHECK(!why.empty());
    }
}

TEST(SpoolRecordValidation, CookiesThatAreNotACleanMappHeaderAreRefused)
{
    for (const std::string& cookies :
         {std::string("sessionid=secret"), std::string("wteid_111=4; sessionid=secret"),
          std::string("wteid_111=4\r\nX-Evil: 1"), std::string("wteid_111=4\n"), std::string("wteid_111=4\r"),
          std::string("wteid_111=4\0", 12), std::string("wteid_111=4;wtsid=5"), std::string(" wteid_111=4"),
          std::string("wteid_111=4, sessionid=secret")}) {
        Delivery d = record(1);
        d.cookies = cookies;
        std::string why;
        CHECK_TEXT(!is_valid_spool_record(d, &why), cookies.c_str());
        CHECK(!why.empty());
    }
}

// -- the directory -------------------------------------------------------------------

namespace {

uid_t nobody_uid()
{
    const passwd* pw = getpwnam("nobody");
    return pw ? pw->pw_uid : 65534;
}

gid_t nobody_gid()
{
    const passwd* pw = getpwnam("nobody");
    return pw ? pw->pw_gid : 65534;
}

struct stat lstat_of(const std::string& path)
{
    struct stat st;
    std::memset(&st, 0, sizeof st);
    CHECK_EQUAL_TEXT(0, lstat(path.c_str(), &st), path.c_str());
    return st;
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_GROUP(SpoolDirectory)
{
    std::string dir;
    void setup() override
    {
        dir = make_temp_dir();
        CHECK(!dir.empty());
    }
    void teardown() override
    {
        remove_dir(dir);
    }
};

TEST(SpoolDirectory, AMissingDirectoryIsCreatedMode0700ForTheUser)
{
    const std::string spool = dir + "/spool";
    const mode_t old = umask(0);  // not what decides the mode
    const auto problem = prepare_spool_directory(spool, nobody_uid(), nobody_gid());
    umask(old);
    CHECK_TEXT(!problem, problem ? problem->c_str() : "");
    const struct stat st = lstat_of(spool);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_EQUAL(0700u, st.st_mode & 07777u);
    if (geteuid() == 0) {
        CHECK_EQUAL(nobody_uid(), st.st_uid);
        CHECK_EQUAL(nobody_gid(), st.st_gid);
    }
    // and is accepted as it is the next time
    CHECK(!prepare_spool_directory(spool, geteuid() == 0 ? nobody_uid() : geteuid(), nobody_gid()));
}

TEST(SpoolDirectory, AnExistingDirectoryOfTheUserIsAccepted)
{
    const auto problem = prepare_spool_directory(dir, geteuid(), getegid());
    CHECK_TEXT(!problem, problem ? problem->c_str() : "");
    CHECK_EQUAL(0700u, lstat_of(dir).st_mode & 07777u);
}

TEST(SpoolDirectory, ASymlinkIsRefusedAndItsTargetIsNeverChowned)
{
    const std::string target = dir + "/target";
    const std::string link = dir + "/spool";
    CHECK_EQUAL(0, mkdir(target.c_str(), 0700));
    CHECK_EQUAL(0, symlink(target.c_str(), link.c_str()));
    const struct stat before = lstat_of(target);
    const auto problem = prepare_spool_directory(link, nobody_uid(), nobody_gid());
    CHECK(problem.has_value());
    CHECK_TEXT(contains(*problem, "symbolic link"), problem->c_str());
    CHECK_TEXT(contains(*problem, "point MappTrackSpoolDir at a real directory"), problem->c_str());
    const struct stat after = lstat_of(target);
    CHECK_EQUAL(before.st_uid, after.st_uid);
    CHECK_EQUAL(before.st_gid, after.st_gid);
    CHECK_EQUAL(before.st_mode, after.st_mode);
    // a dangling symlink is not created through either
    const std::string nowhere = dir + "/nowhere";
    const std::string dangling = dir + "/dangling";
    CHECK_EQUAL(0, symlink(nowhere.c_str(), dangling.c_str()));
    CHECK(prepare_spool_directory(dangling, nobody_uid(), nobody_gid()).has_value());
    CHECK(!exists(nowhere));
}

TEST(SpoolDirectory, AWorldWritableDirectoryIsRefused)
{
    CHECK_EQUAL(0, chmod(dir.c_str(), 0777));
    const auto problem = prepare_spool_directory(dir, geteuid(), getegid());
    CHECK(problem.has_value());
    CHECK_TEXT(contains(*problem, "world-writable") && contains(*problem, "chmod 0700 " + dir), problem->c_str());
    CHECK_EQUAL(0777u, lstat_of(dir).st_mode & 07777u);  // not "fixed" behind the operator's back
    CHECK_EQUAL(0, chmod(dir.c_str(), 01777));  // sticky makes it no better
    CHECK(prepare_spool_directory(dir, geteuid(), getegid()).has_value());
}

TEST(SpoolDirectory, AGroupWritableDirectoryIsRefused)
{
    CHECK_EQUAL(0, chmod(dir.c_str(), 0770));
    const auto problem = prepare_spool_directory(dir, geteuid(), getegid());
    CHECK(problem.has_value());
    CHECK_TEXT(contains(*problem, "group-") && contains(*problem, "chmod 0700"), problem->c_str());
}

TEST(SpoolDirectory, ADirectoryOfAnotherOwnerIsRefusedAndNotChowned)
{
    if (geteuid() != 0)
        TEST_EXIT;  // needs root to give a directory away
    const std::string spool = dir + "/spool";
    CHECK_EQUAL(0, mkdir(spool.c_str(), 0700));
    CHECK_EQUAL(0, chown(spool.c_str(), nobody_uid(), nobody_gid()));
    const auto problem = prepare_spool_directory(spool, 0, 0);
    CHECK(problem.has_value());
    CHECK_TEXT(contains(*problem, "owned by uid " + std::to_string(nobody_uid())), problem->c_str());
    CHECK_TEXT(contains(*problem, "chown 0 " + spool), problem->c_str());
    CHECK_EQUAL(nobody_uid(), lstat_of(spool).st_uid);
    // and the other way round: root's directory is not handed to User
    const auto reverse = prepare_spool_directory(dir, nobody_uid(), nobody_gid());
    CHECK(reverse.has_value());
    CHECK_EQUAL(0u, lstat_of(dir).st_uid);
}

TEST(SpoolDirectory, AFileOrASymlinkToAFileIsRefused)
{
    write_file(dir + "/file", "x");
    CHECK_EQUAL(0, symlink((dir + "/file").c_str(), (dir + "/link").c_str()));
    const auto file = prepare_spool_directory(dir + "/file", geteuid(), getegid());
    CHECK(file.has_value());
    CHECK_TEXT(contains(*file, "not a directory"), file->c_str());
    const auto link = prepare_spool_directory(dir + "/link", geteuid(), getegid());
    CHECK(link.has_value());
    CHECK_TEXT(contains(*link, "symbolic link"), link->c_str());
    CHECK(prepare_spool_directory("", geteuid(), getegid()).has_value());
}

TEST(SpoolDirectory, SpoolOpenMakesTheSameChecksAsTheUser)
{
    SpoolOptions options;
    std::string error;
    const std::string target = dir + "/target";
    CHECK_EQUAL(0, mkdir(target.c_str(), 0700));
    options.dir = dir + "/link";
    CHECK_EQUAL(0, symlink(target.c_str(), options.dir.c_str()));
    POINTERS_EQUAL(nullptr, Spool::open(options, Logger{}, &error).get());
    CHECK_TEXT(contains(error, options.dir) && contains(error, "symbolic link"), error.c_str());
    options.dir = dir + "/open";
    CHECK_EQUAL(0, mkdir(options.dir.c_str(), 0700));
    CHECK_EQUAL(0, chmod(options.dir.c_str(), 0757));
    error.clear();
    POINTERS_EQUAL(nullptr, Spool::open(options, Logger{}, &error).get());
    CHECK_TEXT(contains(error, "world-writable"), error.c_str());
    if (geteuid() == 0) {
        options.dir = dir + "/theirs";
        CHECK_EQUAL(0, mkdir(options.dir.c_str(), 0700));
        CHECK_EQUAL(0, chown(options.dir.c_str(), nobody_uid(), nobody_gid()));
        error.clear();
        POINTERS_EQUAL(nullptr, Spool::open(options, Logger{}, &error).get());
        CHECK_TEXT(contains(error, "owned by uid " + std::to_string(nobody_uid())), error.c_str());
    }
}

// -- files named like segments that are not ----------------------------------------------

TEST(Spool, AFifoNamedLikeASegmentIsSkippedAndTheGoodSegmentsAreTaken)
{
    write_file(dir + "/seg-1-1000-1.mts", encode_all(records(0, 3)), 1600000100);
    CHECK_EQUAL(0, mkfifo((dir + "/seg-1-1000-2.mts").c_str(), 0600));  // opening it would block
    write_file(dir + "/seg-1-1000-3.mts", encode_all(records(3, 6)), 1600000300);
    spool = open();
    CHECK_EQUAL(names(0, 6), names(take_everything(spool)));
    CHECK_EQUAL(1u, spool->counters().refused_files.load());
    CHECK_EQUAL(1u, log.count("MT0208"));
    CHECK_TEXT(contains(log.all(), "seg-1-1000-2.mts") && contains(log.all(), "not a regular file"),
               log.all().c_str());
    // Seen again: neither counted nor logged again, and take() does not spin on it.
    spool->mark_pending();
    CHECK(!spool->take().has_value());
    CHECK(!spool->maybe_pending());
    CHECK_EQUAL(1u, spool->counters().refused_files.load());
    CHECK_EQUAL(1u, log.count("MT0208"));
    CHECK(files_in(dir) == std::vector<std::string>{"seg-1-1000-2.mts"});  // left alone
}

TEST(Spool, ASymlinkToDevZeroNamedLikeASegmentIsNeverRead)
{
    write_file(dir + "/seg-1-1000-1.mts", encode_all(records(0, 2)), 1600000100);
    CHECK_EQUAL(0, symlink("/dev/zero", (dir + "/seg-4000000-1700000000000-1.mts").c_str()));
    write_file(dir + "/seg-1-1000-3.mts", encode_all(records(2, 4)), 1600000300);
    spool = open();
    CHECK_EQUAL(names(0, 4), names(take_everything(spool)));
    CHECK_EQUAL(1u, spool->counters().refused_files.load());
    CHECK_EQUAL(0u, spool->counters().corrupt_bytes.load());
    CHECK_EQUAL(1u, log.count("MT0208"));
    CHECK_TEXT(contains(log.all(), "symbolic link"), log.all().c_str());
}

TEST(Spool, ASymlinkToARealSegmentElsewhereIsNotFollowed)
{
    const std::string elsewhere = make_temp_dir();
    write_file(elsewhere + "/victim.mts", encode_all(records(0, 2)));
    CHECK_EQUAL(0, symlink((elsewhere + "/victim.mts").c_str(), (dir + "/seg-1-1000-1.mts").c_str()));
    spool = open();
    CHECK(!spool->take().has_value());
    CHECK_EQUAL(1u, spool->counters().refused_files.load());
    CHECK(exists(elsewhere + "/victim.mts"));  // not read, not deleted
    remove_dir(elsewhere);
}

TEST(Spool, AnOversizedFileNamedLikeASegmentIsSkippedUnread)
{
    const std::uint64_t limit = mapptrack::segment_file_limit(64 * 1024);
    CHECK_EQUAL(mapptrack::kMinSegmentFileLimit, limit);
    CHECK(mapptrack::segment_file_limit(8 << 20) >= 4 * (8ull << 20));
    const std::string big = dir + "/seg-1-1000-2.mts";
    write_file(big, encode_all(records(10, 12)), 1600000200);
    CHECK_EQUAL(0, truncate(big.c_str(), static_cast<off_t>(limit + 1)));  // sparse: no disk used
    write_file(dir + "/seg-1-1000-1.mts", encode_all(records(0, 2)), 1600000100);
    write_file(dir + "/seg-1-1000-3.mts", encode_all(records(2, 4)), 1600000300);
    spool = open(1 << 20, 64 * 1024);
    CHECK_EQUAL(names(0, 4), names(take_everything(spool)));
    CHECK_EQUAL(1u, spool->counters().refused_files.load());
    CHECK_TEXT(contains(log.all(), "more than a segment can"), log.all().c_str());
    CHECK(exists(big));
}

TEST(Spool, AFileOfAnotherOwnerNamedLikeASegmentIsSkipped)
{
    if (geteuid() != 0)
        TEST_EXIT;  // needs root to give a file away
    const std::string theirs = dir + "/seg-1-1000-2.mts";
    write_file(theirs, encode_all(records(10, 12)), 1600000200);
    CHECK_EQUAL(0, chown(theirs.c_str(), nobody_uid(), nobody_gid()));
    write_file(dir + "/seg-1-1000-1.mts", encode_all(records(0, 2)), 1600000100);
    spool = open();
    CHECK_EQUAL(names(0, 2), names(take_everything(spool)));
    CHECK_EQUAL(1u, spool->counters().refused_files.load());
    CHECK_TEXT(contains(log.all(), "owned by uid " + std::to_string(nobody_uid())), log.all().c_str());
    CHECK(exists(theirs));
}

TEST(Spool, ManyHostileFilesAreCountedEachButLoggedOnce)
{
    for (int i = 0; i < 20; ++i) {
        const std::string name = dir + "/seg-9-9000-" + std::to_string(i) + ".mts";
        if (i % 2)
            CHECK_EQUAL(0, mkfifo(name.c_str(), 0600));
        else
            CHECK_EQUAL(0, symlink("/dev/zero", name.c_str()));
    }
    write_file(dir + "/seg-1-1000-1.mts", encode_all(records(0, 2)));
    spool = open();
    CHECK_EQUAL(names(0, 2), names(take_everything(spool)));
    for (int i = 0; i < 5; ++i) {
        spool->mark_pending();
        CHECK(!spool->take().has_value());
    }
    CHECK_EQUAL(20u, spool->counters().refused_files.load());
    CHECK_EQUAL(1u, log.count("MT0208"));
    CHECK_TEXT(contains(log.all(), "1 such file(s) so far"), log.all().c_str());
}

TEST(Spool, HostileFilesDoNotCountTowardsTheSizeLimit)
{
    const std::string big = dir + "/seg-1-1000-2.mts";
    write_file(big, "");
    CHECK_EQUAL(0, truncate(big.c_str(), static_cast<off_t>(mapptrack::kMinSegmentFileLimit + 1)));
    CHECK_EQUAL(0, symlink("/dev/zero", (dir + "/seg-1-1000-3.mts").c_str()));
    spool = open(64 * 1024, 4096);
    CHECK(!spool->take().has_value());
    CHECK_EQUAL(10u, spool->append(records(0, 10)));
    CHECK_EQUAL(0u, spool->counters().dropped_full.load());
}

TEST(Spool, ALargeAppendIsCutIntoSegments)
{
    // At stop a whole queue may go to the spool at once: it still lands in
    // segments of about their size, far under the limit a segment is read to.
    spool = open(64 << 20, 8192);
    const std::size_t one = encode_spool_record(record(0, 1000)).size();
    CHECK_EQUAL(200u, spool->append(records(0, 200, 1000)));
    const auto files = files_in(dir);
    CHECK(files.size() >= 200 * one / (8192 + one));
    for (const std::string& name : files) {
        struct stat st;
        CHECK(stat((dir + "/" + name).c_str(), &st) == 0);
        CHECK(static_cast<std::size_t>(st.st_size) < 8192 + one);
    }
    CHECK_EQUAL(names(records(0, 200, 1000)), names(take_everything(spool)));
    CHECK_EQUAL(200u, spool->counters().spooled.load());
}

TEST(Spool, WriteFailuresAreLoggedOnceAMinute)
{
    spool = open(1 << 20, 1);
    remove_dir(dir);  // every new segment fails now
    for (int i = 0; i < 20; ++i)
        CHECK_EQUAL(0u, spool->append({record(i)}));
    CHECK_EQUAL(1u, log.count("MT0205"));
    CHECK_EQUAL(0u, spool->counters().spooled.load());
    CHECK_EQUAL(0, mkdir(dir.c_str(), 0700));  // for teardown
}

// -- what configtest can tell (check_spool_directory) ---------------------------------

namespace {

struct Snapshot {
    bool present;
    struct stat st;
};

Snapshot snapshot(const std::string& path)
{
    Snapshot s{};
    s.present = lstat(path.c_str(), &s.st) == 0;
    return s;
}

bool same(const Snapshot& a, const Snapshot& b)
{
    if (a.present != b.present)
        return false;
    return !a.present || (a.st.st_ino == b.st.st_ino && a.st.st_uid == b.st.st_uid && a.st.st_gid == b.st.st_gid &&
                          a.st.st_mode == b.st.st_mode);
}

}  // namespace

TEST(SpoolDirectory, TheCheckRefusesWhatPrepareRefusesAndChangesNothing)
{
    const bool root = geteuid() == 0;
    const unsigned user = root ? nobody_uid() : geteuid();
    const unsigned group = root ? nobody_gid() : getegid();
    const std::string target = dir + "/target";
    CHECK_EQUAL(0, mkdir(target.c_str(), 0700));
    CHECK_EQUAL(0, symlink(target.c_str(), (dir + "/link").c_str()));
    write_file(dir + "/file", "x");
    for (const auto& [name, mode] : {std::pair<const char*, mode_t>{"open", 0777}, {"shared", 0770}, {"theirs", 0700}}) {
        const std::string path = dir + "/" + name;
        CHECK_EQUAL(0, mkdir(path.c_str(), 0700));
        CHECK_EQUAL(0, chmod(path.c_str(), mode));
        if (std::string(name) != "theirs" && root)
            CHECK_EQUAL(0, chown(path.c_str(), user, group));
    }
    std::vector<std::string> refused = {dir + "/link", dir + "/file", dir + "/open", dir + "/shared",
                                        dir + "/missing/spool", dir + "/file/spool", ""};
    if (root)
        refused.push_back(dir + "/theirs");  // root's, not User's
    for (const std::string& path : refused) {
        const Snapshot before = snapshot(path);
        const Snapshot target_before = snapshot(target);
        const auto checked = mapptrack::check_spool_directory(path, user);
        CHECK_TEXT(checked.has_value(), path.c_str());
        CHECK_TEXT(same(before, snapshot(path)) && same(target_before, snapshot(target)), path.c_str());
        const auto prepared = prepare_spool_directory(path, user, group);
        CHECK_TEXT(prepared.has_value(), path.c_str());
        // The same words where both see the same thing; a missing parent is
        // told as such by the check, as "cannot create it" by prepare.
        if (path.find("/spool") == std::string::npos) {
            STRCMP_EQUAL(prepared->c_str(), checked->c_str());
        } else {
            CHECK_TEXT(contains(*checked, "its parent is not an existing directory") &&
                           contains(*checked, "create it (mode 0700, owned by User)"),
                       checked->c_str());
        }
    }
    // Accepted: a directory of the User's, and a missing one in an existing
    // directory; the check does not create it.
    const std::string ours = dir + "/ours";
    CHECK_EQUAL(0, mkdir(ours.c_str(), 0700));
    if (root)
        CHECK_EQUAL(0, chown(ours.c_str(), user, group));
    const auto accepted = mapptrack::check_spool_directory(ours, user);
    CHECK_TEXT(!accepted, accepted ? accepted->c_str() : "");
    const auto fresh = mapptrack::check_spool_directory(dir + "/fresh/", user);
    CHECK_TEXT(!fresh, fresh ? fresh->c_str() : "");
    CHECK(!exists(dir + "/fresh"));
    CHECK(!prepare_spool_directory(dir + "/fresh", user, group));
    CHECK(!mapptrack::check_spool_directory(dir + "/fresh", user));  // as prepare left it
}

TEST_GROUP(SpoolAsUser)
{
    // Runs parts as `nobody` when root, so that permissions apply; teardown
    // always returns to root (a failed CHECK does not unwind the test body).
    std::string dir;
    LogRecord log;
    Spool* spool = nullptr;
    void setup() override
    {
        dir = make_temp_dir();
        CHECK(!dir.empty());
        if (getuid() == 0)
            CHECK_EQUAL(0, chown(dir.c_str(), nobody_uid(), nobody_gid()));
    }
    void teardown() override
    {
        if (getuid() == 0 && geteuid() != 0)
            CHECK_EQUAL(0, seteuid(0));
        delete spool;
        spool = nullptr;
        remove_dir(dir);
    }
    void become_user()
    {
        if (getuid() == 0)
            CHECK_EQUAL(0, seteuid(nobody_uid()));
    }
    void give_away(const std::string& path)
    {
        if (getuid() == 0)
            CHECK_EQUAL(0, chown(path.c_str(), nobody_uid(), nobody_gid()));
    }
};

TEST(SpoolAsUser, ASegmentThatCannotBeOpenedIsLoggedOnceWithItsReasonAndTheOthersAreReplayed)
{
    const std::string bad = dir + "/seg-1-1000-2.mts";
    write_file(dir + "/seg-1-1000-1.mts", encode_all(records(0, 2)), 1600000100);
    write_file(bad, encode_all(records(10, 12)), 1600000200);
    write_file(dir + "/seg-1-1000-3.mts", encode_all(records(2, 4)), 1600000300);
    for (const std::string& name : files_in(dir))
        give_away(dir + "/" + name);
    CHECK_EQUAL(0, chmod(bad.c_str(), 0));
    become_user();
    SpoolOptions options;
    options.dir = dir;
    std::string error;
    spool = Spool::open(options, Logger{&record_log, &log}, &error).release();
    CHECK_TEXT(spool != nullptr, error.c_str());
    std::vector<Delivery> got;
    while (auto taken = spool->take()) {
        for (Delivery& d : taken->records)
            got.push_back(std::move(d));
        spool->done(std::move(*taken), {});
    }
    CHECK_EQUAL(names(0, 4), names(got));
    CHECK_EQUAL(1u, log.count("MT0206"));
    CHECK_TEXT(contains(log.all(), bad) && contains(log.all(), std::strerror(EACCES)), log.all().c_str());
    // Not tried (nor logged) again on every pass; left on disk.
    for (int i = 0; i < 3; ++i) {
        spool->mark_pending();
        CHECK(!spool->take().has_value());
    }
    CHECK_EQUAL(1u, log.count("MT0206"));
    CHECK(exists(bad));
}

TEST(SpoolAsUser, TheCheckFindsAParentTheUserCannotCreateIn)
{
    // Run as User (not root), httpd creates the spool directory itself.
    const std::string locked = dir + "/locked";
    CHECK_EQUAL(0, mkdir(locked.c_str(), 0500));
    give_away(locked);
    become_user();
    const auto checked = mapptrack::check_spool_directory(locked + "/spool", geteuid());
    CHECK(checked.has_value());
    CHECK_TEXT(contains(*checked, "cannot create it: ") && contains(*checked, std::strerror(EACCES)),
               checked->c_str());
    CHECK(prepare_spool_directory(locked + "/spool", geteuid(), getegid()).has_value());
    CHECK_EQUAL(0, seteuid(getuid()));
    CHECK_EQUAL(0, chmod(locked.c_str(), 0700));  // for teardown
}
