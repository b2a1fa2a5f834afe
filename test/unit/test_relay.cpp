// The pixel relay's routing and rewriting (relay.h, design §7): never an open relay.
#include <string>
#include <vector>

#include "mapptrack/relay.h"

#include <CppUTest/TestHarness.h>

using namespace mapptrack;

namespace {
const std::vector<std::string> kIds = {"111", "222"};

RelayRoute route(const char* path, const char* query = "") {
    return route_relay_request(path, query, kIds, "/analytics");
}
}  // namespace

TEST_GROUP(RelayRoute){};

TEST(RelayRoute, ConfiguredIdsAndAPixelEndpointAreRelayed)
{
    for (const char* rest : {"wt", "wtx3k9_a", "wt.pl", "batch", "cc", "optout", "optout.php", "hm"}) {
        const RelayRoute r = route((std::string("/analytics/111,222/") + rest).c_str(), "p=1");
        LONGS_EQUAL(0, r.status);
        STRCMP_EQUAL("111,222", r.ids.c_str());
        STRCMP_EQUAL(rest, r.rest.c_str());
        CHECK_FALSE(r.server_form);
    }
}

TEST(RelayRoute, UnknownTrackIdIs404)
{
    LONGS_EQUAL(404, route("/analytics/111,999/wt", "p=1").status);
    LONGS_EQUAL(404, route("/analytics/999/wt", "p=1").status);
}

TEST(RelayRoute, SendViaServerFormGetsTheConfiguredIds)
{
    const RelayRoute r = route("/analytics", "p=600,page");
    LONGS_EQUAL(0, r.status);
    CHECK_TRUE(r.server_form);
    STRCMP_EQUAL("111,222", r.ids.c_str());
    STRCMP_EQUAL("wt", r.rest.c_str());
    LONGS_EQUAL(0, route("/analytics/", "x=1&p=600").status);
    LONGS_EQUAL(404, route("/analytics", "x=1").status);
}

TEST(RelayRoute, OnlyExactlyIdsAndRestDirectlyUnderTheLocation)
{
    LONGS_EQUAL(404, route("/analytics/a/111/wt", "p=1").status);
    LONGS_EQUAL(404, route("/analytics/111/wt/more", "p=1").status);
    LONGS_EQUAL(404, route("/analytics/111", "p=1").status);
    LONGS_EQUAL(404, route("/analytics/111/admin", "p=1").status);
    LONGS_EQUAL(404, route("/analyticsX/111/wt", "p=1").status);
    LONGS_EQUAL(404, route("/elsewhere/111/wt", "p=1").status);
    LONGS_EQUAL(404, route("/analytics/static/x.js", "p=1").status);
}

TEST(RelayRoute, HostileTargetsAreRefusedWith400)
{
    LONGS_EQUAL(400, route("http://evil.example/analytics/111/wt").status);
    LONGS_EQUAL(400, route("/analytics/999/../111/wt").status);
    LONGS_EQUAL(400, route("/analytics/./111/wt").status);
    LONGS_EQUAL(400, route("/analytics/111%2fwt").status);
    LONGS_EQUAL(400, route("/analytics/%2e%2e/111/wt").status);
    LONGS_EQUAL(400, route("/analytics/user@evil/111/wt").status);
    LONGS_EQUAL(400, route("/analytics/111\\wt").status);
    LONGS_EQUAL(400, route("/analytics/111/wt\r\nX: y").status);
    LONGS_EQUAL(400, route("/analytics/111/wt", "p=1\r\nX-Injected: 1").status);
}

TEST(RelayRoute, OverlongRequestIs414)
{
    const std::string query = "p=" + std::string(kRelayMaxUri, 'a');
    LONGS_EQUAL(414, route("/analytics/111/wt", query.c_str()).status);
}

TEST_GROUP(RelayRewrite){};

TEST(RelayRewrite, BrowserClaimsOfIpAndAgentAreStripped)
{
    STRCMP_EQUAL("p=1&eor=1", strip_client_claims("p=1&X-WT-IP=6.6.6.6&x-wt-ua=evil&eor=1").c_str());
    STRCMP_EQUAL("p=1", strip_client_claims("X-WT-%49P=6.6.6.6&p=1").c_str());
}

TEST(RelayRewrite, CookieDomainIsReplacedOrRemoved)
{
    STRCMP_EQUAL("wteid_1=4; Path=/; Max-Age=9",
                 rewrite_cookie_domain("wteid_1=4; Domain=.webtrekk.net; Path=/; Max-Age=9", "").c_str());
    STRCMP_EQUAL("wteid_1=4; Path=/; Domain=example.com",
                 rewrite_cookie_domain("wteid_1=4; domain=.webtrekk.net; Path=/", "example.com").c_str());
}

TEST(RelayRewrite, QueuedLineGetsTheRealClientBeforeEor)
{
    STRCMP_EQUAL("wt?p=1&X-WT-UA=Mozilla%2F5.0&X-WT-IP=192.0.2.1&eor=1",
                 add_client_to_line("wt?p=1&X-WT-IP=6.6.6.6&eor=1", "Mozilla/5.0", "192.0.2.1").c_str());
    STRCMP_EQUAL("wt?p=1&X-WT-UA=a&X-WT-IP=b", add_client_to_line("wt?p=1", "a", "b").c_str());
}

TEST(RelayRewrite, FallbackGifIsThe43ByteTransparentGif)
{
    LONGS_EQUAL(43, transparent_gif().size());
    STRCMP_EQUAL("GIF89a", std::string(transparent_gif().substr(0, 6)).c_str());
}
