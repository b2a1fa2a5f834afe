// The pixel relay's routing, body limits and answer filters (relay.h, docs/design.md §8):
// never an open relay, never the track server's markup, redirects or cookies as the site's own.
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

TEST_GROUP(RelayBase){};

namespace {
RelayRoute route_bases(const char* path, const char* query, const std::vector<std::string>& bases) {
    return route_relay_request(path, query, kIds, bases);
}
}  // namespace

TEST(RelayBase, LocationAppliesLikeHttpdPrefixRule)
{
    CHECK_TRUE(location_applies("/analytics", "/analytics"));
    CHECK_TRUE(location_applies("/analytics", "/analytics/111/wt"));
    CHECK_TRUE(location_applies("/analytics/", "/analytics/111/wt"));
    CHECK_TRUE(location_applies("/", "/analytics/111/wt"));
    CHECK_FALSE(location_applies("/analytics", "/analyticsX/111/wt"));
    CHECK_FALSE(location_applies("/analytics", "/analytics;x=1/111/wt"));
    CHECK_FALSE(location_applies("/analytics/", "/analytics"));
    CHECK_FALSE(location_applies("/Analytics", "/analytics/111/wt"));
    CHECK_FALSE(location_applies("/analytics", "/other/111/wt"));
}

TEST(RelayBase, LocationMatchBaseIsTheMatchFromThePathStartAtASegmentBoundary)
{
    const std::string uri = "/stats/111/wt";
    STRCMP_EQUAL("/stats", relay_base_from_match(uri, 0, 6).value_or("?").c_str());
    STRCMP_EQUAL("/stats", relay_base_from_match(uri, 0, 7).value_or("?").c_str());  // "^/stats/"
    STRCMP_EQUAL("", relay_base_from_match(uri, 0, 0).value_or("?").c_str());        // "^"
    STRCMP_EQUAL("/stats/111/wt", relay_base_from_match(uri, 0, uri.size()).value_or("?").c_str());
    CHECK_FALSE(relay_base_from_match(uri, 0, 4));                  // "^/sta": inside a segment
    CHECK_FALSE(relay_base_from_match(uri, 10, 13));                // "/wt$": not from the start
    CHECK_FALSE(relay_base_from_match("/statsX/111/wt", 0, 6));     // "^/stats" within "/statsX"
    CHECK_FALSE(relay_base_from_match(uri, 0, uri.size() + 1));
    CHECK_FALSE(relay_base_from_match("", 0, 0));
}

TEST(RelayBase, TheBaseNeverWidensWhatIsRelayed)
{
    const std::vector<std::string> bases = {"/analytics"};
    LONGS_EQUAL(0, route_bases("/analytics/111/wt", "p=1", bases).status);
    STRCMP_EQUAL("/analytics", route_bases("/analytics/111/wt", "p=1", bases).base.c_str());
    LONGS_EQUAL(404, route_bases("/other/111/wt", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("/analytics/x/111/wt", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("/analytics//111/wt", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("//analytics/111/wt", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("/analytics/111;x/wt", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("/analytics/111/wt;x", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("/analytics;x/111/wt", "p=1", bases).status);
    LONGS_EQUAL(400, route_bases("/analytics/x/../111/wt", "p=1", bases).status);
    LONGS_EQUAL(400, route_bases("/analytics/111%2fwt", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("/analytics/999/wt", "p=1", bases).status);
    LONGS_EQUAL(404, route_bases("/analytics/111/wt", "p=1", {}).status);
}

TEST(RelayBase, EachBaseIsTriedInnermostFirst)
{
    const std::vector<std::string> bases = {"/analytics/v2", "/analytics"};
    RelayRoute r = route_bases("/analytics/v2/111/wt", "p=1", bases);
    LONGS_EQUAL(0, r.status);
    STRCMP_EQUAL("/analytics/v2", r.base.c_str());
    r = route_bases("/analytics/111/wt", "p=1", bases);
    LONGS_EQUAL(0, r.status);
    STRCMP_EQUAL("/analytics", r.base.c_str());
    r = route_bases("/analytics/v2", "p=1", bases);
    LONGS_EQUAL(0, r.status);
    CHECK_TRUE(r.server_form);
    STRCMP_EQUAL("/analytics/v2", r.base.c_str());
    // the refusal of the innermost base, when none relays
    r = route_bases("/analytics/v2/999/wt", "p=1", bases);
    LONGS_EQUAL(404, r.status);
    STRCMP_CONTAINS("999", r.reason.c_str());
}

TEST(RelayBase, RootLocationRelaysDirectlyUnderTheSiteRoot)
{
    const std::vector<std::string> bases = {"/"};
    LONGS_EQUAL(0, route_bases("/111/wt", "p=1", bases).status);
    CHECK_TRUE(route_bases("/", "p=1", bases).server_form);
    LONGS_EQUAL(404, route_bases("/index.html", "p=1", bases).status);
}

TEST_GROUP(RelayAnswer){};

TEST(RelayAnswer, FallbackGifIsThe43ByteTransparentGif)
{
    LONGS_EQUAL(43, transparent_gif().size());
    STRCMP_EQUAL("GIF89a", std::string(transparent_gif().substr(0, 6)).c_str());
}

TEST_GROUP(RelayBody){};

namespace {
RelayBody split(std::string_view body, std::size_t max_lines = 100, std::size_t max_body = 256 * 1024) {
    RelayLimits limits;
    limits.max_lines = max_lines;
    limits.max_body = max_body;
    return split_relay_body(body, limits);
}
}  // namespace

TEST(RelayBody, GoodLinesAreKeptInOrderAndBadOnesCounted)
{
    const RelayBody b = split("wt?p=1&eor=1\r\n\n../../../private/admin?cmd=1\nwt?p=300,a b&eor=1\n"
                              "http://evil/x\n?p=2&eor=1\n");
    LONGS_EQUAL(0, b.status);
    LONGS_EQUAL(2, b.lines.size());
    STRCMP_EQUAL("p=1&eor=1", b.lines[0].query.c_str());
    STRCMP_EQUAL("wt", b.lines[1].rest.c_str());
    STRCMP_EQUAL("p=2&eor=1", b.lines[1].query.c_str());
    LONGS_EQUAL(3, b.refused);
}

TEST(RelayBody, MoreLinesThanAllowedIs413WithNothingKept)
{
    std::string body;
    for (int i = 0; i < 4; ++i) body += "wt?p=" + std::to_string(i) + "\n";
    LONGS_EQUAL(0, split(body, 4).status);
    body += "wt?p=5\n";
    const RelayBody b = split(body, 4);
    LONGS_EQUAL(413, b.status);
    CHECK_TRUE(b.lines.empty());
}

TEST(RelayBody, JunkLinesCountTowardsTheLineLimit)
{
    std::string body;
    for (int i = 0; i < 1000; ++i) body += "a\n";
    LONGS_EQUAL(413, split(body).status);
}

TEST(RelayBody, EmptyLinesDoNotCount)
{
    LONGS_EQUAL(0, split("\n\n\r\nwt?p=1\n\n\n", 1).status);
}

TEST(RelayBody, MoreBytesThanAllowedIs413)
{
    const std::string body = "wt?p=" + std::string(100, 'a');
    LONGS_EQUAL(0, split(body, 100, body.size()).status);
    LONGS_EQUAL(413, split(body, 100, body.size() - 1).status);
}

TEST(RelayBody, NoValidLineIs400)
{
    LONGS_EQUAL(400, split("").status);
    LONGS_EQUAL(400, split("\n\n").status);
    LONGS_EQUAL(400, split("hello\n../x?y\n").status);
}

TEST_GROUP(RelaySetCookie){};

namespace {
// As on an HTTPS site, unless told otherwise.
std::string relayed(std::string_view cookie, std::string_view domain = "", bool https = true) {
    const std::optional<std::string> out = relay_set_cookie(cookie, domain, https);
    return out ? *out : std::string("(not relayed)");
}
}  // namespace

TEST(RelaySetCookie, MappCookieKeepsItsAttributesWithDomainReplacedOrRemoved)
{
    STRCMP_EQUAL("wteid_1=4; Path=/; Max-Age=9; Secure; SameSite=None",
                 relayed("wteid_1=4; Domain=.webtrekk.net; Path=/; Max-Age=9; Secure; SameSite=None").c_str());
    STRCMP_EQUAL("wteid_1=4; Path=/; Domain=example.com",
                 relayed("wteid_1=4; domain=.webtrekk.net; Path=/", "example.com").c_str());
    STRCMP_EQUAL("wt_rla=1; Path=/; Expires=Wed, 01 Jan 2031 00:00:00 GMT; HttpOnly",
                 relayed("wt_rla=1; expires=Wed, 01 Jan 2031 00:00:00 GMT; httponly").c_str());
    STRCMP_EQUAL("webtrekkOptOut=1; Path=/; SameSite=Lax", relayed("webtrekkOptOut=1; samesite=lax").c_str());
    STRCMP_EQUAL("miCookieOptOut=; Path=/; Max-Age=0", relayed("miCookieOptOut=; Max-Age=0").c_str());
}

TEST(RelaySetCookie, OnAPlainHttpSiteSecureIsDroppedSoTheBrowserKeepsTheCookie)
{
    STRCMP_EQUAL("wteid_1=4; Path=/; Max-Age=9",
                 relayed("wteid_1=4; Domain=.webtrekk.net; Path=/; Max-Age=9; Secure", "", false).c_str());
    STRCMP_EQUAL("wteid_1=4; Path=/; Max-Age=9; Secure",
                 relayed("wteid_1=4; Domain=.webtrekk.net; Path=/; Max-Age=9; Secure", "", true).c_str());
    STRCMP_EQUAL("wtx=1; Path=/; HttpOnly", relayed("wtx=1; secure; HttpOnly; SECURE", "", false).c_str());
}

TEST(RelaySetCookie, OnAPlainHttpSiteSameSiteNoneBecomesLaxAsNoneNeedsSecure)
{
    STRCMP_EQUAL("wteid_1=4; Path=/; Max-Age=9; SameSite=Lax",
                 relayed("wteid_1=4; Path=/; Max-Age=9; Secure; SameSite=None", "", false).c_str());
    STRCMP_EQUAL("wteid_1=4; Path=/; Secure; SameSite=None",
                 relayed("wteid_1=4; Secure; SameSite=none", "", true).c_str());
    STRCMP_EQUAL("wtx=1; Path=/; SameSite=Strict", relayed("wtx=1; SameSite=Strict", "", false).c_str());
    STRCMP_EQUAL("wtx=1; Path=/; SameSite=Lax", relayed("wtx=1; SameSite=Lax", "", false).c_str());
}

TEST(RelaySetCookie, TheNameOfASetCookieValue)
{
    STRCMP_EQUAL("wteid_1", std::string(set_cookie_name("wteid_1=4; Path=/")).c_str());
    STRCMP_EQUAL("wteid_1", std::string(set_cookie_name(" wteid_1 =4")).c_str());
    STRCMP_EQUAL("", std::string(set_cookie_name("noequals; a=b")).c_str());
    STRCMP_EQUAL("", std::string(set_cookie_name("")).c_str());
}

TEST(RelaySetCookie, SiteCookieNamesAreNotRelayed)
{
    STRCMP_EQUAL("(not relayed)", relayed("sessionid=attacker; Path=/").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("PHPSESSID=x").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("=wt").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("wt x=1").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("noequals").c_str());
}

TEST(RelaySetCookie, PathIsAlwaysTheRoot)
{
    STRCMP_EQUAL("wtx=1; Path=/", relayed("wtx=1; Path=/admin").c_str());
    STRCMP_EQUAL("wtx=1; Path=/", relayed("wtx=1").c_str());
}

TEST(RelaySetCookie, ValueWithBadCharactersIsNotRelayed)
{
    STRCMP_EQUAL("(not relayed)", relayed("wtx=a b").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("wtx=a,b").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("wtx=a\\b").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("wtx=a\"b").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("wtx=\xc3\xa4").c_str());
    STRCMP_EQUAL("wtx=\"ab\"; Path=/", relayed("wtx=\"ab\"").c_str());
}

TEST(RelaySetCookie, BareCrOrLfAnywhereIsNotRelayed)
{
    STRCMP_EQUAL("(not relayed)", relayed("wtx=a\rb").c_str());
    STRCMP_EQUAL("(not relayed)", relayed("wtx=a; Max-Age=1\r\nX-Evil: 1").c_str());
    STRCMP_EQUAL("(not relayed)", relayed(std::string_view("wtx=a\0b", 7)).c_str());
}

TEST(RelaySetCookie, UnknownOrMalformedAttributesAreDropped)
{
    STRCMP_EQUAL("wtx=1; Path=/", relayed("wtx=1; Max-Age=-1; Max-Age=1e9; Priority=High; Partitioned").c_str());
    STRCMP_EQUAL("wtx=1; Path=/", relayed("wtx=1; SameSite=Evil; Expires=<script>; Secure=1").c_str());
    STRCMP_EQUAL("wtx=1; Path=/; Max-Age=5", relayed("wtx=1; Max-Age=5; Max-Age=7").c_str());
}

TEST_GROUP(RelayContentType){};

TEST(RelayContentType, ImagesPlainTextAndJsonAreRelayed)
{
    for (const char* type : {"image/gif", "IMAGE/PNG", "image/webp", "text/plain", "text/plain; charset=utf-8",
                             "application/json", "Application/JSON;charset=UTF-8", "application/ld+json",
                             " application/problem+json "}) {
        CHECK_TEXT(is_relayable_content_type(type), type);
    }
}

TEST(RelayContentType, MarkupScriptAndSvgAreNot)
{
    for (const char* type : {"text/html", "TEXT/HTML; charset=utf-8", "application/javascript", "text/javascript",
                             "image/svg+xml", "application/xhtml+xml", "text/xml", "application/octet-stream",
                             "", "image", "image/", "/json", "text/plain/html", "application/json5",
                             "application/+json", "multipart/x-mixed-replace"}) {
        CHECK_FALSE_TEXT(is_relayable_content_type(type), type);
    }
}

TEST_GROUP(RelayRedirect){};

TEST(RelayRedirect, TheSiteAndTheTrackDomainAreAllowed)
{
    CHECK_TRUE(is_allowed_redirect("https://www.example.com/privacy?optout=done", "www.example.com", "t.example"));
    CHECK_TRUE(is_allowed_redirect("http://WWW.EXAMPLE.COM:8080/x", "www.example.com", "t.example"));
    CHECK_TRUE(is_allowed_redirect("https://t.example/optout.php", "www.example.com", "t.example"));
    CHECK_TRUE(is_allowed_redirect("https://[::1]:8443/x", "::1", "t.example"));
    CHECK_TRUE(is_allowed_redirect("/privacy", "www.example.com", "t.example"));
    CHECK_TRUE(is_allowed_redirect("/", "www.example.com", "t.example"));
    CHECK_TRUE(is_allowed_redirect("https://www.example.com", "www.example.com", "t.example"));
}

TEST(RelayRedirect, OtherHostsAndTrickyFormsAreRefused)
{
    for (const char* location : {"https://evil.example/", "//evil.example/", "/\\evil.example/",
                                 "https://www.example.com@evil.example/", "https://www.example.com.evil.example/",
                                 "javascript:alert(1)", "data:text/html,x", "ftp://www.example.com/",
                                 "https://evil.example\\@www.example.com/", "privacy", "",
                                 "https://www.example.com/\r\nSet-Cookie: x=1", "https:///www.example.com",
                                 "https://www.example.com:80x/", "https://evil.example#@www.example.com",
                                 "https://www.example.com/ x", "https://[::1/"}) {
        CHECK_FALSE_TEXT(is_allowed_redirect(location, "www.example.com", "t.example"), location);
    }
    CHECK_FALSE(is_allowed_redirect("https:///x", "", ""));
}
