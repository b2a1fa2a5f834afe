// The inspector's ring in shared memory (inspect_store.h): the last N hits,
// newest first; long lines and cookies cut; a block that is not a store
// refused; and several processes (and a reader meanwhile) writing at once,
// with no entry torn and none counted twice.
#include "mapptrack/inspect_store.h"
#include "support.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CppUTest/TestHarness.h>

using namespace mapptrack;
using mapptrack::test::SharedMemory;

namespace {

InspectStore store_in(SharedMemory& m, unsigned hits)
{
    auto s = InspectStore::create(m.memory, m.bytes, hits);
    CHECK(s.has_value());
    return *s;
}

// A line whose every byte says who wrote it: a torn entry cannot pass as whole.
std::string signed_line(int writer, int i)
{
    const char c = static_cast<char>('a' + writer);
    return "wt?w=" + std::to_string(writer) + "&i=" + std::to_string(i) + "&x=" +
           std::string(static_cast<std::size_t>(100 + (i * 37) % 3000), c) + "&eor=1";
}

bool whole(const StoredHit& h)
{
    int writer = -1, i = -1;
    if (std::sscanf(h.line.c_str(), "wt?w=%d&i=%d&", &writer, &i) != 2) return false;
    return h.line == signed_line(writer, i) && h.track_ids == "ids" + std::to_string(writer) &&
           h.cookie == "c=" + std::to_string(i) && h.method == "GET" && h.received_ms == i;
}

}  // namespace

TEST_GROUP(InspectStore){};

TEST(InspectStore, KeepsTheLastHitsNewestFirst)
{
    SharedMemory m(InspectStore::bytes_for(3));
    InspectStore s = store_in(m, 3);
    CHECK(s.recent(10).empty());
    for (int i = 1; i <= 5; ++i) s.add("111", "wt?n=" + std::to_string(i), "", i % 2 ? "GET" : "POST", 1000 + i);
    const std::vector<StoredHit> got = s.recent(10);
    CHECK_EQUAL(3u, got.size());
    STRCMP_EQUAL("wt?n=5", got[0].line.c_str());
    STRCMP_EQUAL("wt?n=4", got[1].line.c_str());
    STRCMP_EQUAL("wt?n=3", got[2].line.c_str());
    CHECK_EQUAL(5u, got[0].number);
    CHECK_EQUAL(1005, got[0].received_ms);
    STRCMP_EQUAL("GET", got[0].method.c_str());
    STRCMP_EQUAL("POST", got[1].method.c_str());
    STRCMP_EQUAL("111", got[0].track_ids.c_str());
    CHECK_EQUAL(2u, s.recent(2).size());
    STRCMP_EQUAL("wt?n=4", s.recent(2)[1].line.c_str());
}

TEST(InspectStore, LongLinesAndCookiesAreCutAndMarked)
{
    SharedMemory m(InspectStore::bytes_for(2));
    InspectStore s = store_in(m, 2);
    s.add(std::string(500, '1'), std::string(kMaxStoredLine + 10, 'x'), std::string(kMaxStoredCookie + 5, 'c'),
          "GETTINGLONG", 1);
    s.add("2", "wt?short", "", "GET", 2);
    const std::vector<StoredHit> got = s.recent(2);
    CHECK_EQUAL(2u, got.size());
    CHECK_FALSE(got[0].truncated);
    CHECK(got[1].truncated);
    CHECK_EQUAL(kMaxStoredLine, got[1].line.size());
    CHECK_EQUAL(kMaxStoredCookie, got[1].cookie.size());
    CHECK(got[1].track_ids.size() < 500);
    CHECK(got[1].method.size() < 11);
}

TEST(InspectStore, ClearForgetsEverything)
{
    SharedMemory m(InspectStore::bytes_for(4));
    InspectStore s = store_in(m, 4);
    s.add("1", "wt?a", "", "GET", 1);
    s.clear();
    CHECK(s.recent(10).empty());
    s.add("1", "wt?b", "", "GET", 2);
    CHECK_EQUAL(1u, s.recent(10).size());
    STRCMP_EQUAL("wt?b", s.recent(10)[0].line.c_str());
}

TEST(InspectStore, ABlockTooSmallOrNotAStoreIsRefused)
{
    SharedMemory m(InspectStore::bytes_for(4));
    CHECK_FALSE(InspectStore::create(m.memory, InspectStore::bytes_for(4) - 1, 4).has_value());
    CHECK_FALSE(InspectStore::create(m.memory, m.bytes, 0).has_value());
    CHECK_FALSE(InspectStore::create(nullptr, m.bytes, 4).has_value());
    std::memset(m.memory, 0x5a, m.bytes);  // garbage
    CHECK_FALSE(InspectStore::attach(m.memory, m.bytes).has_value());
    store_in(m, 4).add("1", "wt?kept", "", "GET", 1);
    // The same block attached again (a new generation of children) sees the hits,
    // but not through a size smaller than the store.
    auto again = InspectStore::attach(m.memory, m.bytes);
    CHECK(again.has_value());
    STRCMP_EQUAL("wt?kept", again->recent(1)[0].line.c_str());
    CHECK_FALSE(InspectStore::attach(m.memory, InspectStore::bytes_for(3)).has_value());
    CHECK_FALSE(InspectStore::attach(m.memory, 8).has_value());
}

TEST(InspectStore, ProcessesWritingAtOnceLeaveNoEntryTorn)
{
    const unsigned capacity = 64;
    SharedMemory m(InspectStore::bytes_for(capacity));
    InspectStore s = store_in(m, capacity);
    const int writers = 4, each = 400;
    std::vector<pid_t> pids;
    for (int w = 0; w < writers; ++w) {
        const pid_t pid = fork();
        if (pid == 0) {
            auto mine = InspectStore::attach(m.memory, m.bytes);
            if (!mine) _exit(2);
            for (int i = 0; i < each; ++i) {
                mine->add("ids" + std::to_string(w), signed_line(w, i), "c=" + std::to_string(i), "GET", i);
                if (i % 50 == 0) {
                    for (const StoredHit& h : mine->recent(capacity)) {
                        if (!whole(h)) _exit(3);  // a reader meanwhile never sees a torn entry
                    }
                }
            }
            _exit(0);
        }
        CHECK(pid > 0);
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int status = 0;
        CHECK_EQUAL(pid, waitpid(pid, &status, 0));
        CHECK_TEXT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a writer saw a torn entry or could not attach");
    }
    const std::vector<StoredHit> got = s.recent(capacity);
    // A writer still on a slot a lap later drops its hit, so a few may be missing,
    // but what is there is whole, numbered once, and the newest.
    CHECK(got.size() >= capacity - static_cast<unsigned>(writers));
    std::set<std::uint64_t> numbers;
    for (const StoredHit& h : got) {
        CHECK_TEXT(whole(h), h.line.substr(0, 60).c_str());
        CHECK(h.number > static_cast<std::uint64_t>(writers * each) - capacity);
        CHECK(numbers.insert(h.number).second);
    }
}

TEST(InspectStore, ThreadsWritingWhileOneReadsSeeOnlyWholeEntries)
{
    const unsigned capacity = 8;  // small: slots are rewritten while read
    SharedMemory m(InspectStore::bytes_for(capacity));
    InspectStore s = store_in(m, capacity);
    std::atomic<bool> done{false};
    std::atomic<int> torn{0};
    std::thread reader([&] {
        while (!done.load()) {
            for (const StoredHit& h : s.recent(capacity)) torn += whole(h) ? 0 : 1;
        }
    });
    std::vector<std::thread> threads;
    for (int w = 0; w < 3; ++w) {
        threads.emplace_back([&s, w] {
            for (int i = 0; i < 2000; ++i) s.add("ids" + std::to_string(w), signed_line(w, i), "c=" + std::to_string(i), "GET", i);
        });
    }
    for (std::thread& t : threads) t.join();
    done = true;
    reader.join();
    CHECK_EQUAL(0, torn.load());
}
