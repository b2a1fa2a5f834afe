// Per-endpoint failure state (endpoint_health.h): one endpoint's failures
// never mark another as failing; backoff grows and resets; an unresolvable
// host is only given up while other endpoints deliver.
#include <chrono>

#include "mapptrack/endpoint_health.h"

#include <CppUTest/TestHarness.h>

using mapptrack::EndpointHealth;
using mapptrack::EndpointHealthOptions;
using Outcome = mapptrack::OutboundResponse::Outcome;
using std::chrono::milliseconds;

namespace {
EndpointHealthOptions options()
{
    EndpointHealthOptions o;
    o.backoff_base = milliseconds(100);
    o.backoff_cap = milliseconds(1000);
    o.give_up_unresolvable = milliseconds(5000);
    return o;
}
const char* const kA = "http://a.test/111";
const char* const kB = "http://b.test/111";
}  // namespace

TEST_GROUP(EndpointHealth){};

TEST(EndpointHealth, AFailingEndpointDoesNotMarkAnotherAsFailing)
{
    EndpointHealth h(options());
    h.on_failed(kA, Outcome::ConnectFailed, 1000);
    CHECK(h.failing(kA));
    CHECK_FALSE(h.failing(kB));
    CHECK(h.due(kB, 1000));
}

TEST(EndpointHealth, BackoffDoublesWithJitterUpToTheCapAndResetsOnDelivery)
{
    EndpointHealth h(options());
    long previous_min = 0;
    for (unsigned failure = 1; failure <= 8; ++failure) {
        h.on_failed(kA, Outcome::TimedOut, 0);
        const long delay = static_cast<long>(h.next_due_ms());
        long full = 100L << (failure - 1);
        if (full > 1000) full = 1000;
        CHECK_TEXT(delay >= full / 2 && delay <= full, std::to_string(delay).c_str());
        CHECK(delay >= previous_min);
        previous_min = full / 2;
        CHECK_FALSE(h.due(kA, delay - 1));
        CHECK(h.due(kA, delay));
    }
    h.on_delivered(kA, 10);
    CHECK_FALSE(h.failing(kA));
    CHECK(h.due(kA, 0));
    LONGS_EQUAL(1, h.on_failed(kA, Outcome::TimedOut, 20));
}

TEST(EndpointHealth, NextDueIsTheEarliestFailingEndpoint)
{
    EndpointHealth h(options());
    CHECK(h.next_due_ms() > 1000000000000LL);
    h.on_failed(kA, Outcome::ConnectFailed, 5000);
    h.on_failed(kB, Outcome::ConnectFailed, 1000);
    CHECK(h.next_due_ms() <= 1100);
}

TEST(EndpointHealth, UnresolvableHostIsGivenUpOnlyWhileOthersDeliver)
{
    EndpointHealth h(options());
    h.on_failed(kA, Outcome::Unresolvable, 1000);
    h.on_failed(kA, Outcome::Unresolvable, 7000);
    CHECK_FALSE_TEXT(h.given_up(kA, 7000), "no other endpoint delivered: maybe the server's own DNS");
    h.on_delivered(kB, 2000);
    CHECK_FALSE_TEXT(h.given_up(kA, 5999), "not yet long enough");
    CHECK(h.given_up(kA, 6000));
    CHECK_FALSE(h.given_up(kB, 6000));
}

TEST(EndpointHealth, ResolvingAgainOrOtherFailuresResetTheUnresolvableClock)
{
    EndpointHealth h(options());
    h.on_delivered(kB, 500);
    h.on_failed(kA, Outcome::Unresolvable, 1000);
    h.on_failed(kA, Outcome::ConnectFailed, 2000);  // it resolved, the connect failed
    h.on_delivered(kB, 3000);
    CHECK_FALSE(h.given_up(kA, 100000));
    h.on_failed(kA, Outcome::Unresolvable, 4000);
    h.on_delivered(kA, 4500);
    CHECK_FALSE(h.given_up(kA, 100000));
}

TEST(EndpointHealth, EverDeliveredIsPerEndpoint)
{
    EndpointHealth h(options());
    CHECK_FALSE(h.ever_delivered(kA));
    h.on_delivered(kA, 1);
    h.on_failed(kA, Outcome::TimedOut, 2);
    CHECK(h.ever_delivered(kA));
    CHECK_FALSE(h.ever_delivered(kB));
}

TEST(EndpointHealth, ManyHealthyEndpointsAreForgottenFailingOnesKept)
{
    EndpointHealth h(options());
    h.on_failed(kA, Outcome::TimedOut, 1);
    for (int i = 0; i < 10000; ++i) h.on_delivered("http://t.test/" + std::to_string(i), 2);
    CHECK(h.failing(kA));
}

TEST(EndpointHealth, ASlowEndpointGetsLongerAttemptsUntilItAnswersQuicklyAgain)
{
    EndpointHealth h(options());
    CHECK_EQUAL(300u, h.attempt_timeout_ms(kA, 300));
    h.on_timed_out(kA, 300);
    CHECK_EQUAL(600u, h.attempt_timeout_ms(kA, 300));
    h.on_timed_out(kA, 600);
    CHECK_EQUAL(1200u, h.attempt_timeout_ms(kA, 300));
    // An answer in 700 ms of 1200: still slow, the longer wait stays.
    h.on_answered(kA, 700, 1200);
    CHECK_EQUAL(1200u, h.attempt_timeout_ms(kA, 300));
    // Quick answers bring it back down, never below the configured one.
    h.on_answered(kA, 10, 1200);
    CHECK_EQUAL(600u, h.attempt_timeout_ms(kA, 300));
    h.on_answered(kA, 10, 600);
    h.on_answered(kA, 10, 300);
    CHECK_EQUAL(300u, h.attempt_timeout_ms(kA, 300));
    // Bounded.
    for (int i = 0; i < 20; ++i)
        h.on_timed_out(kA, h.attempt_timeout_ms(kA, 300));
    CHECK_EQUAL(EndpointHealth::kMaxAttemptTimeoutMs, h.attempt_timeout_ms(kA, 300));
}
