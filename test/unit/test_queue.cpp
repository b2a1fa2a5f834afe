// The bounded delivery queue (queue.h): producers never wait, a full queue
// refuses the newest hit, consumers take batches per endpoint in order.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mapptrack/delivery.h"
#include "mapptrack/log.h"
#include "mapptrack/queue.h"

#include <CppUTest/TestHarness.h>

using mapptrack::Delivery;
using mapptrack::DeliveryQueue;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

static SimpleString StringFrom(DeliveryQueue::PushResult r)
{
    switch (r) {
    case DeliveryQueue::PushResult::Queued: return "Queued";
    case DeliveryQueue::PushResult::Full: return "Full";
    case DeliveryQueue::PushResult::Closed: return "Closed";
    }
    return "?";
}

namespace {

constexpr auto kQueued = DeliveryQueue::PushResult::Queued;
constexpr auto kFull = DeliveryQueue::PushResult::Full;
constexpr auto kClosed = DeliveryQueue::PushResult::Closed;

Delivery make(const std::string& endpoint, const std::string& line, unsigned batch_size = 1,
              unsigned batch_delay_ms = 0)
{
    Delivery d;
    d.endpoint = endpoint;
    d.line = line;
    d.options.batch_size = batch_size;
    d.options.batch_delay_ms = batch_delay_ms;
    d.queued_ms = mapptrack::now_ms();
    return d;
}

// "line|line|…" of a batch.
std::string lines_of(const std::vector<Delivery>& batch)
{
    std::string out;
    for (const Delivery& d : batch)
        out += (out.empty() ? "" : "|") + d.line;
    return out;
}

bool one_endpoint(const std::vector<Delivery>& batch, const std::string& endpoint)
{
    for (const Delivery& d : batch)
        if (d.endpoint != endpoint)
            return false;
    return true;
}

long elapsed_ms(Clock::time_point since)
{
    return static_cast<long>(
        std::chrono::duration_cast<milliseconds>(Clock::now() - since).count());
}

}  // namespace

TEST_GROUP(Queue){};

TEST(Queue, CapacityIsEnforcedAndTheNewestIsRefused)
{
    DeliveryQueue q(3);
    CHECK_EQUAL(static_cast<std::size_t>(3), q.capacity());
    CHECK_EQUAL(kQueued, q.push(make("e", "a")));
    CHECK_EQUAL(kQueued, q.push(make("e", "b")));
    CHECK_EQUAL(kQueued, q.push(make("e", "c")));
    CHECK_EQUAL(kFull, q.push(make("e", "d")));
    CHECK_EQUAL(kFull, q.push(make("e", "e")));
    CHECK_EQUAL(static_cast<std::size_t>(3), q.size());
    STRCMP_EQUAL("a", lines_of(q.pop_batch(milliseconds(0))).c_str());
    STRCMP_EQUAL("b", lines_of(q.pop_batch(milliseconds(0))).c_str());
    STRCMP_EQUAL("c", lines_of(q.pop_batch(milliseconds(0))).c_str());
    CHECK(q.pop_batch(milliseconds(0)).empty());
}

TEST(Queue, RoomFreedByAPopCanBeUsedAgain)
{
    DeliveryQueue q(1);
    CHECK_EQUAL(kQueued, q.push(make("e", "a")));
    CHECK_EQUAL(kFull, q.push(make("e", "b")));
    STRCMP_EQUAL("a", lines_of(q.pop_batch(milliseconds(0))).c_str());
    CHECK_EQUAL(kQueued, q.push(make("e", "c")));
    STRCMP_EQUAL("c", lines_of(q.pop_batch(milliseconds(0))).c_str());
}

TEST(Queue, SingleItemsComeOutFirstInFirstOut)
{
    DeliveryQueue q(100);
    for (const char* line : {"1", "2", "3", "4", "5"})
        q.push(make("e", line));
    std::string order;
    for (int i = 0; i < 5; ++i)
        order += lines_of(q.pop_batch(milliseconds(0)));
    STRCMP_EQUAL("12345", order.c_str());
    CHECK_EQUAL(static_cast<std::size_t>(0), q.size());
}

TEST(Queue, BatchSizeOneReturnsSingleItemsEvenWhenMoreAreQueued)
{
    DeliveryQueue q(100);
    for (int i = 0; i < 5; ++i)
        q.push(make("e", std::to_string(i), 1, 0));
    for (int i = 0; i < 5; ++i) {
        std::vector<Delivery> batch = q.pop_batch(milliseconds(0));
        CHECK_EQUAL(static_cast<std::size_t>(1), batch.size());
        STRCMP_EQUAL(std::to_string(i).c_str(), batch[0].line.c_str());
    }
}

TEST(Queue, BatchGathersOnlyTheFirstOnesEndpointUpToItsBatchSize)
{
    DeliveryQueue q(100);
    q.push(make("e1", "a", 2));
    q.push(make("e2", "b", 2));
    q.push(make("e1", "c", 2));
    q.push(make("e1", "d", 2));
    q.push(make("e2", "e", 2));

    std::vector<Delivery> first = q.pop_batch(milliseconds(0));
    STRCMP_EQUAL("a|c", lines_of(first).c_str());
    CHECK(one_endpoint(first, "e1"));

    std::vector<Delivery> second = q.pop_batch(milliseconds(0));
    STRCMP_EQUAL("b|e", lines_of(second).c_str());
    CHECK(one_endpoint(second, "e2"));

    STRCMP_EQUAL("d", lines_of(q.pop_batch(milliseconds(0))).c_str());
    CHECK(q.pop_batch(milliseconds(0)).empty());
}

TEST(Queue, BatchKeepsQueueOrderWithinAnEndpoint)
{
    DeliveryQueue q(100);
    for (int i = 0; i < 10; ++i) {
        q.push(make("e1", "a" + std::to_string(i), 10));
        q.push(make("e2", "b" + std::to_string(i), 10));
    }
    STRCMP_EQUAL("a0|a1|a2|a3|a4|a5|a6|a7|a8|a9", lines_of(q.pop_batch(milliseconds(0))).c_str());
    STRCMP_EQUAL("b0|b1|b2|b3|b4|b5|b6|b7|b8|b9", lines_of(q.pop_batch(milliseconds(0))).c_str());
}

TEST(Queue, FullBatchIsReturnedWithoutWaitingForTheDelay)
{
    DeliveryQueue q(100);
    for (int i = 0; i < 5; ++i)
        q.push(make("e", std::to_string(i), 5, 5000));
    auto t0 = Clock::now();
    std::vector<Delivery> batch = q.pop_batch(milliseconds(1000));
    long ms = elapsed_ms(t0);
    CHECK_EQUAL(static_cast<std::size_t>(5), batch.size());
    CHECK_TEXT(ms < 200, std::to_string(ms).c_str());
}

TEST(Queue, BatchWaitsForMoreAtMostTheBatchDelay)
{
    DeliveryQueue q(100);
    q.push(make("e", "only", 10, 200));
    auto t0 = Clock::now();
    std::vector<Delivery> batch = q.pop_batch(milliseconds(2000));
    long ms = elapsed_ms(t0);
    STRCMP_EQUAL("only", lines_of(batch).c_str());
    CHECK_TEXT(ms >= 150, ("returned too early: " + std::to_string(ms)).c_str());
    CHECK_TEXT(ms < 800, ("waited too long: " + std::to_string(ms)).c_str());
}

TEST(Queue, DeliveriesArrivingDuringTheDelayJoinTheBatch)
{
    DeliveryQueue q(100);
    q.push(make("e", "a", 3, 1000));
    std::thread late([&q] {
        std::this_thread::sleep_for(milliseconds(50));
        q.push(make("e", "b", 3, 1000));
        q.push(make("e", "c", 3, 1000));
    });
    auto t0 = Clock::now();
    std::vector<Delivery> batch = q.pop_batch(milliseconds(2000));
    long ms = elapsed_ms(t0);
    late.join();
    STRCMP_EQUAL("a|b|c", lines_of(batch).c_str());
    // Returned when the batch was full, not at the end of the delay.
    CHECK_TEXT(ms < 700, std::to_string(ms).c_str());
}

// Batching is per site: a batch waiting for its delay never holds up a site
// that sends at once, or one whose batch is full.
TEST(Queue, OneSitesBatchDelayDoesNotHoldUpAnotherSite)
{
    DeliveryQueue q(100);
    q.push(make("slow", "a", 50, 5000));
    std::thread late([&q] {
        std::this_thread::sleep_for(milliseconds(50));
        q.push(make("now", "x", 1, 0));
        q.push(make("slow", "b", 50, 5000));
    });
    auto t0 = Clock::now();
    std::vector<Delivery> first = q.pop_batch(milliseconds(4000));
    long ms = elapsed_ms(t0);
    late.join();
    STRCMP_EQUAL("x", lines_of(first).c_str());
    CHECK_TEXT(ms < 1000, std::to_string(ms).c_str());
    // The same endpoint with other batch settings is another site, too.
    q.push(make("slow", "y", 2, 0));
    q.push(make("slow", "z", 2, 0));
    STRCMP_EQUAL("y|z", lines_of(q.pop_batch(milliseconds(0))).c_str());
    CHECK(q.pop_batch(milliseconds(0)).empty());
    q.close();
    STRCMP_EQUAL("a|b", lines_of(q.pop_batch(milliseconds(0))).c_str());
}

TEST(Queue, QueuesSharingACountAreBoundedTogether)
{
    std::atomic<std::size_t> total{0};
    DeliveryQueue q1(3, &total);
    DeliveryQueue q2(3, &total);
    CHECK_EQUAL(kQueued, q1.push(make("e", "a")));
    CHECK_EQUAL(kQueued, q2.push(make("e", "b")));
    CHECK_EQUAL(kQueued, q2.push(make("e", "c")));
    CHECK_EQUAL(kFull, q1.push(make("e", "d")));
    CHECK_EQUAL(static_cast<std::size_t>(1), q1.size());
    STRCMP_EQUAL("b", lines_of(q2.pop_batch(milliseconds(0))).c_str());
    CHECK_EQUAL(kQueued, q1.push(make("e", "e")));
    CHECK_EQUAL(static_cast<std::size_t>(3), total.load());
    CHECK_EQUAL(static_cast<std::size_t>(2), q1.take_all(milliseconds(10)).size());
    CHECK_EQUAL(static_cast<std::size_t>(1), total.load());
}

TEST(Queue, EmptyQueueTimesOutAfterTheIdleWait)
{
    DeliveryQueue q(10);
    auto t0 = Clock::now();
    std::vector<Delivery> batch = q.pop_batch(milliseconds(80));
    long ms = elapsed_ms(t0);
    CHECK(batch.empty());
    CHECK_TEXT(ms >= 60, std::to_string(ms).c_str());
    CHECK_TEXT(ms < 1000, std::to_string(ms).c_str());
}

TEST(Queue, PushWakesAnIdleConsumer)
{
    DeliveryQueue q(10);
    std::thread producer([&q] {
        std::this_thread::sleep_for(milliseconds(50));
        q.push(make("e", "hello"));
    });
    auto t0 = Clock::now();
    std::vector<Delivery> batch = q.pop_batch(milliseconds(5000));
    long ms = elapsed_ms(t0);
    producer.join();
    STRCMP_EQUAL("hello", lines_of(batch).c_str());
    CHECK_TEXT(ms < 1000, std::to_string(ms).c_str());
}

TEST(Queue, CloseWakesAWaitingConsumer)
{
    DeliveryQueue q(10);
    std::vector<Delivery> batch;
    long ms = -1;
    std::thread consumer([&q, &batch, &ms] {
        auto t0 = Clock::now();
        batch = q.pop_batch(milliseconds(10000));
        ms = elapsed_ms(t0);
    });
    std::this_thread::sleep_for(milliseconds(50));
    q.close();
    consumer.join();
    CHECK(batch.empty());
    CHECK_TEXT(ms >= 0 && ms < 2000, std::to_string(ms).c_str());
}

TEST(Queue, CloseEndsAWaitForABatchToFill)
{
    DeliveryQueue q(10);
    q.push(make("e", "a", 10, 10000));
    std::vector<Delivery> batch;
    long ms = -1;
    std::thread consumer([&q, &batch, &ms] {
        auto t0 = Clock::now();
        batch = q.pop_batch(milliseconds(10000));
        ms = elapsed_ms(t0);
    });
    std::this_thread::sleep_for(milliseconds(50));
    q.close();
    consumer.join();
    STRCMP_EQUAL("a", lines_of(batch).c_str());
    CHECK_TEXT(ms >= 0 && ms < 2000, std::to_string(ms).c_str());
}

TEST(Queue, ClosedQueueDrainsWithoutWaitingForBatchesToFill)
{
    DeliveryQueue q(10);
    q.push(make("e", "a", 10, 10000));
    q.push(make("e", "b", 10, 10000));
    q.push(make("f", "c", 10, 10000));
    q.close();
    auto t0 = Clock::now();
    STRCMP_EQUAL("a|b", lines_of(q.pop_batch(milliseconds(10000))).c_str());
    STRCMP_EQUAL("c", lines_of(q.pop_batch(milliseconds(10000))).c_str());
    CHECK(q.pop_batch(milliseconds(10000)).empty());
    long ms = elapsed_ms(t0);
    CHECK_TEXT(ms < 500, std::to_string(ms).c_str());
    CHECK_EQUAL(static_cast<std::size_t>(0), q.size());
}

TEST(Queue, PushAfterCloseIsRefused)
{
    DeliveryQueue q(10);
    q.push(make("e", "a"));
    q.close();
    CHECK_EQUAL(kClosed, q.push(make("e", "b")));
    CHECK_EQUAL(static_cast<std::size_t>(1), q.size());
    STRCMP_EQUAL("a", lines_of(q.pop_batch(milliseconds(0))).c_str());
}

TEST(Queue, FullClosedQueueSaysClosed)
{
    DeliveryQueue q(1);
    q.push(make("e", "a"));
    q.close();
    CHECK_EQUAL(kClosed, q.push(make("e", "b")));
}

TEST(Queue, ConcurrentProducersAndConsumersDeliverEveryItemOnceInOrder)
{
    constexpr int kProducers = 4;
    constexpr int kPerProducer = 10000;
    constexpr unsigned kBatch = 16;
    const std::string endpoints[2] = {"http://a.test/1", "http://b.test/2"};

    DeliveryQueue q(kProducers * kPerProducer);
    std::atomic<int> refused{0};
    std::atomic<bool> closed{false};

    struct Item {
        int producer;
        int seq;
        int endpoint;
    };
    // Per consumer: the batches in the order it took them.
    std::vector<std::vector<std::vector<Item>>> taken(2);
    std::vector<int> malformed(2, 0);

    std::vector<std::thread> consumers;
    for (int c = 0; c < 2; ++c) {
        consumers.emplace_back([&, c] {
            for (;;) {
                std::vector<Delivery> batch = q.pop_batch(milliseconds(20));
                if (batch.empty()) {
                    if (closed.load())
                        return;
                    continue;
                }
                std::vector<Item> items;
                for (const Delivery& d : batch) {
                    std::size_t colon = d.line.find(':');
                    if (d.line.size() < 3 || d.line[0] != 'P' || colon == std::string::npos) {
                        ++malformed[c];
                        continue;
                    }
                    int ep = d.endpoint == endpoints[0] ? 0 : d.endpoint == endpoints[1] ? 1 : -1;
                    items.push_back({std::stoi(d.line.substr(1, colon - 1)),
                                     std::stoi(d.line.substr(colon + 1)), ep});
                }
                taken[c].push_back(std::move(items));
            }
        });
    }

    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p] {
            for (int i = 0; i < kPerProducer; ++i) {
                Delivery d = make(endpoints[i % 2],
                                  "P" + std::to_string(p) + ":" + std::to_string(i), kBatch, 1);
                if (q.push(std::move(d)) != kQueued)
                    ++refused;
            }
        });
    }
    for (std::thread& t : producers)
        t.join();
    q.close();
    closed = true;
    for (std::thread& t : consumers)
        t.join();

    LONGS_EQUAL(0, refused.load());
    LONGS_EQUAL(0, malformed[0] + malformed[1]);

    std::vector<std::vector<int>> seen(kProducers, std::vector<int>(kPerProducer, 0));
    long total = 0;
    for (int c = 0; c < 2; ++c) {
        // last[producer][endpoint]: the producer's last sequence number this consumer saw.
        std::vector<std::vector<int>> last(kProducers, std::vector<int>(2, -1));
        for (const std::vector<Item>& batch : taken[c]) {
            CHECK(!batch.empty());
            CHECK(batch.size() <= kBatch);
            for (const Item& it : batch) {
                CHECK_TEXT(it.endpoint == batch.front().endpoint, "a batch mixes endpoints");
                CHECK(it.endpoint >= 0);
                CHECK(it.producer >= 0 && it.producer < kProducers);
                CHECK(it.seq >= 0 && it.seq < kPerProducer);
                CHECK_EQUAL(it.seq % 2, it.endpoint);
                int& prev = last[it.producer][it.endpoint];
                if (it.seq <= prev)
                    FAIL(("producer " + std::to_string(it.producer) + " out of order: " +
                          std::to_string(it.seq) + " after " + std::to_string(prev))
                             .c_str());
                prev = it.seq;
                ++seen[it.producer][it.seq];
                ++total;
            }
        }
    }
    LONGS_EQUAL(kProducers * kPerProducer, total);
    for (int p = 0; p < kProducers; ++p)
        for (int i = 0; i < kPerProducer; ++i)
            if (seen[p][i] != 1)
                FAIL(("item P" + std::to_string(p) + ":" + std::to_string(i) + " delivered " +
                      std::to_string(seen[p][i]) + " times")
                         .c_str());
    CHECK_EQUAL(static_cast<std::size_t>(0), q.size());
}

TEST(Queue, BatchBodyStaysUnderOneMebibyteAndKeepsOrder)
{
    // MappTrackBatchSize 1000 with lines of ~6.5 KB: 400 lines would make a
    // 2.6 MB body; a batch stops before its body ('\n'-joined) reaches 1 MiB.
    DeliveryQueue q(1000);
    const std::string pad(6500, 'x');
    for (int i = 0; i < 400; ++i)
        q.push(make("e", std::to_string(1000 + i) + pad, 1000, 60000));
    std::vector<std::string> order;
    int batches = 0;
    const auto t0 = Clock::now();
    while (q.size() > 0) {
        if (batches == 2) {
            // Full by size: the first two came at once, not after the 60 s batch delay.
            CHECK(elapsed_ms(t0) < 1000);
            q.close();  // the rest is a part-full batch: no waiting for it to fill
        }
        const std::vector<Delivery> batch = q.pop_batch(milliseconds(0));
        std::size_t body = 0;
        for (const Delivery& d : batch) {
            body += d.line.size() + 1;
            order.push_back(d.line.substr(0, 4));
        }
        CHECK(body - 1 < (std::size_t(1) << 20));
        CHECK(body + pad.size() + 5 >= (std::size_t(1) << 20) || q.size() == 0);  // as full as allowed
        ++batches;
    }
    CHECK_EQUAL(3, batches);
    CHECK_EQUAL(static_cast<std::size_t>(400), order.size());
    for (int i = 0; i < 400; ++i)
        CHECK_EQUAL(std::to_string(1000 + i), order[static_cast<std::size_t>(i)]);
}

TEST(Queue, SingleGetHitsNeverJoinAnotherVhostsBatch)
{
    // Two vhosts, one track server and track IDs: one batches (50), the
    // other sends single GETs with the visitor's cookies (batch size 1).
    DeliveryQueue q(100);
    q.push(make("e", "a1", 50, 0));
    q.push(make("e", "b1", 1, 0));
    q.push(make("e", "a2", 50, 0));
    q.push(make("e", "b2", 1, 0));
    STRCMP_EQUAL("a1|a2", lines_of(q.pop_batch(milliseconds(0))).c_str());
    STRCMP_EQUAL("b1", lines_of(q.pop_batch(milliseconds(0))).c_str());
    STRCMP_EQUAL("b2", lines_of(q.pop_batch(milliseconds(0))).c_str());
}
