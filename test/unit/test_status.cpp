// The server-wide figures' table (status.h): rows found or claimed by key,
// exact sums from several processes and threads at once, the latency
// buckets' edges, the last error, child gauges, and a block that is not a
// table refused.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mapptrack/status.h"
#include "support.h"

#include <CppUTest/TestHarness.h>

using namespace mapptrack;
using SharedBlock = mapptrack::test::SharedMemory;

namespace {

StatusTable make(SharedBlock& block, unsigned rows = 16, unsigned children = 8)
{
    auto t = StatusTable::create(block.memory, block.bytes, rows, children, 1796250000000);
    CHECK(t.has_value());
    return *t;
}

const StatusRow* find(const StatusSnapshot& s, const std::string& vhost, const std::string& ids)
{
    for (const StatusRow& r : s.rows) {
        if (r.vhost == vhost && r.track_ids == ids) return &r;
    }
    return nullptr;
}

std::uint64_t count(const StatusRow& r, Count c) { return r.counts[static_cast<unsigned>(c)]; }

}  // namespace

TEST_GROUP(StatusTable){};

TEST(StatusTable, RowsAreFoundAgainByTheirKeys)
{
    SharedBlock block(StatusTable::bytes_for(16, 8));
    StatusTable t = make(block);
    const RowId a = t.row("www.example.com:80", "111");
    const RowId b = t.row("www.example.com:80", "222");
    const RowId c = t.row("shop.example.com:443", "111");
    CHECK(a != 0 && b != 0 && c != 0);
    CHECK(a != b && b != c && a != c);
    CHECK_EQUAL(a, t.row("www.example.com:80", "111"));
    t.add(a, Count::Sent, 3);
    t.add(b, Count::Sent);
    const StatusSnapshot s = t.snapshot();
    CHECK_EQUAL(3u, s.rows.size());  // "(other)" counted nothing, so it is not listed
    STRCMP_EQUAL("www.example.com:80", s.rows[0].vhost.c_str());  // in claim order
    CHECK_EQUAL(3u, count(*find(s, "www.example.com:80", "111"), Count::Sent));
    CHECK_EQUAL(1u, count(*find(s, "www.example.com:80", "222"), Count::Sent));
    CHECK_EQUAL(0u, count(*find(s, "shop.example.com:443", "111"), Count::Sent));
}

TEST(StatusTable, KeysAreCutAndAFullTableCountsInRowZero)
{
    SharedBlock block(StatusTable::bytes_for(4, 2));
    StatusTable t = make(block, 4, 2);
    const std::string long_name(500, 'x');
    const RowId cut = t.row(long_name, "1");
    CHECK(cut != 0);
    CHECK_EQUAL(cut, t.row(long_name.substr(0, kMaxKey), "1"));
    CHECK(t.row("b", "1") != 0);
    CHECK(t.row("c", "1") != 0);
    CHECK_EQUAL(0u, t.row("d", "1"));  // three rows and "(other)"
    t.add(t.row("e", "1"), Drop::Rejected, 2);
    const StatusSnapshot s = t.snapshot();
    const StatusRow* other = find(s, "(other)", "");
    CHECK(other != nullptr);
    CHECK_EQUAL(2u, other->drops[static_cast<unsigned>(Drop::Rejected)]);
    CHECK_EQUAL(kMaxKey, s.rows[1].vhost.size());
}

TEST(StatusTable, OutOfRangeIdsAreIgnored)
{
    SharedBlock block(StatusTable::bytes_for(4, 2));
    StatusTable t = make(block, 4, 2);
    t.add(4, Count::Sent);
    t.add(0xffffffffu, Drop::Invalid);
    t.latency(99, 5);
    t.error(99, "x", 1);
    t.set_queue_depth(7, 1);
    t.release(kNoChild);
    CHECK(t.snapshot().rows.empty());
}

TEST(StatusTable, LatencyBucketsIncludeTheirUpperBound)
{
    SharedBlock block(StatusTable::bytes_for(4, 2));
    StatusTable t = make(block, 4, 2);
    const RowId r = t.row("v", "1");
    t.latency(r, 0);           // 0 s: the first bucket
    t.latency(r, 5000);        // exactly 5 ms: still the first
    t.latency(r, 5001);        // just over: the second
    t.latency(r, 300000000);   // exactly 300 s: the last finite bucket
    t.latency(r, 300000001);   // over: +Inf
    const StatusSnapshot snap = t.snapshot();  // the rows live in it
    const StatusRow& row = snap.rows[0];
    CHECK_EQUAL(2u, row.latency_buckets[0]);
    CHECK_EQUAL(1u, row.latency_buckets[1]);
    CHECK_EQUAL(1u, row.latency_buckets[kLatencyBuckets - 2]);
    CHECK_EQUAL(1u, row.latency_buckets[kLatencyBuckets - 1]);
    CHECK_EQUAL(5u, row.latency_count);
    CHECK_EQUAL(600010002u, row.latency_sum_us);
}

TEST(StatusTable, TheLastErrorIsKeptWholeAndCut)
{
    SharedBlock block(StatusTable::bytes_for(4, 2));
    StatusTable t = make(block, 4, 2);
    const RowId r = t.row("v", "1");
    t.error(r, "first", 1000);
    t.error(r, std::string(400, 'e'), 2000);
    StatusRow row = t.snapshot().rows[0];
    CHECK_EQUAL(kMaxErrorText, row.last_error.size());
    CHECK_EQUAL(2000, row.last_error_ms);
    t.error(r, "HTTP 503", 3000);
    row = t.snapshot().rows[0];
    STRCMP_EQUAL("HTTP 503", row.last_error.c_str());
}

TEST(StatusTable, ChildrenClaimReleaseAndReuseTheSlotOfADeadProcess)
{
    SharedBlock block(StatusTable::bytes_for(4, 2));
    StatusTable t = make(block, 4, 2);
    const pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, nullptr, 0);
    const ChildId a = t.child(getpid());
    const ChildId b = t.child(dead);  // its process is gone (it never released it)
    CHECK(a != kNoChild && b != kNoChild && a != b);
    t.set_queue_depth(a, 7);
    t.set_spool_bytes(a, 4096);
    StatusSnapshot s = t.snapshot();
    CHECK_EQUAL(1u, s.children.size());  // the dead one is not shown
    CHECK_EQUAL(getpid(), s.children[0].pid);
    CHECK_EQUAL(7u, s.children[0].queue_depth);
    CHECK_EQUAL(4096u, s.children[0].spool_bytes);
    const ChildId c = t.child(getppid());  // the table is full: the dead process's slot is taken
    CHECK_EQUAL(b, c);
    t.release(a);
    t.release(c);
    CHECK(t.snapshot().children.empty());
    CHECK_EQUAL(a, t.child(getpid()));
}

TEST(StatusTable, AttachFindsTheTableAndRefusesAnythingElse)
{
    SharedBlock block(StatusTable::bytes_for(8, 4));
    CHECK_FALSE(StatusTable::attach(block.memory, block.bytes).has_value());  // zeroes
    std::memset(block.memory, 0x5a, block.bytes);
    CHECK_FALSE(StatusTable::attach(block.memory, block.bytes).has_value());  // garbage
    CHECK_FALSE(StatusTable::create(block.memory, block.bytes - 1, 8, 4, 0).has_value());  // too small
    StatusTable t = make(block, 8, 4);
    t.add(t.row("v", "1"), Count::Pages, 5);
    auto again = StatusTable::attach(block.memory, block.bytes);
    CHECK(again.has_value());
    CHECK_EQUAL(5u, count(again->snapshot().rows[0], Count::Pages));
    CHECK_EQUAL(1796250000000, again->snapshot().since_ms);
    CHECK_FALSE(StatusTable::attach(block.memory, 16).has_value());  // a block cut short
}

TEST(StatusTable, ProcessesCountingAtOnceGiveExactSumsInOneRowPerKey)
{
    SharedBlock block(StatusTable::bytes_for(64, 8));
    make(block, 64, 8);
    constexpr int kProcesses = 4;
    constexpr int kAdds = 10000;
    std::vector<pid_t> pids;
    for (int p = 0; p < kProcesses; ++p) {
        const pid_t pid = fork();
        if (pid == 0) {
            auto t = StatusTable::attach(block.memory, block.bytes);
            if (!t) _exit(1);
            for (int i = 0; i < kAdds; ++i) {
                t->add(t->row("a.example:80", "111"), Count::Sent);
                t->add(t->row("b.example:80", "111"), Count::Queued, 2);
                t->add(t->row("c.example:80", "222,333"), Drop::Rejected);
                t->latency(t->row("a.example:80", "111"), 1000);
            }
            _exit(0);
        }
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int status = -1;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    const StatusSnapshot s = StatusTable::attach(block.memory, block.bytes)->snapshot();
    CHECK_EQUAL(3u, s.rows.size());
    CHECK_EQUAL(std::uint64_t(kProcesses) * kAdds, count(*find(s, "a.example:80", "111"), Count::Sent));
    CHECK_EQUAL(std::uint64_t(kProcesses) * kAdds * 2, count(*find(s, "b.example:80", "111"), Count::Queued));
    CHECK_EQUAL(std::uint64_t(kProcesses) * kAdds,
                find(s, "c.example:80", "222,333")->drops[static_cast<unsigned>(Drop::Rejected)]);
    CHECK_EQUAL(std::uint64_t(kProcesses) * kAdds, find(s, "a.example:80", "111")->latency_count);
}

TEST(StatusTable, ThreadsClaimingTheSameKeyGetOneRow)
{
    SharedBlock block(StatusTable::bytes_for(64, 8));
    StatusTable t = make(block, 64, 8);
    std::vector<std::thread> threads;
    std::vector<RowId> ids(8);
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&t, &ids, i] {
            for (int k = 0; k < 1000; ++k) {
                ids[i] = t.row("same.example:80", "1");
                t.add(ids[i], Count::Pages);
            }
        });
    }
    for (auto& th : threads) th.join();
    for (RowId id : ids) CHECK_EQUAL(ids[0], id);
    const StatusSnapshot s = t.snapshot();
    CHECK_EQUAL(1u, s.rows.size());
    CHECK_EQUAL(8000u, count(s.rows[0], Count::Pages));
}

TEST_GROUP(StatusNames){};

TEST(StatusNames, OutcomesMapToTheirSkipReason)
{
    CHECK(skip_from_outcome("skipped:not-page") == Skip::NotPage);
    CHECK(skip_from_outcome("skipped:queue-full") == Skip::QueueFull);
    CHECK(skip_from_outcome("skipped:no-delivery-threads") == Skip::NoDeliveryThreads);
    CHECK(skip_from_outcome("skipped:track-server-failed") == Skip::TrackServerFailed);
    CHECK(skip_from_outcome("skipped:invalid-request") == Skip::InvalidRequest);
    CHECK_FALSE(skip_from_outcome("queued").has_value());
    CHECK_FALSE(skip_from_outcome("sent").has_value());
    CHECK_FALSE(skip_from_outcome("skipped:").has_value());
    CHECK_FALSE(skip_from_outcome("skipped:not_page").has_value());
    CHECK_FALSE(skip_from_outcome("skipped:nope").has_value());
    for (unsigned i = 0; i < static_cast<unsigned>(Skip::kCount); ++i) {
        std::string outcome = std::string("skipped:") + name(static_cast<Skip>(i));
        for (char& c : outcome) c = c == '_' ? '-' : c;
        CHECK(skip_from_outcome(outcome) == static_cast<Skip>(i));
    }
    STRCMP_EQUAL("retries_exhausted", name(Drop::RetriesExhausted));
    STRCMP_EQUAL("relay_fallbacks", name(Count::RelayFallbacks));
}
