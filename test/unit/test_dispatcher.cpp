// Per-process delivery (dispatcher.h, docs/design.md §4, docs/delivery.md) against a fake track
// server: request shape (single GET, batch POST), retry and rejection,
// queue-full accounting, and stopping with a deadline.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mapptrack/delivery.h"
#include "mapptrack/dispatcher.h"
#include "mapptrack/log.h"
#include "mapptrack/metrics.h"
#include "mapptrack/queue.h"
#include "mapptrack/transport.h"

#include <CppUTest/TestHarness.h>

using mapptrack::classify;
using mapptrack::Delivery;
using mapptrack::DeliveryQueue;
using mapptrack::Dispatcher;
using mapptrack::DispatcherOptions;
using mapptrack::Logger;
using mapptrack::LogLevel;
using mapptrack::OutboundRequest;
using mapptrack::OutboundResponse;
using mapptrack::Transport;
using mapptrack::Verdict;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

static SimpleString StringFrom(Verdict v)
{
    switch (v) {
    case Verdict::Delivered: return "Delivered";
    case Verdict::Retry: return "Retry";
    case Verdict::Rejected: return "Rejected";
    }
    return "?";
}

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

OutboundResponse answered(long status)
{
    OutboundResponse r;
    r.outcome = OutboundResponse::Outcome::Answered;
    r.status = status;
    return r;
}

OutboundResponse failed(OutboundResponse::Outcome outcome)
{
    OutboundResponse r;
    r.outcome = outcome;
    r.error = "simulated";
    return r;
}

// The fake track server: records every request; `respond` decides the answer
// (it gets the request's index among all requests and the abort flag).
struct FakeServer {
    using Respond = std::function<OutboundResponse(const OutboundRequest&, std::size_t index,
                                                   const std::atomic<bool>* abort)>;
    std::mutex mutex;
    std::vector<OutboundRequest> requests;
    Respond respond;
    std::atomic<int> transports_made{0};
    // For `respond` functions: they capture the server by raw pointer (no
    // cycle), and nothing on a test's stack, which a failed check unwinds
    // while the dispatcher may still be running.
    std::atomic<bool> release{false};
    std::atomic<int> aborted{0};

    std::size_t count()
    {
        std::lock_guard<std::mutex> lock(mutex);
        return requests.size();
    }
    std::vector<OutboundRequest> snapshot()
    {
        std::lock_guard<std::mutex> lock(mutex);
        return requests;
    }
};

class FakeTransport : public Transport {
public:
    FakeTransport(std::shared_ptr<FakeServer> server, const std::atomic<bool>* abort)
        : server_(std::move(server)), abort_(abort)
    {
    }
    OutboundResponse perform(const OutboundRequest& request) override
    {
        std::size_t index;
        {
            std::lock_guard<std::mutex> lock(server_->mutex);
            server_->requests.push_back(request);
            index = server_->requests.size() - 1;
        }
        return server_->respond ? server_->respond(request, index, abort_) : answered(200);
    }

private:
    std::shared_ptr<FakeServer> server_;
    const std::atomic<bool>* abort_;
};

mapptrack::TransportFactory factory_for(const std::shared_ptr<FakeServer>& server)
{
    return [server](const std::atomic<bool>* abort) -> std::unique_ptr<Transport> {
        ++server->transports_made;
        return std::make_unique<FakeTransport>(server, abort);
    };
}

// Log messages, and the dispatcher's lost_at_stop as seen at each message:
// Dispatcher::stop deletes the dispatcher, so its metrics can only be read
// while it logs.
struct LogRecord {
    std::mutex mutex;
    std::vector<std::string> messages;
    std::atomic<Dispatcher*> watched{nullptr};
    std::atomic<std::uint64_t> lost_seen{0};
};

void record_log(void* baton, LogLevel, const std::string& message, const char*, int) noexcept
{
    auto* log = static_cast<LogRecord*>(baton);
    try {
        std::lock_guard<std::mutex> lock(log->mutex);
        log->messages.push_back(message);
    } catch (...) {
    }
    if (Dispatcher* d = log->watched.load()) {
        std::uint64_t lost = d->metrics().lost_at_stop.load();
        std::uint64_t prev = log->lost_seen.load();
        while (lost > prev && !log->lost_seen.compare_exchange_weak(prev, lost)) {
        }
    }
}

Delivery hit(const std::string& endpoint, const std::string& line, const std::string& cookies = "",
             unsigned batch_size = 1, unsigned batch_delay_ms = 0, unsigned timeout_ms = 2000)
{
    Delivery d;
    d.endpoint = endpoint;
    d.line = line;
    d.cookies = cookies;
    d.options.batch_size = batch_size;
    d.options.batch_delay_ms = batch_delay_ms;
    d.options.timeout_ms = timeout_ms;
    d.queued_ms = mapptrack::now_ms();
    return d;
}

bool wait_until(const std::function<bool()>& done, milliseconds limit = milliseconds(3000))
{
    auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        if (done())
            return true;
        std::this_thread::sleep_for(milliseconds(1));
    }
    return done();
}

long elapsed_ms(Clock::time_point since)
{
    return static_cast<long>(
        std::chrono::duration_cast<milliseconds>(Clock::now() - since).count());
}

std::string lower(std::string s)
{
    for (char& c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// The value of header `name` (case-insensitive), or "<absent>".
std::string header_value(const OutboundRequest& r, const std::string& name)
{
    for (const std::string& h : r.headers) {
        std::size_t colon = h.find(':');
        if (colon != std::string::npos && lower(h.substr(0, colon)) == lower(name)) {
            std::size_t start = h.find_first_not_of(' ', colon + 1);
            return start == std::string::npos ? "" : h.substr(start);
        }
    }
    return "<absent>";
}

const char* const kEndpoint = "http://track.test/111,222";
const char* const kLine1 = "wt?p=300,0,0,0,0,0,1700000000001,0&X-WT-UA=a&X-WT-IP=1.2.3.4&X-WT-RQ=u&eor=1";
const char* const kLine2 = "wt?p=300,0,0,0,0,0,1700000000002,0&X-WT-UA=b&X-WT-IP=1.2.3.4&X-WT-RQ=u&eor=1";
const char* const kLine3 = "wt?p=300,0,0,0,0,0,1700000000003,0&X-WT-UA=c&X-WT-IP=1.2.3.4&X-WT-RQ=u&eor=1";

DispatcherOptions fast_options(unsigned threads = 1)
{
    DispatcherOptions o;
    o.threads = threads;
    o.queue_capacity = 1000;
    o.retries = 5;
    o.backoff_base = milliseconds(1);
    o.backoff_cap = milliseconds(5);
    o.drain_deadline = milliseconds(3000);
    return o;
}

}  // namespace

TEST_GROUP(Dispatcher)
{
    std::shared_ptr<FakeServer> server;
    LogRecord log;
    Dispatcher* dispatcher = nullptr;

    void setup() override { server = std::make_shared<FakeServer>(); }

    void teardown() override
    {
        // A failed check leaves the dispatcher running: stop it before the
        // fake server goes away.
        if (dispatcher) {
            log.watched = nullptr;
            Dispatcher::stop(dispatcher);
            dispatcher = nullptr;
        }
        server.reset();
    }

    void start(const DispatcherOptions& options)
    {
        Logger logger;
        logger.sink = &record_log;
        logger.baton = &log;
        dispatcher = Dispatcher::start(options, factory_for(server), logger).release();  // stop() stops it
        CHECK_TEXT(dispatcher != nullptr, "Dispatcher::start failed");
        log.watched = dispatcher;
    }

    // Stops the dispatcher and returns how long stop took.
    long stop()
    {
        auto t0 = Clock::now();
        Dispatcher* d = dispatcher;
        dispatcher = nullptr;
        Dispatcher::stop(d);
        log.watched = nullptr;
        return elapsed_ms(t0);
    }

    const mapptrack::Metrics& metrics() { return dispatcher->metrics(); }
};

TEST(Dispatcher, BatchSizeOneSendsOneGetPerHitToEndpointSlashLine)
{
    start(fast_options());
    CHECK_EQUAL(DeliveryQueue::PushResult::Queued, dispatcher->enqueue(hit(kEndpoint, kLine1)));
    CHECK_EQUAL(DeliveryQueue::PushResult::Queued, dispatcher->enqueue(hit(kEndpoint, kLine2)));
    CHECK_EQUAL(DeliveryQueue::PushResult::Queued, dispatcher->enqueue(hit(kEndpoint, kLine3)));
    CHECK(wait_until([&] { return metrics().delivered.load() == 3; }));

    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(3), requests.size());
    const char* lines[] = {kLine1, kLine2, kLine3};
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK_FALSE(requests[i].post);
        STRCMP_EQUAL((std::string(kEndpoint) + "/" + lines[i]).c_str(), requests[i].url.c_str());
    }
    CHECK_EQUAL(3u, metrics().queued.load());
    CHECK_EQUAL(3u, metrics().requests.load());
    CHECK_EQUAL(0u, metrics().retries.load());
    stop();
}

TEST(Dispatcher, SingleGetCarriesTheVisitorsMappCookies)
{
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1, "wteid_111=4170000000012345678; wt3_sid=%3B111"));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(1), requests.size());
    STRCMP_EQUAL("wteid_111=4170000000012345678; wt3_sid=%3B111",
                 header_value(requests[0], "Cookie").c_str());
    stop();
}

TEST(Dispatcher, SingleGetWithoutCookiesHasNoCookieHeader)
{
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1, ""));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(1), requests.size());
    STRCMP_EQUAL("<absent>", header_value(requests[0], "Cookie").c_str());
    stop();
}

TEST(Dispatcher, RequestUsesTheHitsTimeout)
{
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1, "", 1, 0, 1234));
    CHECK(wait_until([&] { return server->count() == 1; }));
    CHECK_EQUAL(1234u, server->snapshot()[0].timeout_ms);
    stop();
}

TEST(Dispatcher, BatchIsOnePostOfTextLinesToEndpointSlashBatch)
{
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1, "wteid_111=4170000000012345678", 3, 2000));
    dispatcher->enqueue(hit(kEndpoint, kLine2, "", 3, 2000));
    dispatcher->enqueue(hit(kEndpoint, kLine3, "", 3, 2000));
    CHECK(wait_until([&] { return metrics().delivered.load() == 3; }));

    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(1), requests.size());
    const OutboundRequest& r = requests[0];
    CHECK(r.post);
    STRCMP_EQUAL((std::string(kEndpoint) + "/batch").c_str(), r.url.c_str());
    std::string type = header_value(r, "Content-Type");
    CHECK_TEXT(type.compare(0, 10, "text/plain") == 0, type.c_str());
    std::string body = std::string(kLine1) + "\n" + kLine2 + "\n" + kLine3;
    CHECK_TEXT(r.body == body || r.body == body + "\n", r.body.c_str());
    CHECK_EQUAL(1u, metrics().requests.load());
    stop();
}

TEST(Dispatcher, BatchesAreMadePerEndpoint)
{
    const std::string e1 = "http://track.test/111";
    const std::string e2 = "http://track.test/222";
    start(fast_options());
    dispatcher->enqueue(hit(e1, "wt?a=1&eor=1", "", 2, 1000));
    dispatcher->enqueue(hit(e2, "wt?b=1&eor=1", "", 2, 1000));
    dispatcher->enqueue(hit(e1, "wt?c=1&eor=1", "", 2, 1000));
    dispatcher->enqueue(hit(e2, "wt?d=1&eor=1", "", 2, 1000));
    CHECK(wait_until([&] { return metrics().delivered.load() == 4; }));

    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(2), requests.size());
    for (const OutboundRequest& r : requests) {
        CHECK(r.post);
        if (r.url == e1 + "/batch") {
            CHECK_TEXT(r.body == "wt?a=1&eor=1\nwt?c=1&eor=1" ||
                           r.body == "wt?a=1&eor=1\nwt?c=1&eor=1\n",
                       r.body.c_str());
        } else if (r.url == e2 + "/batch") {
            CHECK_TEXT(r.body == "wt?b=1&eor=1\nwt?d=1&eor=1" ||
                           r.body == "wt?b=1&eor=1\nwt?d=1&eor=1\n",
                       r.body.c_str());
        } else {
            FAIL(("unexpected URL " + r.url).c_str());
        }
    }
    stop();
}

TEST(Dispatcher, ServiceUnavailableIsRetriedThenDelivered)
{
    server->respond = [](const OutboundRequest&, std::size_t index, const std::atomic<bool>*) {
        return index < 2 ? answered(503) : answered(200);
    };
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));

    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(3), requests.size());
    for (const OutboundRequest& r : requests)
        STRCMP_EQUAL((std::string(kEndpoint) + "/" + kLine1).c_str(), r.url.c_str());
    CHECK_EQUAL(3u, metrics().requests.load());
    CHECK_EQUAL(2u, metrics().retries.load());
    CHECK_EQUAL(0u, metrics().failed.load());
    CHECK_EQUAL(0u, metrics().rejected.load());
    stop();
}

TEST(Dispatcher, ConnectFailureTimeoutAndTooManyRequestsAreRetried)
{
    server->respond = [](const OutboundRequest&, std::size_t index, const std::atomic<bool>*) {
        switch (index) {
        case 0: return failed(OutboundResponse::Outcome::ConnectFailed);
        case 1: return failed(OutboundResponse::Outcome::TimedOut);
        case 2: return answered(429);
        case 3: return answered(408);
        default: return answered(204);
        }
    };
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));
    CHECK_EQUAL(static_cast<std::size_t>(5), server->count());
    CHECK_EQUAL(4u, metrics().retries.load());
    stop();
}

TEST(Dispatcher, BatchIsRetriedWhole)
{
    server->respond = [](const OutboundRequest&, std::size_t index, const std::atomic<bool>*) {
        return index == 0 ? answered(502) : answered(200);
    };
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1, "", 2, 1000));
    dispatcher->enqueue(hit(kEndpoint, kLine2, "", 2, 1000));
    CHECK(wait_until([&] { return metrics().delivered.load() == 2; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(2), requests.size());
    STRCMP_EQUAL(requests[0].body.c_str(), requests[1].body.c_str());
    STRCMP_EQUAL(requests[0].url.c_str(), requests[1].url.c_str());
    stop();
}

TEST(Dispatcher, RetriesEndAfterTheConfiguredCount)
{
    server->respond = [](const OutboundRequest&, std::size_t, const std::atomic<bool>*) {
        return answered(503);
    };
    DispatcherOptions o = fast_options();
    o.retries = 2;
    start(o);
    dispatcher->enqueue(hit(kEndpoint, kLine1));
    CHECK(wait_until([&] { return metrics().failed.load() == 1; }));
    std::this_thread::sleep_for(milliseconds(50));  // no further attempt follows
    CHECK_EQUAL(static_cast<std::size_t>(3), server->count());
    CHECK_EQUAL(2u, metrics().retries.load());
    CHECK_EQUAL(0u, metrics().delivered.load());
    stop();
}

TEST(Dispatcher, BadRequestIsNotRetried)
{
    server->respond = [](const OutboundRequest&, std::size_t, const std::atomic<bool>*) {
        return answered(400);
    };
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1));
    CHECK(wait_until([&] { return metrics().rejected.load() == 1; }));
    std::this_thread::sleep_for(milliseconds(50));
    CHECK_EQUAL(static_cast<std::size_t>(1), server->count());
    CHECK_EQUAL(0u, metrics().retries.load());
    CHECK_EQUAL(0u, metrics().delivered.load());
    CHECK_EQUAL(0u, metrics().failed.load());
    stop();
}

TEST(Dispatcher, RejectedBatchCountsEveryHit)
{
    server->respond = [](const OutboundRequest&, std::size_t, const std::atomic<bool>*) {
        return answered(404);
    };
    start(fast_options());
    dispatcher->enqueue(hit(kEndpoint, kLine1, "", 3, 1000));
    dispatcher->enqueue(hit(kEndpoint, kLine2, "", 3, 1000));
    dispatcher->enqueue(hit(kEndpoint, kLine3, "", 3, 1000));
    CHECK(wait_until([&] { return metrics().rejected.load() == 3; }));
    CHECK_EQUAL(static_cast<std::size_t>(1), server->count());
    stop();
}

TEST(Dispatcher, FullQueueRefusesAndCountsTheHit)
{
    FakeServer* s = server.get();
    server->respond = [s](const OutboundRequest&, std::size_t, const std::atomic<bool>* abort) {
        while (!s->release.load() && !(abort && abort->load()))
            std::this_thread::sleep_for(milliseconds(1));
        return answered(200);
    };
    DispatcherOptions o = fast_options();
    o.queue_capacity = 2;
    start(o);
    // The only thread takes the first hit and is held by the track server.
    CHECK_EQUAL(DeliveryQueue::PushResult::Queued, dispatcher->enqueue(hit(kEndpoint, "wt?1")));
    CHECK(wait_until([&] { return server->count() == 1; }));
    CHECK_EQUAL(DeliveryQueue::PushResult::Queued, dispatcher->enqueue(hit(kEndpoint, "wt?2")));
    CHECK_EQUAL(DeliveryQueue::PushResult::Queued, dispatcher->enqueue(hit(kEndpoint, "wt?3")));
    CHECK_EQUAL(DeliveryQueue::PushResult::Full, dispatcher->enqueue(hit(kEndpoint, "wt?4")));
    CHECK_EQUAL(DeliveryQueue::PushResult::Full, dispatcher->enqueue(hit(kEndpoint, "wt?5")));
    CHECK_EQUAL(2u, metrics().dropped_queue_full.load());
    CHECK_EQUAL(3u, metrics().queued.load());
    CHECK_EQUAL(static_cast<std::size_t>(2), dispatcher->queued_now());

    server->release = true;
    CHECK(wait_until([&] { return metrics().delivered.load() == 3; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(3), requests.size());
    STRCMP_EQUAL((std::string(kEndpoint) + "/wt?1").c_str(), requests[0].url.c_str());
    STRCMP_EQUAL((std::string(kEndpoint) + "/wt?2").c_str(), requests[1].url.c_str());
    STRCMP_EQUAL((std::string(kEndpoint) + "/wt?3").c_str(), requests[2].url.c_str());
    stop();
}

TEST(Dispatcher, EnqueueNeverWaitsForTheTrackServer)
{
    server->respond = [](const OutboundRequest&, std::size_t, const std::atomic<bool>* abort) {
        for (int i = 0; i < 2000 && !(abort && abort->load()); ++i)
            std::this_thread::sleep_for(milliseconds(1));
        return answered(200);
    };
    DispatcherOptions o = fast_options(2);
    o.drain_deadline = milliseconds(100);
    start(o);
    auto t0 = Clock::now();
    for (int i = 0; i < 200; ++i)
        dispatcher->enqueue(hit(kEndpoint, "wt?" + std::to_string(i)));
    long ms = elapsed_ms(t0);
    CHECK_TEXT(ms < 100, std::to_string(ms).c_str());
    stop();
}

TEST(Dispatcher, StopDeliversWhatIsQueued)
{
    server->respond = [](const OutboundRequest&, std::size_t, const std::atomic<bool>*) {
        std::this_thread::sleep_for(milliseconds(5));
        return answered(200);
    };
    start(fast_options(2));
    for (int i = 0; i < 40; ++i)
        dispatcher->enqueue(hit(kEndpoint, "wt?n=" + std::to_string(i)));
    long ms = stop();
    CHECK_EQUAL(static_cast<std::size_t>(40), server->count());
    CHECK_TEXT(ms < 3000, std::to_string(ms).c_str());
    CHECK_EQUAL(0u, log.lost_seen.load());
    // Every hit once.
    std::vector<int> seen(40, 0);
    for (const OutboundRequest& r : server->snapshot()) {
        std::size_t eq = r.url.rfind('=');
        CHECK(eq != std::string::npos);
        ++seen.at(static_cast<std::size_t>(std::stoi(r.url.substr(eq + 1))));
    }
    for (int i = 0; i < 40; ++i)
        CHECK_EQUAL(1, seen[static_cast<std::size_t>(i)]);
}

TEST(Dispatcher, StopDeliversAPartialBatchWithoutWaitingForItToFill)
{
    start(fast_options(1));
    dispatcher->enqueue(hit(kEndpoint, kLine1, "", 50, 10000));
    dispatcher->enqueue(hit(kEndpoint, kLine2, "", 50, 10000));
    long ms = stop();
    CHECK_TEXT(ms < 2000, std::to_string(ms).c_str());
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(1), requests.size());
    std::string body = std::string(kLine1) + "\n" + kLine2;
    CHECK(requests[0].body == body || requests[0].body == body + "\n");
}

TEST(Dispatcher, StopWithAHangingTrackServerReturnsByTheDeadlineAndCountsTheRest)
{
    FakeServer* s = server.get();
    server->respond = [s](const OutboundRequest&, std::size_t, const std::atomic<bool>* abort) {
        // Hangs until the dispatcher aborts transfers (at most 20 s).
        for (int i = 0; i < 20000 && !(abort && abort->load()); ++i)
            std::this_thread::sleep_for(milliseconds(1));
        ++s->aborted;
        return failed(OutboundResponse::Outcome::Aborted);
    };
    DispatcherOptions o = fast_options(2);
    o.drain_deadline = milliseconds(300);
    start(o);
    for (int i = 0; i < 10; ++i) {
        Delivery d = hit(kEndpoint, "wt?n=" + std::to_string(i));
        d.visitor = static_cast<std::uint64_t>(i);  // ten visitors: both threads get some
        dispatcher->enqueue(std::move(d));
    }
    // Both threads are stuck in a transfer; 8 hits wait in the queues.
    CHECK(wait_until([&] { return server->count() == 2; }));

    long ms = stop();
    CHECK_TEXT(ms >= 250, ("stopped before the deadline: " + std::to_string(ms)).c_str());
    CHECK_TEXT(ms < 300 + 1500, ("stop overran the deadline: " + std::to_string(ms)).c_str());
    LONGS_EQUAL(2, server->aborted.load());
    // Nothing was sent after the abort.
    CHECK_EQUAL(static_cast<std::size_t>(2), server->count());
    // lost_at_stop can only be read while the dispatcher still exists, i.e.
    // when stop logs: it must have counted at least the 8 never attempted.
    CHECK_TEXT(log.lost_seen.load() >= 8,
               ("lost_at_stop seen: " + std::to_string(log.lost_seen.load())).c_str());
    CHECK(log.lost_seen.load() <= 10);
}

TEST(Dispatcher, OneVisitorsHitsTakeOneThreadInOrder)
{
    FakeServer* s = server.get();
    server->respond = [s](const OutboundRequest&, std::size_t, const std::atomic<bool>*) {
        std::this_thread::sleep_for(milliseconds(2));  // let the other thread race
        (void)s;
        return answered(200);
    };
    start(fast_options(4));
    for (int i = 0; i < 40; ++i) {
        Delivery d = hit(kEndpoint, "wt?n=" + std::to_string(i));
        d.visitor = 42;
        dispatcher->enqueue(std::move(d));
    }
    CHECK(wait_until([&] { return metrics().delivered.load() == 40; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    for (std::size_t i = 0; i < requests.size(); ++i) {
        STRCMP_EQUAL((std::string(kEndpoint) + "/wt?n=" + std::to_string(i)).c_str(), requests[i].url.c_str());
    }
    stop();
}

TEST(Dispatcher, ShorterDrainDeadlineSetLaterIsTheOneStopHonours)
{
    FakeServer* s = server.get();
    server->respond = [s](const OutboundRequest&, std::size_t, const std::atomic<bool>* abort) {
        for (int i = 0; i < 20000 && !(abort && abort->load()); ++i)
            std::this_thread::sleep_for(milliseconds(1));
        ++s->aborted;
        return failed(OutboundResponse::Outcome::Aborted);
    };
    DispatcherOptions o = fast_options(1);
    o.drain_deadline = milliseconds(5000);
    start(o);
    dispatcher->enqueue(hit(kEndpoint, "wt?n=0"));
    dispatcher->enqueue(hit(kEndpoint, "wt?n=1"));
    CHECK(wait_until([&] { return server->count() == 1; }));
    dispatcher->set_drain_deadline(milliseconds(100));  // a hard stop
    long ms = stop();
    CHECK_TEXT(ms < 100 + 1500, ("stop overran the deadline: " + std::to_string(ms)).c_str());
    LONGS_EQUAL(1, server->aborted.load());
    CHECK_EQUAL(static_cast<std::size_t>(1), server->count());
}

TEST_GROUP(Classify){};

TEST(Classify, TwoHundredsAreDelivered)
{
    CHECK_EQUAL(Verdict::Delivered, classify(answered(200)));
    CHECK_EQUAL(Verdict::Delivered, classify(answered(204)));
    CHECK_EQUAL(Verdict::Delivered, classify(answered(299)));
}

TEST(Classify, TransientFailuresAreRetried)
{
    CHECK_EQUAL(Verdict::Retry, classify(failed(OutboundResponse::Outcome::ConnectFailed)));
    CHECK_EQUAL(Verdict::Retry, classify(failed(OutboundResponse::Outcome::TimedOut)));
    CHECK_EQUAL(Verdict::Retry, classify(answered(408)));
    CHECK_EQUAL(Verdict::Retry, classify(answered(429)));
    CHECK_EQUAL(Verdict::Retry, classify(answered(500)));
    CHECK_EQUAL(Verdict::Retry, classify(answered(502)));
    CHECK_EQUAL(Verdict::Retry, classify(answered(503)));
    CHECK_EQUAL(Verdict::Retry, classify(answered(599)));
}

TEST(Classify, OtherStatusesAreRejected)
{
    CHECK_EQUAL(Verdict::Rejected, classify(answered(400)));
    CHECK_EQUAL(Verdict::Rejected, classify(answered(401)));
    CHECK_EQUAL(Verdict::Rejected, classify(answered(403)));
    CHECK_EQUAL(Verdict::Rejected, classify(answered(404)));
    CHECK_EQUAL(Verdict::Rejected, classify(answered(413)));
    CHECK_EQUAL(Verdict::Rejected, classify(answered(301)));
    CHECK_EQUAL(Verdict::Rejected, classify(answered(302)));
}

// -- isolation: a failing endpoint or one bad hit never holds up the rest -------------

TEST(Dispatcher, AFailingEndpointNeverHoldsUpAnotherOnTheSameThread)
{
    const std::string bad = "http://down.test/111";
    const std::string good = "http://up.test/111";
    server->respond = [bad](const OutboundRequest& r, std::size_t, const std::atomic<bool>*) {
        if (r.url.compare(0, bad.size(), bad) == 0) {
            std::this_thread::sleep_for(milliseconds(20));
            return failed(OutboundResponse::Outcome::TimedOut);
        }
        return answered(200);
    };
    DispatcherOptions o = fast_options(1);
    o.backoff_base = milliseconds(200);  // the down endpoint is tried again only now and then
    o.backoff_cap = milliseconds(200);
    start(o);
    dispatcher->enqueue(hit(bad, "wt?down=0"));
    for (int i = 0; i < 30; ++i) {
        dispatcher->enqueue(hit(good, "wt?up=" + std::to_string(i)));
        dispatcher->enqueue(hit(bad, "wt?down=" + std::to_string(i + 1)));
    }
    CHECK(wait_until([&] { return metrics().delivered.load() == 30; }));
    std::size_t down_attempts = 0;
    for (const OutboundRequest& r : server->snapshot())
        if (r.url.compare(0, bad.size(), bad) == 0) ++down_attempts;
    // The down endpoint was tried once by the delivery thread; its other hits
    // waited without an attempt while the 30 good ones went out.
    CHECK_TEXT(down_attempts <= 3, std::to_string(down_attempts).c_str());
    stop();
}

TEST(Dispatcher, AHitThatCannotBeMadeIntoARequestIsDroppedNotRetried)
{
    server->respond = [](const OutboundRequest& r, std::size_t, const std::atomic<bool>*) {
        return r.url.find(' ') != std::string::npos ? failed(OutboundResponse::Outcome::Invalid) : answered(200);
    };
    start(fast_options(1));
    dispatcher->enqueue(hit(kEndpoint, "wt?p=300,a b&eor=1"));
    dispatcher->enqueue(hit(kEndpoint, kLine1));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));
    std::this_thread::sleep_for(milliseconds(30));
    CHECK_EQUAL(1u, metrics().invalid.load());
    CHECK_EQUAL(static_cast<std::size_t>(2), server->count());
    CHECK_EQUAL(0u, metrics().retries.load());
    stop();
}

TEST(Dispatcher, ARefusedBatchIsSplitSoOneBadHitCostsOnlyItself)
{
    server->respond = [](const OutboundRequest& r, std::size_t, const std::atomic<bool>*) {
        return r.body.find("bad") != std::string::npos ? answered(400) : answered(200);
    };
    start(fast_options(1));
    dispatcher->enqueue(hit(kEndpoint, "wt?first=1&eor=1", "", 4, 0));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));
    for (const char* line : {"wt?a=1&eor=1", "wt?bad=1&eor=1", "wt?c=1&eor=1", "wt?d=1&eor=1"})
        dispatcher->enqueue(hit(kEndpoint, line, "", 4, 500));
    CHECK(wait_until([&] { return metrics().delivered.load() == 4 && metrics().rejected.load() == 1; }));
    std::string delivered;
    for (const OutboundRequest& r : server->snapshot())
        if (r.body.find("bad") == std::string::npos) delivered += r.body + "|";
    CHECK_TEXT(delivered.find("a=1") != std::string::npos && delivered.find("c=1") != std::string::npos &&
                   delivered.find("d=1") != std::string::npos,
               delivered.c_str());
    stop();
}

TEST(Dispatcher, ARefusedBatchOfAnEndpointThatNeverDeliveredIsNotSplit)
{
    server->respond = [](const OutboundRequest&, std::size_t, const std::atomic<bool>*) {
        return answered(404);  // a wrong track ID: splitting would only multiply requests
    };
    start(fast_options(1));
    for (int i = 0; i < 8; ++i)
        dispatcher->enqueue(hit(kEndpoint, "wt?n=" + std::to_string(i), "", 8, 500));
    CHECK(wait_until([&] { return metrics().rejected.load() == 8; }));
    CHECK_EQUAL(static_cast<std::size_t>(1), server->count());
    stop();
}

TEST(Dispatcher, AHitThatAlwaysFailsDoesNotHoldUpTheOthersForGood)
{
    server->respond = [](const OutboundRequest& r, std::size_t, const std::atomic<bool>*) {
        return r.url.find("poison") != std::string::npos ? answered(503) : answered(200);
    };
    start(fast_options(1));
    dispatcher->enqueue(hit(kEndpoint, "wt?poison=1&eor=1"));
    for (int i = 0; i < 5; ++i) dispatcher->enqueue(hit(kEndpoint, "wt?good=" + std::to_string(i)));
    CHECK(wait_until([&] { return metrics().delivered.load() == 5; }));
    CHECK(wait_until([&] { return metrics().failed.load() == 1; }));
    stop();
}

TEST(Dispatcher, AnUnresolvableHostIsGivenUpWhileAnotherEndpointDelivers)
{
    const std::string nowhere = "http://nowhere.invalid/111";
    server->respond = [nowhere](const OutboundRequest& r, std::size_t, const std::atomic<bool>*) {
        return r.url.compare(0, nowhere.size(), nowhere) == 0 ? failed(OutboundResponse::Outcome::Unresolvable)
                                                              : answered(200);
    };
    DispatcherOptions o = fast_options(1);
    o.retries = 1000;  // only giving up ends it
    o.give_up_unresolvable = milliseconds(100);
    start(o);
    for (int i = 0; i < 40; ++i) {
        dispatcher->enqueue(hit(nowhere, "wt?n=" + std::to_string(i)));
        dispatcher->enqueue(hit(kEndpoint, "wt?ok=" + std::to_string(i)));
        std::this_thread::sleep_for(milliseconds(5));
    }
    CHECK(wait_until([&] { return metrics().delivered.load() == 40; }));
    CHECK(wait_until([&] { return metrics().given_up.load() > 0; }));
    bool logged = false;
    {
        std::lock_guard<std::mutex> lock(log.mutex);
        for (const std::string& m : log.messages) logged = logged || m.find("MT0108") != std::string::npos;
    }
    CHECK(logged);
    stop();
}

// -- spool replay: records resolved against the configuration, endpoint by endpoint ----

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "mapptrack/spool.h"

namespace {

struct TempSpool {
    std::string dir;
    mapptrack::Spool* spool = nullptr;
    TempSpool()
    {
        char tmpl[] = "/tmp/mapptrack-dispatcher-XXXXXX";
        dir = mkdtemp(tmpl);
        chmod(dir.c_str(), 0700);
        mapptrack::SpoolOptions o;
        o.dir = dir;
        o.max_bytes = 1 << 20;
        std::string error;
        spool = mapptrack::Spool::open(o, Logger{}, &error).release();
    }
    ~TempSpool()
    {
        delete spool;
        std::string cmd = "rm -rf '" + dir + "'";
        if (std::system(cmd.c_str()) != 0) {
        }
    }
};

const char* const kLineA = "wt?p=300,a,0,0,0,0,1700000000001,0&X-WT-UA=a&X-WT-IP=1.2.3.4&X-WT-RQ=u&eor=1";
const char* const kLineB = "wt?p=300,b,0,0,0,0,1700000000002,0&X-WT-UA=a&X-WT-IP=1.2.3.4&X-WT-RQ=u&eor=1";

}  // namespace

TEST(Dispatcher, ReplayedRecordsForAnEndpointTheConfigurationDoesNotUseAreNeverSent)
{
    TempSpool temp;
    CHECK(temp.spool != nullptr);
    const std::string planted = "http://evil.test/111";
    temp.spool->append({hit(planted, kLineA), hit(kEndpoint, kLineB)});
    temp.spool->seal();
    DispatcherOptions o = fast_options(1);
    o.spool = temp.spool;
    o.resolve = [](std::string_view endpoint) -> std::optional<mapptrack::DeliveryOptions> {
        if (endpoint != kEndpoint) return std::nullopt;
        mapptrack::DeliveryOptions options;
        options.batch_size = 1;
        options.timeout_ms = 777;
        return options;
    };
    start(o);
    CHECK(wait_until([&] { return metrics().delivered.load() == 1 && metrics().invalid.load() == 1; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(1), requests.size());
    STRCMP_EQUAL((std::string(kEndpoint) + "/" + kLineB).c_str(), requests[0].url.c_str());
    CHECK_EQUAL(777u, requests[0].timeout_ms);  // from the configuration, not the record
    stop();
}

TEST(Dispatcher, InASpooledSegmentAFailingEndpointsRecordsWaitWhileTheOthersGoOn)
{
    TempSpool temp;
    CHECK(temp.spool != nullptr);
    const std::string down = "http://down.test/111";
    std::vector<Delivery> records;
    for (int i = 0; i < 6; ++i) {
        records.push_back(hit(down, "wt?p=300,down" + std::to_string(i) + "&eor=1"));
        records.push_back(hit(kEndpoint, "wt?p=300,up" + std::to_string(i) + "&eor=1"));
    }
    temp.spool->append(records);
    temp.spool->seal();
    server->respond = [down](const OutboundRequest& r, std::size_t, const std::atomic<bool>*) {
        return r.url.compare(0, down.size(), down) == 0 ? answered(503) : answered(200);
    };
    DispatcherOptions o = fast_options(1);
    o.spool = temp.spool;
    o.backoff_base = milliseconds(100);
    o.backoff_cap = milliseconds(100);
    o.resolve = [](std::string_view) -> std::optional<mapptrack::DeliveryOptions> {
        mapptrack::DeliveryOptions options;
        options.batch_size = 1;
        return options;
    };
    start(o);
    CHECK(wait_until([&] { return metrics().delivered.load() == 6; }));
    // The down endpoint's first record was tried, the rest of its records waited.
    std::size_t down_attempts = 0;
    for (const OutboundRequest& r : server->snapshot())
        if (r.url.compare(0, down.size(), down) == 0) ++down_attempts;
    CHECK_TEXT(down_attempts <= 3, std::to_string(down_attempts).c_str());
    stop();
}

// A replayed segment goes out as several batches; when the middle one fails,
// the first is not sent again and the rest of the segment (the failed batch
// and every one after it) waits and is delivered later, once each, in order.
TEST(Dispatcher, AReplayWhoseMiddleBatchFailsKeepsTheRestOfTheSegment)
{
    TempSpool temp;
    CHECK(temp.spool != nullptr);
    std::vector<Delivery> records;
    for (int i = 0; i < 30; ++i) records.push_back(hit(kEndpoint, "wt?p=300,r" + std::to_string(i) + "&eor=1"));
    temp.spool->append(records);
    temp.spool->seal();
    server->respond = [](const OutboundRequest&, std::size_t index, const std::atomic<bool>*) {
        return index == 1 ? answered(503) : answered(200);
    };
    DispatcherOptions o = fast_options(1);
    o.spool = temp.spool;
    o.backoff_base = milliseconds(50);
    o.backoff_cap = milliseconds(50);
    o.resolve = [](std::string_view) -> std::optional<mapptrack::DeliveryOptions> {
        mapptrack::DeliveryOptions options;
        options.batch_size = 10;
        return options;
    };
    start(o);
    CHECK(wait_until([&] { return metrics().delivered.load() == 30; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_TEXT(requests.size() >= 4, std::to_string(requests.size()).c_str());
    std::vector<std::string> delivered;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        if (i == 1) continue;  // the failed one
        std::string_view body = requests[i].body;
        while (!body.empty()) {
            const std::size_t nl = body.find('\n');
            delivered.emplace_back(body.substr(0, nl));
            body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
        }
    }
    CHECK_EQUAL(records.size(), delivered.size());  // each once: nothing lost, nothing sent twice
    for (std::size_t i = 0; i < records.size(); ++i) STRCMP_EQUAL(records[i].line.c_str(), delivered[i].c_str());
    CHECK_EQUAL(records[10].line, requests[1].body.substr(0, records[10].line.size()));  // the middle batch failed
    stop();
    CHECK_EQUAL(0u, temp.spool->own_bytes());
}

// A track server slower than MappTrackTimeout: each timed-out attempt may
// have been counted, so a hit is sent at most twice, and the second attempt
// waits longer than the first.
TEST(Dispatcher, AHitThatTimedOutAfterBeingSentIsSentAtMostTwice)
{
    server->respond = [](const OutboundRequest&, std::size_t, const std::atomic<bool>*) {
        OutboundResponse r = failed(OutboundResponse::Outcome::TimedOut);
        r.maybe_received = true;
        return r;
    };
    start(fast_options(1));
    CHECK_EQUAL(DeliveryQueue::PushResult::Queued,
                dispatcher->enqueue(hit(kEndpoint, kLine1, "", 1, 0, 300)));
    CHECK(wait_until([&] { return metrics().not_resent.load() == 1; }));
    std::this_thread::sleep_for(milliseconds(100));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(2), requests.size());
    CHECK_EQUAL(300u, requests[0].timeout_ms);
    CHECK_EQUAL(600u, requests[1].timeout_ms);
    bool logged = false;
    {
        std::lock_guard<std::mutex> lock(log.mutex);
        for (const std::string& m : log.messages)
            if (m.rfind("MT0111: 1 hit(s) for ", 0) == 0) logged = true;
    }
    CHECK(logged);
    stop();
}

TEST(Dispatcher, AHitThatNeverReachedTheTrackServerIsRetriedAsOften)
{
    server->respond = [](const OutboundRequest&, std::size_t index, const std::atomic<bool>*) {
        return index < 4 ? failed(OutboundResponse::Outcome::ConnectFailed) : answered(200);
    };
    start(fast_options(1));
    dispatcher->enqueue(hit(kEndpoint, kLine1));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));
    CHECK_EQUAL(5u, server->count());
    CHECK_EQUAL(0u, metrics().not_resent.load());
    stop();
}

TEST(Dispatcher, OneTimeoutThenAnAnswerDeliversTheHitOnce)
{
    server->respond = [](const OutboundRequest&, std::size_t index, const std::atomic<bool>*) {
        if (index > 0) return answered(200);
        OutboundResponse r = failed(OutboundResponse::Outcome::TimedOut);
        r.maybe_received = true;
        return r;
    };
    start(fast_options(1));
    dispatcher->enqueue(hit(kEndpoint, kLine1, "", 1, 0, 300));
    CHECK(wait_until([&] { return metrics().delivered.load() == 1; }));
    std::vector<OutboundRequest> requests = server->snapshot();
    CHECK_EQUAL(static_cast<std::size_t>(2), requests.size());
    CHECK_EQUAL(600u, requests[1].timeout_ms);
    CHECK_EQUAL(1u, metrics().delivered.load());
    CHECK_EQUAL(0u, metrics().not_resent.load());
    stop();
}

// MappTrackQueueSize bounds the child's hits over all threads, whichever
// thread a visitor's hits take.
TEST(Dispatcher, QueueSizeIsTheTotalOverAllThreads)
{
    server->respond = [s = server.get()](const OutboundRequest&, std::size_t, const std::atomic<bool>* abort) {
        while (!s->release.load() && !(abort && abort->load()))
            std::this_thread::sleep_for(milliseconds(1));
        return answered(200);
    };
    DispatcherOptions o = fast_options(2);
    o.queue_capacity = 4;
    start(o);
    // Both threads are held by the track server with one hit each.
    Delivery a = hit(kEndpoint, "wt?a");
    a.visitor = 0;
    Delivery b = hit(kEndpoint, "wt?b");
    b.visitor = 1;
    dispatcher->enqueue(std::move(a));
    dispatcher->enqueue(std::move(b));
    CHECK(wait_until([&] { return server->count() == 2; }));
    // One visitor may use the whole queue…
    for (int i = 0; i < 4; ++i) {
        Delivery d = hit(kEndpoint, "wt?v" + std::to_string(i));
        d.visitor = 7;
        CHECK_EQUAL(DeliveryQueue::PushResult::Queued, dispatcher->enqueue(std::move(d)));
    }
    // …and then it is full for everyone.
    Delivery other = hit(kEndpoint, "wt?w");
    other.visitor = 8;
    CHECK_EQUAL(DeliveryQueue::PushResult::Full, dispatcher->enqueue(std::move(other)));
    CHECK_EQUAL(static_cast<std::size_t>(4), dispatcher->queued_now());
    server->release = true;
    CHECK(wait_until([&] { return metrics().delivered.load() == 6; }));
    stop();
}
