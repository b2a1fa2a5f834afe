// How hits are batched (batch.h): the 1 MiB body limit at its edge, which
// hits may share a request, and the request a batch or a single hit becomes.
#include "mapptrack/batch.h"

#include <string>
#include <vector>

#include <CppUTest/TestHarness.h>

using namespace mapptrack;

namespace {

Delivery hit(const std::string& line, unsigned batch_size = 50, const std::string& endpoint = "https://t.example/1")
{
    Delivery d;
    d.endpoint = endpoint;
    d.line = line;
    d.cookies = "wteid_1=2170000000000000001";
    d.options.batch_size = batch_size;
    d.options.timeout_ms = 1234;
    d.options.proxy = "http://proxy:3128";
    return d;
}

}  // namespace

TEST_GROUP(Batch){};

TEST(Batch, TheBodyStaysUnderOneMebibyte)
{
    CHECK(fits_in_batch(0, kMaxBatchBody * 2, true));  // the first line always joins
    CHECK(fits_in_batch(100, kMaxBatchBody - 102, false));  // 100 + '\n' + rest = limit - 1
    CHECK_FALSE(fits_in_batch(100, kMaxBatchBody - 101, false));  // = limit
    CHECK_EQUAL(10u, body_with(0, 10, true));
    CHECK_EQUAL(21u, body_with(10, 10, false));
}

TEST(Batch, OnlyHitsOfOneEndpointProxyAndBatchSettingShareARequest)
{
    const Delivery a = hit("wt?a");
    CHECK(may_share_request(a, hit("wt?b")));
    CHECK_FALSE(may_share_request(a, hit("wt?b", 50, "https://t.example/2")));
    CHECK_FALSE(may_share_request(a, hit("wt?b", 10)));
    Delivery other = hit("wt?b");
    other.options.proxy = "";
    CHECK_FALSE(may_share_request(a, other));
    other = hit("wt?b");
    other.options.batch_delay_ms = 5000;
    CHECK_FALSE(may_share_request(a, other));
}

TEST(Batch, AHitOfABatchSizeOneSiteIsASingleGetWithItsCookies)
{
    const OutboundRequest r = build_request({hit("wt?p=1&eor=1", 1)});
    CHECK_FALSE(r.post);
    STRCMP_EQUAL("https://t.example/1/wt?p=1&eor=1", r.url.c_str());
    CHECK_EQUAL(1u, r.headers.size());
    STRCMP_EQUAL("Cookie: wteid_1=2170000000000000001", r.headers[0].c_str());
    CHECK_EQUAL(1234u, r.timeout_ms);
    STRCMP_EQUAL("http://proxy:3128", r.proxy.c_str());
    // single_request is the same GET whatever the batch size (sync mode).
    STRCMP_EQUAL(r.url.c_str(), single_request(hit("wt?p=1&eor=1", 50)).url.c_str());
}

TEST(Batch, ABatchIsAPostOfLinesJoinedByNewlinesWithoutCookies)
{
    const OutboundRequest r = build_request({hit("wt?a"), hit("wt?b"), hit("wt?c")});
    CHECK(r.post);
    STRCMP_EQUAL("https://t.example/1/batch", r.url.c_str());
    STRCMP_EQUAL("wt?a\nwt?b\nwt?c", r.body.c_str());
    CHECK_EQUAL(1u, r.headers.size());
    STRCMP_EQUAL("Content-Type: text/plain", r.headers[0].c_str());
    // One hit of a batching site is still a batch of one (no cookies in a batch).
    const OutboundRequest one = build_request({hit("wt?a")});
    CHECK(one.post);
    STRCMP_EQUAL("wt?a", one.body.c_str());
}

TEST(Batch, OnlyASingleGetOfAKnownVisitorCarriesCookies)
{
    CHECK(carries_cookies(1, false));
    CHECK_FALSE(carries_cookies(50, false));       // a batch holds several visitors' lines
    CHECK(carries_cookies(50, false, true));       // sync mode sends the hit alone
    CHECK_FALSE(carries_cookies(1, true));         // anonymous: never
    CHECK_FALSE(carries_cookies(50, true, true));
}

TEST(Batch, AVisitorsHitsShareOneHashByEverIdElseByIpAndAgent)
{
    CHECK_EQUAL(visitor_hash("2170000000000000001", "1.2.3.4", "a"),
                visitor_hash("2170000000000000001", "5.6.7.8", "b"));
    CHECK_EQUAL(visitor_hash("", "1.2.3.4", "a"), visitor_hash("", "1.2.3.4", "a"));
    CHECK(visitor_hash("", "1.2.3.4", "a") != visitor_hash("", "1.2.3.4", "b"));
    // The separator keeps "1.2.3.4" + "5a" apart from "1.2.3.45" + "a".
    CHECK(visitor_hash("", "1.2.3.4", "5a") != visitor_hash("", "1.2.3.45", "a"));
}
