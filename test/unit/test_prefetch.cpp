// Prefetch and prerender requests (prefetch.h) are recognised from any of
// the headers browsers use, and nothing else is.
#include "mapptrack/prefetch.h"

#include <CppUTest/TestHarness.h>

using mapptrack::is_prefetch;

TEST_GROUP(Prefetch){};

TEST(Prefetch, NoHeadersIsANormalRequest)
{
    CHECK_FALSE(is_prefetch("", "", ""));
}

TEST(Prefetch, SecPurposePrefetchAndItsVariants)
{
    CHECK(is_prefetch("prefetch", "", ""));
    CHECK(is_prefetch("prefetch;prerender", "", ""));
    CHECK(is_prefetch("prefetch; prerender", "", ""));
    CHECK(is_prefetch("prefetch;anonymous-client-ip", "", ""));
    CHECK(is_prefetch(" prefetch ", "", ""));
    CHECK(is_prefetch("other, prefetch", "", ""));
}

TEST(Prefetch, TokensAreCaseInsensitive)
{
    CHECK(is_prefetch("Prefetch", "", ""));
    CHECK(is_prefetch("", "PREFETCH", ""));
    CHECK(is_prefetch("", "", "Prefetch"));
}

TEST(Prefetch, LegacyPurposeAndXMozHeaders)
{
    CHECK(is_prefetch("", "prefetch", ""));
    CHECK(is_prefetch("", "", "prefetch"));
}

TEST(Prefetch, BarePrerenderCountsToo)
{
    CHECK(is_prefetch("prerender", "", ""));
}

TEST(Prefetch, OtherValuesAreNormalRequests)
{
    CHECK_FALSE(is_prefetch("prefetchx", "", ""));
    CHECK_FALSE(is_prefetch("xprefetch", "", ""));
    CHECK_FALSE(is_prefetch("\"prefetch\"", "", ""));
    CHECK_FALSE(is_prefetch("anonymous-client-ip;prefetch", "", ""));  // prefetch as a parameter only
    CHECK_FALSE(is_prefetch("pre fetch", "", ""));
    CHECK_FALSE(is_prefetch("", "preview", ""));
    CHECK_FALSE(is_prefetch("", "", "x"));
    CHECK_FALSE(is_prefetch(",;,", ";", ","));
}
